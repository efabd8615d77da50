"""A fake llama.cpp llama-server for tests, the demo and benchmarks (see `server.py`)."""

from orchestrator.fakellm.answers import (
    UNKNOWN_ANSWER,
    AnswerSource,
    FakeAnswer,
    FixedAnswer,
    LevelAnswers,
    VaryingAnswers,
    canned_answers,
    detect_level,
)
from orchestrator.fakellm.faults import (
    Delay,
    Drop,
    EmptyAnswer,
    Fault,
    FaultPlan,
    FaultRule,
    HttpError,
    Truncate,
)
from orchestrator.fakellm.latency import LatencyModel
from orchestrator.fakellm.requestlog import RequestRecord
from orchestrator.fakellm.server import FakeLlamaServer

__all__ = [
    "UNKNOWN_ANSWER",
    "AnswerSource",
    "Delay",
    "Drop",
    "EmptyAnswer",
    "FakeAnswer",
    "FakeLlamaServer",
    "Fault",
    "FaultPlan",
    "FaultRule",
    "FixedAnswer",
    "HttpError",
    "LatencyModel",
    "LevelAnswers",
    "RequestRecord",
    "Truncate",
    "VaryingAnswers",
    "canned_answers",
    "detect_level",
]
