"""The chain rules, pure (docs/architecture.md, Data flow).

Per (model, iteration) the selected levels among L1..L3 generate in order, each handing its
extracted code on to the next ("Current implementation"); L4 and L5 are independent. A link
runs once the previous link's generate reached a final status. When our side failed before
the model answered, the rest of that chain waits (`halts_chain`) until `resume` sends it
again; status reports such waiting links as blocked.
"""

from collections.abc import Callable, Mapping

from challenge.levels import CHAINED_LEVELS, Level
from worker.records import Attempt, AttemptStatus, Run
from worker.unit import Stage, Unit

AttemptLookup = Callable[[Unit], Attempt | None]
"""How the rules read records: a store's `get_attempt`, or a dict's `get` by unit."""


def chained_levels(run: Run) -> list[Level]:
    """The run's levels that form the chain, in order."""
    return [lv for lv in CHAINED_LEVELS if lv in run.spec.levels]


def first_levels(run: Run) -> list[Level]:
    """Levels sent at submit time for each (model, iteration): the chain's head and the rest."""
    chain = chained_levels(run)
    return chain[:1] + [lv for lv in run.spec.levels if lv not in CHAINED_LEVELS]


def first_units(run: Run) -> list[Unit]:
    """Every unit sent at submit (and resume) time, iteration by iteration."""
    return [
        Unit(run.run_id, model, iteration, level)
        for iteration in range(1, run.spec.iterations + 1)
        for model in run.spec.models
        for level in first_levels(run)
    ]


def next_link(run: Run, unit: Unit) -> Unit | None:
    """The chain link that follows `unit`, if any."""
    chain = chained_levels(run)
    if unit.level not in chain:
        return None
    index = chain.index(unit.level)
    if index + 1 >= len(chain):
        return None
    return unit._replace(level=chain[index + 1])


def earlier_links(run: Run, unit: Unit) -> list[Unit]:
    """The chain links before `unit`, nearest first."""
    chain = chained_levels(run)
    if unit.level not in chain:
        return []
    return [unit._replace(level=lv) for lv in reversed(chain[: chain.index(unit.level)])]


def halts_chain(attempt: Attempt) -> bool:
    """Our side failed before the model answered: this unit must generate again, and the
    links after it wait for that."""
    return attempt.failed_at_generate


def handoff_source(run: Run, unit: Unit, lookup: AttemptLookup) -> Attempt | None:
    """The attempt whose code the prompt embeds: the nearest earlier link with code."""
    for earlier in earlier_links(run, unit):
        attempt = lookup(earlier)
        if attempt is not None and attempt.handoff_code:
            return attempt
    return None


def is_blocked(run: Run, unit: Unit, attempts: Mapping[Unit, Attempt]) -> bool:
    """No record yet, and an earlier link halted the chain with a final infra_error: the
    unit waits for `resume` (a link that `resume` already sent again is pending, not blocked).
    """
    if unit in attempts:
        return False
    for earlier in earlier_links(run, unit):
        previous = attempts.get(earlier)
        if (previous is not None and halts_chain(previous)
                and previous.status is AttemptStatus.INFRA_ERROR):
            return True
    return False


def due_stages(run: Run, lookup: AttemptLookup) -> list[tuple[Unit, Stage]]:
    """Every (unit, stage) that some message should be carrying now, by the records alone:
    a link with no record (or one `resume` marked) must generate, a generated attempt must be
    scored, and a link follows once the previous link's generate is final. A final
    infra_error waits for `resume` and is not due; nor is anything after a halted link.

    The reconciler compares this with what the broker and the leases hold; whatever is due
    and carried by nothing was lost and is sent again.
    """
    due: list[tuple[Unit, Stage]] = []
    for unit in first_units(run):
        link: Unit | None = unit
        while link is not None:
            attempt = lookup(link)
            if attempt is None or (attempt.failed_at_generate
                                   and attempt.status is AttemptStatus.RESUMED):
                due.append((link, Stage.GENERATE))
                break
            if halts_chain(attempt):
                break
            if attempt.status in (AttemptStatus.GENERATED, AttemptStatus.RESUMED):
                due.append((link, Stage.SCORE))
            link = next_link(run, link)
    return due
