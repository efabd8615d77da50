#!/usr/bin/env bash
# The test command: set up what is missing (scripts/setup.sh), then run the whole suite with
# real Redis, Celery workers and Docker. Extra arguments go to pytest (e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
