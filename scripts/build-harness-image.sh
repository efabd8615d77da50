#!/usr/bin/env bash
# Build the harness image (jqbench, Celery, Flower) from the repository root, as
# `docker compose build` does: docker/harness.Dockerfile installs from the package index,
# pinned by constraints.txt.
#
#   scripts/build-harness-image.sh [IMAGE] [--base BASE_IMAGE] [--wheels DIR]
#   scripts/build-harness-image.sh --offline    # no registry, no index in the build
#
# --wheels DIR: install with --no-index from DIR, a folder of wheels inside the repository
# (e.g. build/wheels). --offline runs scripts/build-offline-images.sh: a debootstrap base and
# wheels made on this host, for the harness, Redis and the sandbox. IMAGE: jqbench:latest.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
image="jqbench:latest"
build_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --offline) exec "$here/scripts/build-offline-images.sh" ;;
        --base) build_args+=(--build-arg "BASE_IMAGE=$2"); shift 2 ;;
        --wheels) build_args+=(--build-arg "WHEELS=$2"); shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        -*) echo "error: unknown option $1" >&2; exit 2 ;;
        *) image="$1"; shift ;;
    esac
done
cd "$here"
# BuildKit where the buildx plugin is installed; the classic builder elsewhere
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
docker build --quiet -f docker/harness.Dockerfile "${build_args[@]}" -t "$image" . >/dev/null
docker image inspect --format '{{.Id}}' "$image"
