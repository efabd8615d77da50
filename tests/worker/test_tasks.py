"""The Celery tasks' one decision: a failing record store hands the task back unacknowledged."""

import pytest
from celery.exceptions import Reject

from worker import tasks
from worker.errors import RedisUnavailable


def test_store_failure_rejects_with_requeue(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_store() -> None:
        raise RedisUnavailable("Redis does not answer at redis://nowhere")

    monkeypatch.setattr(tasks, "_services", no_store)
    monkeypatch.setattr(tasks.time, "sleep", lambda s: None)
    for task in (tasks.generate, tasks.score):
        with pytest.raises(Reject) as raised:
            task.run("r1", "m", 1, "L1")
        assert raised.value.requeue and "does not answer" in str(raised.value.reason)
    with pytest.raises(Reject) as raised:
        tasks.drive_server.run("r1", "gpu")
    assert raised.value.requeue and "does not answer" in str(raised.value.reason)
