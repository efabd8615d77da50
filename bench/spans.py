"""Time covered by request spans: how busy a server was (bench/pipeline.py, shared_server.py)."""


def coverage(spans: list[tuple[float, float]], start: float, end: float) -> tuple[float, float]:
    """Seconds of [start, end] during which at least one (begin, finish) span was under way,
    and the longest stretch of it during which none was."""
    covered, gap, reach = 0.0, 0.0, start
    for begin, finish in sorted(spans):
        begin, finish = max(begin, reach), min(finish, end)
        if finish > begin:
            gap = max(gap, begin - reach)
            covered += finish - begin
            reach = finish
    return covered, max(gap, end - reach)
