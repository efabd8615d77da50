#!/usr/bin/env bash
# The first command for a newcomer: set up what is missing (scripts/setup.sh), then run
# `jqbench demo`: Redis, two fake llama-servers, Celery workers and Docker scoring, ending in
# result files under results/. Extra arguments go to `jqbench demo` (e.g. --iterations 1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/jqbench demo "$@"
