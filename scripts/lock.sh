#!/usr/bin/env bash
# Regenerate constraints.txt: exact versions of jqbench's whole dependency tree (direct and
# transitive, with the dev and flower extras) for Python 3.11 on Linux, from the ranges in
# pyproject.toml, installed into a temporary venv and frozen.
#
#   scripts/lock.sh            # rewrite constraints.txt, keeping its pins where the ranges allow
#   scripts/lock.sh --upgrade  # resolve from the ranges alone: newest versions they allow
#   scripts/lock.sh --check    # only compare: exit 1 when constraints.txt would change
#
# Without --upgrade the existing pins constrain the install, so the lock changes only where
# pyproject.toml changed (a new dependency gets its newest allowed version, a dropped one goes).
# PYTHON names the interpreter (default python3); it must be Python 3.11.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
check=0
upgrade=0
for arg in "$@"; do
    case "$arg" in
        --check) check=1 ;;
        --upgrade) upgrade=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "lock: error: unknown argument $arg" >&2; exit 2 ;;
    esac
done
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
    || { echo "lock: error: the lock is for Python 3.11; $python is $("$python" --version 2>&1)" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$python" -m venv "$tmp/venv"
pins=()
if [ "$upgrade" = 0 ] && [ -f "$here/constraints.txt" ]; then
    pins=(-c "$here/constraints.txt")
fi
if [ ${#pins[@]} -gt 0 ]; then how="keeping the pins of constraints.txt"; else how="newest allowed"; fi
echo "lock: installing $here[dev,flower] into a fresh venv ($how)" >&2
# env -u: a constraints file named in the environment must not steer the resolution
# Beyond the tree on this Python: what the images need on bookworm's Python 3.11.2 (redis
# asks for async-timeout below 3.11.3) and jqbench's build backend, so that
# scripts/build-offline-images.sh pins them too.
env -u PIP_CONSTRAINT "$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "$here[dev,flower]" "async-timeout>=4.0.3" "setuptools>=68" "${pins[@]}" || {
    [ ${#pins[@]} -gt 0 ] && echo "lock: error: no install fits both pyproject.toml and the" \
        "pins in constraints.txt; run scripts/lock.sh --upgrade" >&2
    exit 1
}
{
    cat <<'EOF'
# Exact versions of jqbench's whole dependency tree (direct and transitive, extras dev and
# flower) for Python 3.11 on Linux. Generated from the ranges in pyproject.toml by
# scripts/lock.sh; do not edit by hand. To regenerate, e.g. after changing pyproject.toml:
#   bash scripts/lock.sh             (keeps these pins where the ranges allow)
#   bash scripts/lock.sh --upgrade   (the newest versions the ranges allow)
# Installs use it as constraints: pip install -e ".[dev]" -c constraints.txt
# Also pinned: async-timeout and setuptools, which the images need (bookworm's Python 3.11.2).
EOF
    "$tmp/venv/bin/python" -m pip freeze --disable-pip-version-check --all \
        --exclude jqbench --exclude pip --exclude wheel
} >"$tmp/constraints.txt"

if [ "$check" = 1 ]; then
    if diff -u "$here/constraints.txt" "$tmp/constraints.txt"; then
        echo "lock: constraints.txt is up to date" >&2
    else
        echo "lock: constraints.txt would change (run scripts/lock.sh$([ "$upgrade" = 1 ] && echo " --upgrade"))" >&2
        exit 1
    fi
else
    cp "$tmp/constraints.txt" "$here/constraints.txt"
    echo "lock: wrote $here/constraints.txt ($(grep -vc '^#' "$here/constraints.txt") packages)" >&2
fi
