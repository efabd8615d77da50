#!/bin/sh
# Flower for jqbench: refuses to start without basic auth (FLOWER_BASIC_AUTH=user:password,
# several separated by commas) unless JQ_FLOWER_NO_AUTH=1 says so on purpose; its HTTP API
# then answers without credentials too. Further options come from FLOWER_* variables.
set -eu
if [ -z "${FLOWER_BASIC_AUTH:-}" ]; then
    if [ "${JQ_FLOWER_NO_AUTH:-}" != 1 ]; then
        echo "jqbench-flower: error: set FLOWER_BASIC_AUTH=user:password (or JQ_FLOWER_NO_AUTH=1" \
             "to run Flower without authentication)" >&2
        exit 2
    fi
    echo "jqbench-flower: warning: no authentication (JQ_FLOWER_NO_AUTH=1)" >&2
    export FLOWER_UNAUTHENTICATED_API=true
fi
exec celery -A worker.app flower --port="${FLOWER_PORT:-5555}" "$@"
