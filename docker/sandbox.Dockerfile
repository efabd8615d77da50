# Sandbox image: a bare Python with pytest, in which untrusted candidate code is scored.
# The base image is a build argument so that an offline build can start from a local base
# (scripts/build-sandbox-image.sh --offline builds one with debootstrap).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

# pytest comes from the package index (`docker compose build`, context docker/), or, where a
# build cannot reach one, from WHEELS: a folder of wheels in the build context that
# scripts/build-sandbox-image.sh downloads (--build-arg WHEELS=wheels). A base that already has
# the pinned pytest (Debian's python3-pytest) skips the install; the version check below holds
# for all three.
ARG WHEELS=""
COPY sandbox-requirements.txt ${WHEELS:-sandbox-requirements.txt} /tmp/jq-wheels/
RUN if python3 -c "import pytest" 2>/dev/null; then \
        echo "pytest already in the base image"; \
    elif [ -n "$WHEELS" ]; then \
        python3 -m pip install --no-cache-dir --no-index --find-links /tmp/jq-wheels \
            -r /tmp/jq-wheels/sandbox-requirements.txt; \
    else \
        python3 -m pip install --no-cache-dir -r /tmp/jq-wheels/sandbox-requirements.txt; \
    fi \
    && rm -rf /tmp/jq-wheels \
    && python3 -c "import pytest, sys; v = pytest.__version__; sys.exit(0 if v == '7.2.1' else 'pytest ' + v + ', want 7.2.1')" \
    && command -v timeout && command -v tar

LABEL org.jqbench.role="sandbox"
# A safe default for containers started by hand. The scorer starts each sandbox as uid 0 with
# only CAP_SETUID, CAP_SETGID and CAP_KILL: the in-container launcher runs the trusted runner
# and every candidate under uids of their own (docs/trust-boundary.md).
USER 1000:1000
WORKDIR /tmp
