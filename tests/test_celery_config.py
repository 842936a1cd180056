import pytest

from respect_site.celery import QUEUES, app, ping


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name, (), {})["queue"].name


def test_three_named_queues():
    assert QUEUES == ("inference", "feedback", "training")
    assert {q.name for q in app.conf.task_queues} == set(QUEUES)


@pytest.mark.parametrize(
    "task, queue",
    [
        ("training.tasks.act", "inference"),
        ("training.tasks.act_batch", "inference"),
        ("feedback.tasks.decode_round", "feedback"),
        ("training.tasks.train_round", "training"),
        ("respect.ping", "feedback"),
    ],
)
def test_tasks_are_routed_to_their_queue(task, queue):
    assert queue_of(task) == queue


def test_every_registered_project_task_lands_on_a_named_queue():
    app.loader.import_default_modules()
    project = [name for name in app.tasks if name.split(".")[0] in {"games", "feedback", "training", "respect"}]
    assert "respect.ping" in project
    for name in project:
        assert queue_of(name) in QUEUES


def test_embedded_default_runs_tasks_eagerly(settings):
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("this run uses a real broker")
    assert ping.delay().get(timeout=1)["pid"] > 0
