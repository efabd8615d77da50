#!/usr/bin/env bash
# Every bench of the pipeline, one after the other (about 40 minutes on 2 cores), each into
# bench/results/ as JSON and markdown: harness cost, sandbox cost, the pipeline with the
# original's shape measured beside it, and the scaling table. Needs what scripts/setup.sh
# installs (Redis, Docker, the sandbox image); asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python bench/harness_cost.py
.venv/bin/python bench/sandbox_cost.py
.venv/bin/python bench/pipeline.py
.venv/bin/python bench/pipeline.py --scaling
