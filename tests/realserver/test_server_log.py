"""Reading slot activity from a real llama-server's log (lines as build 0c1e57098 writes them
with -v; no server needed)."""

from tests.realserver.server import slot_activity

LOG = """\
0.02.407.409 I slot launch_slot_: id  1 | task 0 | processing task, is_child = 0
0.02.407.458 I slot launch_slot_: id  0 | task 1 | processing task, is_child = 0
0.02.524.677 D srv  process_sing: no slot is available, defer task, id_task = 11
0.02.524.682 D que         defer: defer task, id = 11
0.03.437.902 I slot      release: id  0 | task 1 | stop processing: n_tokens = 1052, truncated = 0
0.03.437.913 D que  pop_deferred: pop deferred task, id_task = 11
0.03.437.937 I slot      release: id  1 | task 0 | stop processing: n_tokens = 1052, truncated = 0
0.03.438.391 I slot launch_slot_: id  0 | task 11 | processing task, is_child = 0
0.03.887.710 I slot      release: id  0 | task 11 | stop processing: n_tokens = 1052, truncated = 0
"""


def test_tasks_peak_and_deferred_tasks_are_counted_from_the_log() -> None:
    activity = slot_activity(LOG)
    assert (activity.tasks, activity.peak, activity.deferred) == (3, 2, 1)


def test_one_slot_after_the_other_peaks_at_one() -> None:
    lines = [line for line in LOG.splitlines() if "task 11" not in line and "defer" not in line]
    sequential = "\n".join([lines[0], lines[3], lines[1], lines[2]])
    assert slot_activity(sequential).peak == 1
