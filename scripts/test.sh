#!/usr/bin/env bash
# The test command: set up what is missing (scripts/setup.sh), then run the whole suite with
# real Redis, Celery workers and Docker. Extra arguments go to one pytest run as they are
# (e.g. -m "not slow"). Without arguments the suite runs in two phases: the core, then the
# crash and fault tests (marker chaos) four at a time (pytest-xdist): they mostly wait on
# leases and timeouts, each with its own Redis, workers and run ids.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ $# -gt 0 ]; then
    exec .venv/bin/python -m pytest "$@"
fi
status=0
.venv/bin/python -m pytest -m "not chaos" || status=$?
.venv/bin/python -m pytest -m chaos -n 4 || status=$?
exit $status
