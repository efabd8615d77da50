"""The chain rules, pure: which units start a run, what follows what, when a chain waits."""

from challenge.levels import LEVELS, Level
from orchestrator.planning import build_run
from worker import chain
from worker.config import ModelConfig
from worker.records import Attempt, AttemptStatus, GenOutcome, InfraStage, Run
from worker.unit import Stage, Unit


def make_run(levels=LEVELS, iterations: int = 1) -> Run:
    return build_run("r1", {"m": ModelConfig(base_url="http://x/v1")}, levels, iterations, {},
                     "img")


def U(level: Level, iteration: int = 1) -> Unit:
    return Unit("r1", "m", iteration, level)


def attempt(level: Level, status: AttemptStatus, *, answered: bool = True,
            code: str = "") -> Attempt:
    return Attempt(run_id="r1", model="m", iteration=1, level=level, status=status,
                   gen_outcome=GenOutcome.OK if answered else None, handoff_code=code)


def test_first_units_of_a_full_run_and_of_subsets() -> None:
    run = make_run(iterations=2)
    assert chain.first_units(run) == [U(Level.L1), U(Level.L4), U(Level.L5),
                                      U(Level.L1, 2), U(Level.L4, 2), U(Level.L5, 2)]
    assert chain.first_levels(make_run([Level.L1, Level.L3, Level.L5])) == [Level.L1, Level.L5]
    assert chain.first_levels(make_run([Level.L2, Level.L4])) == [Level.L2, Level.L4]


def test_next_link_follows_the_selected_chain() -> None:
    run = make_run()
    assert chain.next_link(run, U(Level.L1)) == U(Level.L2)
    assert chain.next_link(run, U(Level.L3)) is None
    assert chain.next_link(run, U(Level.L4)) is None
    subset = make_run([Level.L1, Level.L3, Level.L5])
    assert chain.next_link(subset, U(Level.L1)) == U(Level.L3)


def test_handoff_takes_the_nearest_earlier_link_with_code() -> None:
    run = make_run()
    records = {U(Level.L1): attempt(Level.L1, AttemptStatus.SCORED, code="one"),
               U(Level.L2): attempt(Level.L2, AttemptStatus.SCORED, code="")}
    source = chain.handoff_source(run, U(Level.L3), records.get)
    assert source is records[U(Level.L1)]
    assert chain.handoff_source(run, U(Level.L1), records.get) is None
    assert chain.handoff_source(run, U(Level.L4), records.get) is None


def test_only_a_failure_before_the_answer_halts_the_chain() -> None:
    assert chain.halts_chain(attempt(Level.L1, AttemptStatus.INFRA_ERROR, answered=False))
    assert chain.halts_chain(attempt(Level.L1, AttemptStatus.RESUMED, answered=False))
    assert not chain.halts_chain(attempt(Level.L1, AttemptStatus.INFRA_ERROR, answered=True))
    assert not chain.halts_chain(attempt(Level.L1, AttemptStatus.GENERATED))


def test_blocked_means_an_earlier_link_failed_and_was_not_resumed() -> None:
    run = make_run()
    failed = attempt(Level.L1, AttemptStatus.INFRA_ERROR, answered=False)
    failed.infra_stage = InfraStage.GENERATE
    records = {U(Level.L1): failed}
    assert chain.is_blocked(run, U(Level.L2), records)
    assert chain.is_blocked(run, U(Level.L3), records)
    assert not chain.is_blocked(run, U(Level.L4), records)
    resumed = failed.model_copy(update={"status": AttemptStatus.RESUMED})
    assert not chain.is_blocked(run, U(Level.L2), {U(Level.L1): resumed})
    score_failed = attempt(Level.L1, AttemptStatus.INFRA_ERROR, answered=True)
    assert not chain.is_blocked(run, U(Level.L2), {U(Level.L1): score_failed})


def test_due_stages_follow_the_records() -> None:
    run = make_run()
    gen, score = Stage.GENERATE, Stage.SCORE
    assert chain.due_stages(run, {}.get) == [(U(Level.L1), gen), (U(Level.L4), gen),
                                             (U(Level.L5), gen)]
    records = {U(Level.L1): attempt(Level.L1, AttemptStatus.SCORED),
               U(Level.L2): attempt(Level.L2, AttemptStatus.GENERATED),
               U(Level.L4): attempt(Level.L4, AttemptStatus.INFRA_ERROR, answered=True),
               U(Level.L5): attempt(Level.L5, AttemptStatus.RESUMED, answered=True)}
    # L2 waits for its score while L3 generates; L4's score waits for resume; L5 resumed
    # after its score failed: scored again, not generated
    assert chain.due_stages(run, records.get) == [(U(Level.L2), score), (U(Level.L3), gen),
                                                  (U(Level.L5), score)]
    halted = {U(Level.L1): attempt(Level.L1, AttemptStatus.INFRA_ERROR, answered=False),
              U(Level.L4): attempt(Level.L4, AttemptStatus.SCORED),
              U(Level.L5): attempt(Level.L5, AttemptStatus.SCORED)}
    assert chain.due_stages(run, halted.get) == []  # the chain waits for resume
    resumed = {**halted, U(Level.L1): attempt(Level.L1, AttemptStatus.RESUMED, answered=False)}
    assert chain.due_stages(run, resumed.get) == [(U(Level.L1), gen)]
