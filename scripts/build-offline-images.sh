#!/usr/bin/env bash
# Build every image the compose stack uses without any registry: one debootstrap base (Debian
# bookworm: python3 3.11, pip, venv, redis-server) for the harness and for Redis, the harness
# image from wheels made on this host (installed with --no-index), and the sandbox image
# (scripts/build-sandbox-image.sh --offline).
#
#   scripts/build-offline-images.sh [--force]
#
# Images are kept between runs: the base and the Redis image are built once; the harness
# image is tagged by a digest of the sources and pins it was built from (jqbench:src-<digest>)
# and rebuilt only when they change; wheels are cached outside the checkout in
# ${XDG_CACHE_HOME:-~/.cache}/jqbench/wheels-<digest of constraints.txt>. --force rebuilds all.
# Prints the names to use, as shell assignments on stdout:
#   JQ_BASE_IMAGE=... JQ_HARNESS_IMAGE=jqbench:src-... JQ_REDIS_IMAGE=... JQ_SANDBOX_IMAGE=...
#   JQ_WHEELS=...   (base and wheels, for a compose build offline: README, "Docker Compose")
# (the harness image is also tagged jqbench:latest, the compose file's default). Needs root
# and debootstrap for the base, and the package index on the host for the wheels (once).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
say() { echo "build-offline-images: $*" >&2; }
die() { echo "build-offline-images: error: $*" >&2; exit 1; }
force=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "build-offline-images: error: unknown argument $arg" >&2; exit 2 ;;
    esac
done
docker info >/dev/null 2>&1 || { echo "build-offline-images: error: no Docker daemon answers" >&2; exit 3; }

base="${JQ_BASE_IMAGE:-jqbench-base:bookworm}"
redis_image="${JQ_REDIS_IMAGE:-jqbench-redis:bookworm}"
sandbox_image="${JQ_SANDBOX_IMAGE:-jqbench-sandbox:latest}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/jqbench"
python="$here/.venv/bin/python"
[ -x "$python" ] || python=python3
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "the wheels are for bookworm's Python 3.11; $python is $("$python" --version 2>&1)"
have() { [ "$force" = 0 ] && docker image inspect "$1" >/dev/null 2>&1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# 1. The base: debootstrap's minimal bookworm with python3, pip, venv and redis-server.
if ! have "$base"; then
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install -y debootstrap)"
    say "debootstrap: a minimal bookworm with python3, pip, venv and redis-server (about a minute)"
    debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,redis-server \
        bookworm "$tmp/rootfs" >"$tmp/debootstrap.log" 2>&1 \
        || { tail -20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -rf "$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/var/lib/apt/lists/"*
    tar -C "$tmp/rootfs" -c . | docker import --change 'CMD ["python3"]' - "$base" >/dev/null
    rm -rf "$tmp/rootfs"
fi

# 2. Redis: the same base (Debian's redis-server); compose gives it its command.
have "$redis_image" || docker tag "$base" "$redis_image"

# 3. Wheels of every locked dependency and of jqbench's build backend, cached by the pins.
pins="$(cat "$here/constraints.txt" "$here/pyproject.toml" | sha256sum | cut -c1-16)"
wheels="$cache/wheels-$pins"
if [ "$force" = 1 ] || [ ! -f "$wheels/.complete" ]; then
    say "making wheels of jqbench[flower]'s dependencies (pinned by constraints.txt) in $wheels"
    rm -rf "$wheels" && mkdir -p "$wheels"
    "$python" -m pip wheel --quiet --disable-pip-version-check -w "$wheels" \
        -c "$here/constraints.txt" "$here[flower]"
    # jqbench's build backend, and what bookworm's Python 3.11.2 needs beyond this host's
    # (redis asks for async-timeout below 3.11.3)
    "$python" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
        -d "$wheels" -c "$here/constraints.txt" setuptools async-timeout
    rm -f "$wheels"/jqbench-*.whl   # jqbench itself is installed from the sources
    touch "$wheels/.complete"
fi

# 4. The harness, from the sources and those wheels; tagged by what it was built from.
sources=(pyproject.toml constraints.txt README.md .dockerignore challenge worker orchestrator fakellm docker)
digest="$(cd "$here" && find "${sources[@]}" -type f -not -path '*/__pycache__/*' -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
harness="jqbench:src-$digest"
if ! have "$harness"; then
    say "building $harness from $base"
    (cd "$here" && cp -r "${sources[@]}" "$tmp/")
    find "$tmp" -name __pycache__ -prune -exec rm -rf {} +
    cp -r "$wheels" "$tmp/wheels"
    DOCKER_BUILDKIT=0 docker build --quiet -f "$tmp/docker/harness.Dockerfile" \
        --build-arg "BASE_IMAGE=$base" --build-arg WHEELS=wheels -t "$harness" "$tmp" >/dev/null \
        || die "docker build of the harness failed"
fi
docker tag "$harness" jqbench:latest
# earlier source builds go (those still used by a container stay)
docker images jqbench --format '{{.Tag}}' | grep '^src-' | grep -vx "src-$digest" \
    | sed 's/^/jqbench:/' | xargs -r docker rmi >/dev/null 2>&1 || true

# 5. The sandbox (its own debootstrap base, with Debian's pytest).
"$here/scripts/build-sandbox-image.sh" --offline "$sandbox_image" >&2

echo "JQ_BASE_IMAGE=$base"
echo "JQ_HARNESS_IMAGE=$harness"
echo "JQ_REDIS_IMAGE=$redis_image"
echo "JQ_SANDBOX_IMAGE=$sandbox_image"
echo "JQ_WHEELS=$wheels"
