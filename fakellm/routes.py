"""Which endpoint answers a request: the hang and loading gates, then dispatch by method and
path.

Router mode's endpoints (`GET /models` with each model's status, `POST /models/load`,
`POST /models/unload`) and llama-swap's (`/running`, `/unload`) belong here; choosing the
`ModelServer` a chat request is for happens in `_chat`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from fakellm.chat import HANG_POLL_S, serve_chat
from fakellm.dialect import Dialect
from fakellm.generation import render_template, token_id, tokenize
from fakellm.payloads import (
    health_body,
    models_body,
    props_body,
    router_models_body,
    router_props_body,
)
from fakellm.protocol import (
    ApiError,
    invalid_api_key_error,
    loading_error,
    not_found_error,
    not_supported_error,
    parse_chat_request,
    unknown_model_error,
)
from fakellm.requestlog import RequestRecord
from fakellm.responder import Responder, send_error
from fakellm.router import LOADED

if TYPE_CHECKING:
    from fakellm.router import Router
    from fakellm.server import FakeLlamaServer

CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
HEALTH_PATHS = frozenset({"/health", "/v1/health"})
MODELS_PATHS = frozenset({"/models", "/v1/models"})
#: What b4748 answers without an API key when started with `--api-key`.
PUBLIC_PATHS = HEALTH_PATHS | MODELS_PATHS
"""Paths b4748 answers without the API key; newer builds keep only /health open."""


def _public_paths(dialect: Dialect) -> frozenset[str]:
    return HEALTH_PATHS if dialect.models_need_key else PUBLIC_PATHS


def route(
    app: FakeLlamaServer,
    out: Responder,
    record: RequestRecord,
    method: str,
    path: str,
    raw: bytes,
    authorization: str | None = None,
) -> None:
    """Answer one request; `path` is without its query string, `raw` the body,
    `authorization` the request's Authorization header."""
    if app.hanging and not _hang(app, out, record):
        return
    model = app.model
    spec = model.spec
    if model.loading:  # b4748: every endpoint, not only /health
        record.extra["refused_unread"] = model.dialect.leaves_refused_body_unread
        send_error(out, record, loading_error())
    elif (app.api_key is not None and path not in _public_paths(model.dialect)
          and authorization != f"Bearer {app.api_key}"):
        record.extra["refused_unread"] = model.dialect.leaves_refused_body_unread
        send_error(out, record, invalid_api_key_error())
    elif app.router is not None:
        _route_router(app, app.router, out, record, method, path, raw)
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
    elif method == "POST" and path == "/tokenize":
        _tokenize(out, record, raw)
    elif method == "POST" and path == "/apply-template":
        _apply_template(out, record, raw)
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


def _route_router(app: FakeLlamaServer, router: Router, out: Responder, record: RequestRecord,
                  method: str, path: str, raw: bytes) -> None:
    """Router mode (and llama-swap's flavour of it): see `router.py`."""
    swap = router.spec.flavour == "llama-swap"
    if method == "GET" and path in HEALTH_PATHS:
        out.send_json(200, health_body())
    elif method == "GET" and path in MODELS_PATHS:
        statuses = {name: router.status(name) for name in router.spec.models}
        out.send_json(200, router_models_body(statuses, app.model.created))
    elif method == "GET" and path == "/props":
        out.send_json(200, router_props_body(app.model.dialect.build_info))
    elif method == "GET" and path == "/running" and swap:
        out.send_json(200, {"running": [{"model": name, "state": "ready"}
                                        for name in router.loaded()]})
    elif method == "POST" and path == "/unload" and swap:
        router.unload_all()
        out.send_json(200, {"message": "OK"})
    elif method == "GET" and path == "/slots" and not swap:
        _router_slots(router, out, record)
    elif method == "POST" and path in ("/models/load", "/models/unload") and not swap:
        name = _model_field(raw)
        if name not in router.spec.models:
            send_error(out, record, unknown_model_error(name))
        elif path == "/models/load":
            record.extra["model"] = name
            out.send_json(200, {"success": router.model(name) is not None})
        else:
            out.send_json(200, {"success": router.unload(name)})
    elif method == "POST" and path in CHAT_PATHS | {"/tokenize", "/apply-template"}:
        name = _model_field(raw)
        record.extra["model"] = name
        model = router.model(name) if name is not None else None
        if model is None:
            send_error(out, record, unknown_model_error(name))
        elif path == "/tokenize":
            _tokenize(out, record, raw)
        elif path == "/apply-template":
            _apply_template(out, record, raw)
        else:
            try:
                req = parse_chat_request(raw)
            except ApiError as err:
                send_error(out, record, err)
                return
            serve_chat(model, out, record, req)
    else:
        send_error(out, record, not_found_error())


def _router_slots(router: Router, out: Responder, record: RequestRecord) -> None:
    """`GET /slots?model=NAME`: the slots of a loaded model (its own server's answer)."""
    name = parse_qs(urlsplit(record.path).query).get("model", [None])[0]
    record.extra["model"] = name
    if name not in router.spec.models or router.status(name) != LOADED:
        send_error(out, record, unknown_model_error(name))
        return
    spec = router.spec.models[name]
    out.send_json(200, [{"id": n, "id_task": -1, "n_ctx": spec.n_ctx, "is_processing": False}
                        for n in range(spec.slots)])


def _model_field(raw: bytes) -> str | None:
    """The request body's `model` field, if it is a string."""
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    name = body.get("model") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


def _tokenize(out: Responder, record: RequestRecord, raw: bytes) -> None:
    """`{"content": text}` -> `{"tokens": [ids]}` (`"with_pieces": true`: id and piece)."""
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        send_error(out, record, ApiError(500, f"[json.exception.parse_error.101] {exc}",
                                         "server_error"))
        return
    content = body.get("content", "") if isinstance(body, dict) else ""
    pieces = tokenize(content) if isinstance(content, str) else []
    if isinstance(body, dict) and body.get("with_pieces"):
        out.send_json(200, {"tokens": [{"id": token_id(p), "piece": p} for p in pieces]})
    else:
        out.send_json(200, {"tokens": [token_id(p) for p in pieces]})


def _apply_template(out: Responder, record: RequestRecord, raw: bytes) -> None:
    """A chat body -> `{"prompt": the rendered template}`, checked as a chat request is."""
    try:
        req = parse_chat_request(raw)
    except ApiError as err:
        send_error(out, record, err)
        return
    out.send_json(200, {"prompt": render_template(req.messages)})


def _chat(app: FakeLlamaServer, out: Responder, record: RequestRecord, raw: bytes) -> None:
    try:
        req = parse_chat_request(raw)
    except ApiError as err:
        send_error(out, record, err)
        return
    serve_chat(app.model, out, record, req)  # one model: whatever `req.model` says
