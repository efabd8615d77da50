#!/usr/bin/env bash
# Build llama.cpp's llama-server (CPU only) for the realserver tests, from the llama.cpp source
# vendored in llama-cpp-python's source distribution, and cache it outside the checkout:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/jqbench/llama-server-<version>/llama-server
#
# A second run finds the cached binary and only prints its path. The path of the binary is
# the last line on stdout (everything else goes to stderr), so
#   JQ_LLAMA_SERVER="$(scripts/build-llama-server.sh)"
# Uncached it downloads the sdist with pip (the only network step), configures with cmake
# (Release, CPU only, no curl/OpenSSL, no web UI download) and builds only the llama-server
# target with -j2: about 4 minutes on 2 cores (225 s measured, the download included).
# As root on Debian it installs cmake, g++ and make when they are missing.
#
# The pin lives here and not in constraints.txt: no Python install uses llama-cpp-python
# (scripts/lock.sh would drop it), and the tests read it from this file
# (tests/realserver/binary.py). llama-cpp-python 0.3.36 vendors llama.cpp 0c1e57098,
# a build with router mode (--models-dir, --models-max).
set -euo pipefail
LLAMA_CPP_PYTHON_VERSION=0.3.36
LLAMA_CPP_COMMIT=0c1e57098
JOBS="${JQ_BUILD_JOBS:-2}"

say() { echo "build-llama-server: $*" >&2; }
die() { echo "build-llama-server: error: $*" >&2; exit 1; }
# shellcheck source=scripts/apt-install-missing.sh
. "$(cd "$(dirname "$0")" && pwd)/apt-install-missing.sh"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/jqbench/llama-server-$LLAMA_CPP_PYTHON_VERSION"
binary="$cache/llama-server"

if [ "${1:-}" = --path ]; then
    echo "$binary"
    exit 0
fi

works() { [ -x "$binary" ] && "$binary" --version >/dev/null 2>&1; }

if works; then
    say "cached: $binary"
    echo "$binary"
    exit 0
fi

need_pkgs=()
command -v cmake >/dev/null || need_pkgs+=(cmake)
command -v g++ >/dev/null || need_pkgs+=(g++)
command -v make >/dev/null || command -v ninja >/dev/null || need_pkgs+=(make)
install_missing "${need_pkgs[@]}"

here="$(cd "$(dirname "$0")/.." && pwd)"
python="$here/.venv/bin/python"
[ -x "$python" ] || python=python3

mkdir -p "$cache"
# one build at a time per version; a second caller waits, then finds the binary
exec 9>"$cache/.lock"
flock 9
if works; then
    say "cached (built meanwhile): $binary"
    echo "$binary"
    exit 0
fi

start=$(date +%s)
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

say "downloading the llama-cpp-python $LLAMA_CPP_PYTHON_VERSION sdist"
"$python" -m pip download --quiet --disable-pip-version-check --no-binary :all: --no-deps \
    -d "$work/dist" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" >&2
sdist="$(ls "$work"/dist/llama_cpp_python-*.tar.gz 2>/dev/null | head -1)"
[ -n "$sdist" ] || die "pip downloaded no sdist of llama-cpp-python $LLAMA_CPP_PYTHON_VERSION"

say "unpacking its vendored llama.cpp"
tar -xzf "$sdist" -C "$work" --wildcards '*/vendor/llama.cpp/*'
src="$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)"
[ -f "$src/CMakeLists.txt" ] || die "no vendor/llama.cpp in $sdist"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
say "configuring (Release, CPU only)"
cmake -S "$src" -B "$work/build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_BUILD_COMMIT="$LLAMA_CPP_COMMIT" \
    -DGGML_NATIVE=OFF \
    -DGGML_OPENMP=OFF \
    -DGGML_CCACHE=OFF \
    -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF \
    >"$work/configure.log" 2>&1 || { tail -40 "$work/configure.log" >&2; die "cmake configure failed"; }

say "building llama-server with -j$JOBS"
cmake --build "$work/build" --config Release --target llama-server -j "$JOBS" \
    >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; die "the build failed"; }

built="$work/build/bin/llama-server"
[ -x "$built" ] || die "the build made no $built"
cp "$built" "$binary.tmp"
mv -f "$binary.tmp" "$binary"
"$binary" --version >"$cache/version.txt" 2>&1 || die "the built binary does not run: $(cat "$cache/version.txt")"
say "built in $(( $(date +%s) - start )) s: $(grep -m1 -i version "$cache/version.txt" || true)"
echo "$binary"
