# Harness image: the jqbench package (orchestrator, Celery workers, Flower, the fake llama-server).
# Built from the repository root, in two stages:
#
#   docker build -f docker/harness.Dockerfile -t jqbench:latest .           # with an index
#   docker build -f docker/harness.Dockerfile --build-arg WHEELS=wheels .   # offline
#
# The build stage installs jqbench from the source tree into a venv, its dependencies pinned
# by constraints.txt: from the package index by default, or with --no-index from WHEELS, a
# folder of wheels inside the build context (scripts/build-offline-images.sh makes one on the
# host, with jqbench's build backend). BASE_IMAGE is any Debian-like image with python3 (3.11)
# and its venv module: a registry image by default, or a local one (the debootstrap base).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG WHEELS=""
WORKDIR /src
# constraints.txt twice when no WHEELS are given: COPY needs a source that exists.
COPY constraints.txt ${WHEELS:-constraints.txt} /tmp/jq-wheels/
COPY pyproject.toml constraints.txt README.md ./
COPY challenge challenge
COPY worker worker
COPY orchestrator orchestrator
COPY fakellm fakellm
RUN python3 -m venv /opt/jqbench \
    && if [ -n "$WHEELS" ]; then set -- --no-index --find-links /tmp/jq-wheels; else set --; fi \
    && /opt/jqbench/bin/python -m pip install --no-cache-dir --disable-pip-version-check "$@" \
        -c constraints.txt "/src[flower]" \
    && /opt/jqbench/bin/python -c "import worker.app, orchestrator.cli, fakellm, flower"

FROM ${BASE_IMAGE}
COPY --from=build /opt/jqbench /opt/jqbench
COPY docker/flower/start.sh /usr/local/bin/jqbench-flower
COPY docker/flower/health.py /usr/local/lib/jqbench/flower_health.py
COPY docker/wait_for_workers.py /usr/local/lib/jqbench/wait_for_workers.py
ENV PATH=/opt/jqbench/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    REMAP_SIGTERM=SIGQUIT
WORKDIR /srv/jqbench
LABEL org.jqbench.role="harness"
CMD ["jqbench", "--help"]
