"""The context check of generate units, over real HTTP against the fake llama-server and a
real Redis: the prompt is counted by the server's own template and tokenizer; one that cannot
fit is never asked, one the server cut is never scored (both our configuration's error,
`InfraStage.CONTEXT`), and a model's first unit warns when chained prompts may outgrow the
context."""

from collections.abc import Iterator

import pytest

from challenge.levels import Level
from challenge.prompts import build_prompt
from fakellm import FakeLlamaServer, canned_answers
from fakellm.generation import count_prompt_tokens
from orchestrator.planning import build_run
from tests.recording import RecordingDispatcher
from worker.config import ModelConfig
from worker.generate import generate_unit
from worker.llm import LlmClient
from worker.records import AttemptStatus, EndpointFacts, GenOutcome, InfraStage
from worker.services import Services
from worker.settings import Settings
from worker.store import RecordStore
from worker.unit import Unit

pytestmark = pytest.mark.redis

MAX_TOKENS = 500


def prompt_tokens(level: Level) -> int:
    """What the fake's template and tokenizer make of a level's bare prompt."""
    return count_prompt_tokens([{"role": "user", "content": build_prompt(level, None)}])


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FakeLlamaServer]:
    with FakeLlamaServer(canned_answers("reference"), n_ctx=request.param) as fake:
        yield fake


@pytest.fixture
def clients() -> Iterator[list[LlmClient]]:
    made: list[LlmClient] = []
    yield made
    for client in made:
        client.close()


def services(redis_url: str, server: FakeLlamaServer, levels: list[Level],
             n_ctx: int | None, clients: list[LlmClient]) -> Services:
    config = ModelConfig(base_url=server.base_url, max_tokens=MAX_TOKENS)
    client = LlmClient(config, "m", None)
    clients.append(client)
    run = build_run("r1", {"m": config}, levels, 1, {}, "img")
    run.endpoints = {"m": EndpointFacts(root_url=server.url, total_slots=1, n_ctx=n_ctx)}
    svc = Services(store=RecordStore.from_url(redis_url), dispatcher=RecordingDispatcher(),
                   settings=Settings(infra_retries=0), host="test",
                   chat_factory=lambda cfg, name: client.chat,
                   counter_factory=lambda cfg, name: client.count_prompt_tokens)
    svc.store.save_run(run)
    return svc


def chats(server: FakeLlamaServer) -> int:
    return sum(r.path.endswith("/chat/completions") for r in server.requests)


SMALL = prompt_tokens(Level.L1) + MAX_TOKENS - 1


@pytest.mark.parametrize("server", [SMALL], indirect=True)
def test_a_prompt_that_leaves_no_room_for_max_tokens_is_never_asked(
    redis_url: str, server: FakeLlamaServer, clients: list[LlmClient]
) -> None:
    svc = services(redis_url, server, [Level.L1], SMALL, clients)
    attempt = generate_unit(svc, Unit("r1", "m", 1, Level.L1))
    assert attempt is not None and attempt.status is AttemptStatus.INFRA_ERROR
    assert attempt.infra_stage is InfraStage.CONTEXT and attempt.gen_outcome is None
    assert attempt.prompt_tokens_counted == prompt_tokens(Level.L1)
    assert f"plus max_tokens ({MAX_TOKENS})" in attempt.error and "-c" in attempt.error
    assert chats(server) == 0
    assert svc.dispatcher.sent == []  # the chain waits for resume


CUTS = prompt_tokens(Level.L4) // 2


@pytest.mark.parametrize("server", [CUTS], indirect=True)
def test_a_prompt_the_server_cut_is_kept_to_read_and_never_scored(
    redis_url: str, server: FakeLlamaServer, clients: list[LlmClient]
) -> None:
    # the context per slot is unknown (a router's /props says none): b4748 cuts silently
    svc = services(redis_url, server, [Level.L4], None, clients)
    attempt = generate_unit(svc, Unit("r1", "m", 1, Level.L4))
    assert attempt is not None and attempt.status is AttemptStatus.INFRA_ERROR
    assert attempt.infra_stage is InfraStage.CONTEXT and attempt.gen_outcome is None
    assert chats(server) == 1 and attempt.answer  # asked, answered, kept
    assert attempt.usage is not None
    assert attempt.usage["prompt_tokens"] < attempt.prompt_tokens_counted == prompt_tokens(
        Level.L4)
    assert "cut the prompt" in attempt.error
    assert svc.dispatcher.sent == []


ROOMY = 20_000
FITS_BARE = max(prompt_tokens(Level.L1), prompt_tokens(Level.L2)) + MAX_TOKENS + 1


@pytest.mark.parametrize("server", [ROOMY], indirect=True)
def test_a_prompt_that_fits_is_asked_and_counted_as_the_server_reports(
    redis_url: str, server: FakeLlamaServer, clients: list[LlmClient]
) -> None:
    svc = services(redis_url, server, [Level.L1, Level.L2], ROOMY, clients)
    attempt = generate_unit(svc, Unit("r1", "m", 1, Level.L1))
    assert attempt is not None and attempt.gen_outcome is GenOutcome.OK
    assert attempt.usage is not None
    assert attempt.prompt_tokens_counted == attempt.usage["prompt_tokens"]
    assert attempt.context_warning is None


@pytest.mark.parametrize("server", [FITS_BARE], indirect=True)
def test_the_first_unit_warns_when_chained_prompts_may_outgrow_the_context(
    redis_url: str, server: FakeLlamaServer, clients: list[LlmClient]
) -> None:
    svc = services(redis_url, server, [Level.L1, Level.L2], FITS_BARE, clients)
    first = generate_unit(svc, Unit("r1", "m", 1, Level.L1))
    assert first is not None and first.gen_outcome is GenOutcome.OK
    assert first.context_warning is not None
    assert f"L2 up to {prompt_tokens(Level.L2) + 2 * MAX_TOKENS}" in first.context_warning
