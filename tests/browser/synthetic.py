"""A small synthetic run whose model texts are hostile markup, for report.html's checks.

Shared by the unit tests (tests/orchestrator/test_report_html.py) and the browser check
(tests/browser/test_report_page.py). Two models, three iterations, all five levels, both
profiles; every prompt, answer, reasoning, extracted file, test message and error holds
`HOSTILE`.
"""

from datetime import UTC, datetime

from challenge.levels import LEVELS, MAX_POINTS, Level, Profile
from challenge.outcomes import TestOutcome
from challenge.points import LevelScore
from orchestrator.report.build import build_report
from orchestrator.report.model import Report
from orchestrator.report.pooling import RunRecords
from orchestrator.report.writing import attempts_by_key
from worker.config import ModelConfig
from worker.records import (
    Attempt,
    AttemptStatus,
    Fingerprint,
    GenOutcome,
    Run,
    RunSpec,
    ScoreReport,
)

SCRIPT_BREAKOUT = "</script><script>window.pwned=1</script>"
IMG_ONERROR = "<img src=x onerror=\"window.pwned=2;fetch('http://127.0.0.1:9/x')\">"
HOSTILE = f"{SCRIPT_BREAKOUT} {IMG_ONERROR} \"quoted' & <marquee>bold</marquee>"
RUN_ID = "20261202-000000-abcdef"
MODELS = ("alpha", "beta")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def make_run(iterations: int = 3) -> Run:
    return Run(run_id=RUN_ID, spec=RunSpec(models=list(MODELS), levels=list(LEVELS),
                                           iterations=iterations),
               models={m: ModelConfig(base_url="http://127.0.0.1:1/v1") for m in MODELS},
               fingerprint=Fingerprint(harness_version="0", challenge_sha256="x",
                                       sandbox_image="img"))


def make_attempt(model: str, iteration: int, level: Level, *, answer: str = HOSTILE,
                 code: str = HOSTILE) -> Attempt:
    full = MAX_POINTS[level]
    # alpha always full points; beta loses points on some levels, differently per iteration
    legacy = float(full) if model == "alpha" or (level.number + iteration) % 3 else 0.0
    strict = legacy if model == "alpha" else round(legacy * 0.8, 1)
    tests = [TestOutcome(profile=p, id=f"{level.value}::t{i}",
                         outcome="passed" if (p is Profile.LEGACY and legacy == full)
                         or (p is Profile.STRICT and strict == full) or i else "failed",
                         message="" if i else HOSTILE)
             for p in Profile for i in range(2)]
    report = ScoreReport(
        level=level, status="ok", scores={"legacy": legacy, "strict": strict},
        level_scores={p.value: LevelScore(profile=p, level=level,
                                          points=legacy if p is Profile.LEGACY else strict,
                                          max_points=full, tests_passed=1, tests_total=2,
                                          tests_total_original=2) for p in Profile},
        tests=tests,
        extracted={"legacy": {"job_queue.py": code}, "strict": {"job_queue.py": code}},
        duration_s=1.5)
    return Attempt(run_id=RUN_ID, model=model, iteration=iteration, level=level,
                   status=AttemptStatus.SCORED, gen_outcome=GenOutcome.OK,
                   prompt=f"Write a job queue. {HOSTILE}", answer=answer,
                   reasoning_content=HOSTILE, finish_reason="stop",
                   usage={"completion_tokens": 300 + 10 * level.number + iteration,
                          "prompt_tokens": 100},
                   timings={"predicted_per_second": 40.0 + 5 * iteration
                            + (10 if model == "beta" else 0)},
                   call_duration_s=1.0 + level.number / 2 + iteration / 10,
                   report=report, scoring_version="0.1.0+test", error="")


def hostile_sources(iterations: int = 3, answer: str = HOSTILE, code: str = HOSTILE
                    ) -> list[RunRecords]:
    run = make_run(iterations)
    attempts = {}
    for model in MODELS:
        for iteration in range(1, iterations + 1):
            for level in LEVELS:
                a = make_attempt(model, iteration, level, answer=answer, code=code)
                attempts[a.unit] = a
    return [RunRecords(run=run, attempts=attempts)]


def hostile_report(sources: list[RunRecords] | None = None) -> tuple[Report, dict]:
    """The report of `sources` (default: `hostile_sources()`), with a hostile warning too,
    and its attempts by key, as `render_html` takes them."""
    sources = sources or hostile_sources()
    report = build_report(sources, NOW)
    report = report.model_copy(update={"warnings": [*report.warnings, f"warning {HOSTILE}"]})
    return report, attempts_by_key(sources)
