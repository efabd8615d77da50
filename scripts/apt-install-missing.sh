# Sourced by scripts that need Debian packages (setup.sh, build-llama-server.sh); needs their
# say and die. install_missing PKG...: as root with apt-get, installs them; elsewhere stops
# and names the command that would.
install_missing() {
    [ $# -gt 0 ] || return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing $*"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq "$@" >/dev/null
    else
        die "missing $*: install them (Debian: sudo apt-get install -y $*) and run again"
    fi
}
