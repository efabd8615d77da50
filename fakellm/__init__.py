"""A fake llama.cpp llama-server for tests, the demo and benchmarks.

It speaks llama-server's HTTP dialect (docs/llama-server.md) on loopback, answering the Job
Queue Challenge levels with canned answers (`challenge.answers`). In process:
`with FakeLlamaServer(canned_answers("reference"), slots=2) as server: ... server.base_url`;
as a process: `python -m fakellm --port 0` (see `cli.py`).

Modules, one job each:
- `__main__.py`: `python -m fakellm`, which runs `cli.main`.
- `cli.py`: command-line options (server group, model group) and the serve-until-signal loop.
- `server.py`: `FakeLlamaServer`: binding, the serving thread, start/stop, the request log.
- `handler.py`: HTTP plumbing: reads requests, writes JSON and SSE answers, drops connections.
- `routes.py`: the loading gate and which endpoint answers a method and path.
- `responder.py`: the `Responder` interface the endpoints answer through (the handler's).
- `chat.py`: POST /v1/chat/completions: slot queue, faults, simulated time, the answer.
- `model.py`: `ModelSpec` (a model's options) and `ModelServer` (its live state: loading,
  slots, request numbering), apart from HTTP.
- `dialect.py`: `Dialect`: what differs between llama-server builds (b4748, late-2025).
- `protocol.py`: the request side: parsing a chat request, llama-server's error answers.
- `payloads.py`: the JSON bodies llama-server sends, key for key.
- `prompts.py`: a chat's prompt text and which challenge level it asks for.
- `answers.py`: answer sources: per level, canned, made unique per answer (`--vary`).
- `generation.py`: fake tokens, max_tokens cuts, finish reasons, reasoning_content.
- `latency.py`: `LatencyModel`: simulated prompt and generation speed.
- `slots.py`: `SlotPool`: N slots, an unbounded first-come-first-served queue.
- `faults.py`: scripted faults (`FaultPlan`, `FaultRule`, HTTP errors, drops, delays, hangs,
  ...).
- `requestlog.py`: every request received, in memory and optionally as JSON lines.

- `router.py`: router mode (several models behind one endpoint, loaded on demand, at most
  `models_max` at once) and llama-swap's flavour of it; its endpoints are in `routes.py`.
"""

from fakellm.answers import AnswerSource, FakeAnswer, LevelAnswers, VaryingAnswers, canned_answers
from fakellm.faults import (
    Delay,
    Drop,
    EmptyAnswer,
    FaultPlan,
    FaultRule,
    Hang,
    HttpError,
    Truncate,
)
from fakellm.latency import LatencyModel
from fakellm.model import ModelSpec
from fakellm.router import RouterSpec
from fakellm.server import FakeLlamaServer

__all__ = [
    "AnswerSource",
    "Delay",
    "Drop",
    "EmptyAnswer",
    "FakeAnswer",
    "FakeLlamaServer",
    "FaultPlan",
    "FaultRule",
    "Hang",
    "HttpError",
    "LatencyModel",
    "LevelAnswers",
    "ModelSpec",
    "RouterSpec",
    "Truncate",
    "VaryingAnswers",
    "canned_answers",
]
