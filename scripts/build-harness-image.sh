#!/usr/bin/env bash
# Build the harness image (jqbench, Celery, Flower) from wheels made on this host.
#
#   scripts/build-harness-image.sh [IMAGE] [--base BASE_IMAGE]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
image="jqbench:latest"
build_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --base) build_args+=(--build-arg "BASE_IMAGE=$2"); shift 2 ;;
        -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
        *) image="$1"; shift ;;
    esac
done
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$here/docker/harness.Dockerfile" "$here/constraints.txt" "$context/"
echo "building wheels of jqbench[flower] and its dependencies (pinned by constraints.txt)"
python3 -m pip wheel --quiet -w "$context/wheels" -c "$here/constraints.txt" "$here[flower]"
DOCKER_BUILDKIT=0 docker build --quiet -f "$context/harness.Dockerfile" "${build_args[@]}" \
    -t "$image" "$context" >/dev/null
docker image inspect --format '{{.Id}}' "$image"
