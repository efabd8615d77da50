"""The Celery app on Redis, set up for tasks that run for minutes.

Run workers with, per model server and for scoring:
    celery -A worker.app worker -Q llm.<model> -c <slots>
    celery -A worker.app worker -Q score -c <cores>
"""

from celery import Celery

from worker.settings import Settings


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    app = Celery("jqbench", broker=settings.redis_url, include=["worker.tasks"])
    app.conf.update(
        # A task is acknowledged only when it finished, so a lost worker's task is redelivered;
        # tasks are idempotent (records keyed by the task's unit), so redelivery is safe.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_s,
            "unacked_restore_interval": settings.unacked_restore_interval_s,
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue="score",
        worker_send_task_events=True,  # Flower
        task_send_sent_event=True,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_soft_shutdown_timeout=settings.soft_shutdown_s,
    )
    app.conf.jqbench_settings = settings
    return app


app = create_app()
