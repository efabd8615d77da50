#!/usr/bin/env bash
# The test command: set up what is missing (scripts/setup.sh), then run the whole suite with
# real Redis, Celery workers and Docker. Extra arguments go to one pytest run as they are
# (e.g. -m "not slow"); a llama-server that scripts/build-llama-server.sh built earlier is
# used by the realserver tests they select (without it those skip, or fail under CI=true).
# Without arguments the suite runs in five phases: the core; then the crash and fault tests
# (marker chaos) four at a time (pytest-xdist): they mostly wait on leases and timeouts, each
# with its own Redis, workers and run ids; then report.html in headless Chromium (marker
# browser: the demo run's page, and one of hostile answers); then the Docker Compose stack
# (marker compose: images built offline, the compose demo, Flower, stop and up, two
# projects); then the tests against a real llama-server (marker realserver), after
# scripts/build-llama-server.sh built it (or found it cached).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${JQ_LLAMA_SERVER:-}" ] && [ -x "$(scripts/build-llama-server.sh --path)" ]; then
    JQ_LLAMA_SERVER="$(scripts/build-llama-server.sh --path)"
    export JQ_LLAMA_SERVER
fi
if [ $# -gt 0 ]; then
    exec .venv/bin/python -m pytest "$@"
fi
status=0
.venv/bin/python -m pytest -m "not chaos and not realserver and not browser and not compose" || status=$?
.venv/bin/python -m pytest -m chaos -n 4 || status=$?
.venv/bin/python -m pytest -m browser || status=$?
# the compose stack for real: offline images (kept between runs), the demo profile with
# Flower, a stop and up mid-run, two projects sharing only Redis (tests/compose)
.venv/bin/python -m pytest -m compose || status=$?
if JQ_LLAMA_SERVER="$(scripts/build-llama-server.sh)"; then
    export JQ_LLAMA_SERVER
    .venv/bin/python -m pytest -m realserver || status=$?
else
    echo "test: error: scripts/build-llama-server.sh failed; the realserver tests did not run" >&2
    status=1
fi
exit $status
