"""Which endpoint answers a request: the hang and loading gates, then dispatch by method and
path.

Router mode's endpoints (`GET /models` with each model's status, `POST /models/load`,
`POST /models/unload`) and llama-swap's (`/running`, `/unload`) belong here; choosing the
`ModelServer` a chat request is for happens in `_chat`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakellm.chat import HANG_POLL_S, serve_chat
from fakellm.payloads import health_body, models_body, props_body
from fakellm.protocol import (
    ApiError,
    loading_error,
    not_found_error,
    not_supported_error,
    parse_chat_request,
)
from fakellm.requestlog import RequestRecord
from fakellm.responder import Responder, send_error

if TYPE_CHECKING:
    from fakellm.server import FakeLlamaServer

CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
HEALTH_PATHS = frozenset({"/health", "/v1/health"})
MODELS_PATHS = frozenset({"/models", "/v1/models"})


def route(
    app: FakeLlamaServer,
    out: Responder,
    record: RequestRecord,
    method: str,
    path: str,
    raw: bytes,
) -> None:
    """Answer one request; `path` is without its query string, `raw` the body."""
    if app.hanging and not _hang(app, out, record):
        return
    model = app.model
    spec = model.spec
    if model.loading:  # b4748: every endpoint, not only /health
        send_error(out, record, loading_error())
    elif method == "POST" and path in CHAT_PATHS:
        _chat(app, out, record, raw)
    elif method == "GET" and path in HEALTH_PATHS:
        out.send_json(200, health_body())
    elif method == "GET" and path in MODELS_PATHS:
        out.send_json(200, models_body(spec.alias, model.created))
    elif method == "GET" and path == "/props":
        out.send_json(
            200,
            props_body(
                alias=spec.alias,
                total_slots=spec.slots,
                n_ctx=spec.n_ctx,
                build_info=model.dialect.build_info,
            ),
        )
    elif method == "GET" and path == "/slots":
        send_error(out, record, not_supported_error("slots", "--slots"))
    elif method == "GET" and path == "/metrics":
        send_error(out, record, not_supported_error("metrics", "--metrics"))
    else:
        send_error(out, record, not_found_error())


def _hang(app: FakeLlamaServer, out: Responder, record: RequestRecord) -> bool:
    """Hold a request, unanswered, while the server hangs (`FakeLlamaServer.set_hanging`).

    True once the hang is over (the request is then answered as usual, as a process that was
    stopped and continued would); False when the client went away or the server stopped
    first: the connection is then closed without an answer.
    """
    record.extra["hung"] = True
    while app.hanging:
        if out.client_gone() or not app.model.pause(HANG_POLL_S):
            out.drop(reset=False)
            return False
    return True


def _chat(app: FakeLlamaServer, out: Responder, record: RequestRecord, raw: bytes) -> None:
    try:
        req = parse_chat_request(raw)
    except ApiError as err:
        send_error(out, record, err)
        return
    serve_chat(app.model, out, record, req)  # one model: whatever `req.model` says
