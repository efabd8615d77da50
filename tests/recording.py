"""A dispatcher that records what a unit sends instead of sending it (worker tests)."""

from dataclasses import dataclass, field

from worker.unit import Unit


@dataclass
class RecordingDispatcher:
    sent: list[tuple[str, Unit]] = field(default_factory=list)
    """("gen" or "score", unit), in the order sent."""

    def send_generate(self, unit: Unit) -> None:
        self.sent.append(("gen", unit))

    def send_score(self, unit: Unit) -> None:
        self.sent.append(("score", unit))
