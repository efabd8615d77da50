#!/usr/bin/env bash
# Build the sandbox image (python3 + pytest) that scores candidate code.
#
#   scripts/build-sandbox-image.sh [--offline] [--force] [IMAGE]
#
# Default: build docker/sandbox.Dockerfile from its registry base image.
# --offline: no registry needed; make the base with debootstrap from Debian's packages
#            (needs root and debootstrap) and build the same Dockerfile from it.
# IMAGE defaults to $JQ_SANDBOX_IMAGE or jqbench-sandbox:latest. An existing image is kept
# unless --force is given.
set -euo pipefail

offline=0
force=0
image="${JQ_SANDBOX_IMAGE:-jqbench-sandbox:latest}"
for arg in "$@"; do
    case "$arg" in
        --offline) offline=1 ;;
        --force) force=1 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        -*) echo "error: unknown option $arg" >&2; exit 2 ;;
        *) image="$arg" ;;
    esac
done

here="$(cd "$(dirname "$0")/.." && pwd)"
if ! docker info >/dev/null 2>&1; then
    echo "error: the Docker daemon is not reachable (start dockerd, or check DOCKER_HOST)" >&2
    exit 3
fi
if [ "$force" = 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "sandbox image $image exists (use --force to rebuild)"
    exit 0
fi

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$here/docker/sandbox.Dockerfile" "$here/docker/sandbox-requirements.txt" "$context/"
mkdir "$context/wheels"

build_args=(--build-arg WHEELS=wheels)
if [ "$offline" = 1 ]; then
    base="jqbench-sandbox-base:bookworm"
    if [ "$force" = 1 ] || ! docker image inspect "$base" >/dev/null 2>&1; then
        command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 2; }
        rootfs="$context/rootfs"
        echo "debootstrap: building a minimal bookworm with python3 and pytest (about a minute)"
        debootstrap --variant=minbase --include=python3,python3-pytest bookworm "$rootfs" >"$context/debootstrap.log" 2>&1 \
            || { tail -20 "$context/debootstrap.log" >&2; echo "error: debootstrap failed" >&2; exit 1; }
        tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
        rm -rf "$rootfs"
    fi
    build_args+=(--build-arg "BASE_IMAGE=$base")
else
    echo "downloading pytest wheels into the build context"
    python3 -m pip download --quiet --only-binary=:all: --no-deps -d "$context/wheels" \
        -r "$here/docker/sandbox-requirements.txt"
fi

echo "building $image"
DOCKER_BUILDKIT=0 docker build --quiet -f "$context/sandbox.Dockerfile" "${build_args[@]}" -t "$image" "$context" >/dev/null
docker image inspect --format '{{.Id}}' "$image"
