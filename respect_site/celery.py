"""The Celery app: three named queues, one per kind of worker.

- ``inference``: policy actions for live games (latency-critical, models kept warm);
- ``feedback``: retrospective feedback decoding after a round;
- ``training``: retraining runs, one job per GPU.

Routing lives here, in one table, so that a task can never land on the wrong kind of worker by
accident; ``tests/test_celery_config.py`` checks that every project task has a route.
"""
import os
import socket
import time

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "respect_site.settings")

QUEUES = ("inference", "feedback", "training")

app = Celery("respect_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = tuple(Queue(name, routing_key=name) for name in QUEUES)
app.conf.task_default_queue = "feedback"  # batch work: never let a stray task block live games
app.conf.task_routes = {
    "training.tasks.act*": {"queue": "inference"},
    "feedback.tasks.*": {"queue": "feedback"},
    "training.tasks.train*": {"queue": "training"},
    "training.tasks.export*": {"queue": "feedback"},  # batch I/O: beside decoding, never blocking a GPU
}
app.autodiscover_tasks()


@app.task(name="respect.ping")
def ping() -> dict:
    """Health check: answered by whichever worker consumes the queue it was sent to."""
    return {"hostname": socket.gethostname(), "pid": os.getpid(), "time": time.time()}
