# Harness image: the jqbench package (orchestrator + Celery workers + Flower).
# Build with scripts/build-harness-image.sh, which puts wheels of jqbench[flower] and its
# dependencies, pinned by constraints.txt, into the build context together with that file:
# pip inside a build may not reach a package index.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

COPY constraints.txt wheels/ /tmp/jq-wheels/
RUN python3 -m pip install --no-cache-dir --no-index --find-links /tmp/jq-wheels \
        -c /tmp/jq-wheels/constraints.txt "jqbench[flower]" \
    && rm -rf /tmp/jq-wheels

WORKDIR /srv/jqbench
ENV PYTHONUNBUFFERED=1
CMD ["python3", "-m", "orchestrator", "--help"]
