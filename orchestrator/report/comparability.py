"""Whether scores of different runs (or models) can be set side by side.

Scores are comparable when the same challenge and scoring decided them in the same sandbox,
and the models were asked the same way: challenge and scoring versions, sandbox image,
temperature and max_tokens. `differences` names each of these that differs.
"""

from collections.abc import Callable, Iterable, Sequence

from orchestrator.report.pooling import RunRecords


def _values(sources: Iterable[RunRecords], models: Sequence[str] | None,
            read: Callable[[RunRecords, str], object]) -> dict[str, set[str]]:
    """value -> where it was seen ("run_id" or "run_id/model")."""
    seen: dict[str, set[str]] = {}
    for source in sources:
        for model in source.run.spec.models:
            if models is not None and model not in models:
                continue
            value = read(source, model)
            if value is None:
                continue
            seen.setdefault(str(value), set()).add(f"{source.run.run_id}/{model}")
    return seen


def _scoring_versions(source: RunRecords, model: str) -> str | None:
    versions = sorted({a.scoring_version for u, a in source.attempts.items()
                       if u.model == model and a.scoring_version})
    return ", ".join(versions) or None


CHECKS: dict[str, Callable[[RunRecords, str], object]] = {
    "challenge version": lambda s, m: s.run.fingerprint.challenge_sha256[:12],
    "scoring version": _scoring_versions,
    "sandbox image": lambda s, m: (s.run.fingerprint.sandbox_image_id
                                   or s.run.fingerprint.sandbox_image),
    "temperature": lambda s, m: s.run.models[m].temperature,
    "max_tokens": lambda s, m: s.run.models[m].max_tokens,
}


def differences(sources: Sequence[RunRecords], models: Sequence[str] | None = None
                ) -> list[str]:
    """One sentence per setting that differs among the given runs' models (all models when
    `models` is None); empty when everything that makes scores comparable agrees."""
    found = []
    for name, read in CHECKS.items():
        seen = _values(sources, models, read)
        if len(seen) > 1:
            parts = "; ".join(f"{value} in {', '.join(sorted(where))}"
                              for value, where in sorted(seen.items()))
            found.append(f"{name} differs: {parts}")
    return found
