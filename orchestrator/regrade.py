"""Regrading: score a run's stored answers again, without calling any model.

Uses the same scoring function as the score workers (`worker.scorer.score_answer`) and keeps
each attempt's earlier scores, with their scoring version, in `previous_scores`.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from challenge.levels import Level
from worker.records import Attempt, Run, utc_now
from worker.sandbox import LABEL_RUN, Sandbox, sandbox_limits
from worker.scorer import score_answer
from worker.settings import Settings
from worker.store import RecordStore
from worker.versions import scoring_version


@dataclass(frozen=True)
class Change:
    model: str
    iteration: int
    level: Level
    profile: str
    before: float | None
    after: float | None


def regradable(attempt: Attempt) -> bool:
    """Attempts whose answer exists: generated, scored, or failed at scoring only."""
    return not attempt.failed_at_generate


def regrade_attempt(attempt: Attempt, sandbox: Sandbox, settings: Settings) -> list[Change]:
    before = dict(attempt.scores)
    if attempt.scoring_version is not None:
        attempt.previous_scores.append({
            "scoring_version": attempt.scoring_version,
            "scores": before,
            "scored_at": attempt.score_finished_at.isoformat()
            if attempt.score_finished_at else None,
        })
    attempt.score_started_at = utc_now()
    report = score_answer(attempt.answer, attempt.level, sandbox, sandbox_limits(settings),
                          labels={LABEL_RUN: attempt.run_id})
    attempt.record_scoring(report, scoring_version())
    attempt.score_finished_at = utc_now()
    return [
        Change(attempt.model, attempt.iteration, attempt.level, profile, before.get(profile),
               attempt.scores.get(profile))
        for profile in sorted(set(before) | set(attempt.scores))
        if before.get(profile) != attempt.scores.get(profile)
    ]


def regrade_run(
    store: RecordStore,
    run: Run,
    sandbox_factory: Callable[[], Sandbox],
    settings: Settings,
    *,
    parallel: int | None = None,
    on_done: Callable[[Attempt], None] | None = None,
) -> list[Change]:
    """Rescore every regradable attempt, at most `parallel` sandboxes at once (default: the
    host's sandbox cap)."""
    attempts = [a for a in store.get_attempts(run).values() if regradable(a)]

    def one(attempt: Attempt) -> list[Change]:
        changes = regrade_attempt(attempt, sandbox_factory(), settings)
        store.save_attempt(attempt)
        if on_done:
            on_done(attempt)
        return changes

    with ThreadPoolExecutor(max_workers=parallel or settings.effective_sandbox_slots) as pool:
        results = list(pool.map(one, attempts))
    changes = [change for group in results for change in group]
    return sorted(changes, key=lambda c: (c.model, c.iteration, c.level.value, c.profile))
