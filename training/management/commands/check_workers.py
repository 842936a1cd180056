import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from respect_site.celery import QUEUES, ping
from training.tasks import act_health


class Command(BaseCommand):
    help = (
        "Send a health-check task to each Celery queue (inference, feedback, training) and report "
        "which ones have a live worker; the inference worker also reports its loaded models, queue "
        "depth and batch sizes. Exits non-zero if any queue gets no answer in time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=10.0, help="Seconds to wait per queue (default 10).")
        parser.add_argument("--queue", action="append", choices=QUEUES, help="Check only this queue (repeatable).")

    def handle(self, *args, timeout, queue, **options):
        if timeout <= 0:
            raise CommandError("--timeout must be positive")
        if settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write("Celery runs eagerly (no REDIS_URL): tasks execute in-process, no workers needed")
            return
        missing = []
        for name in queue or QUEUES:
            started = time.monotonic()
            task = act_health if name == "inference" else ping
            try:
                answer = task.apply_async(queue=name).get(timeout=timeout)
            except Exception as exc:  # timeout or broker error: report it, check the next queue
                missing.append(name)
                self.stderr.write(f"{name}: no answer ({type(exc).__name__})")
                continue
            elapsed = (time.monotonic() - started) * 1000
            line = f"{name}: answered by {answer['hostname']} pid {answer['pid']} in {elapsed:.0f} ms"
            if "lanes" in answer:
                line += "; " + inference_summary(answer)
            self.stdout.write(line)
        if missing:
            raise CommandError(f"no worker answered on: {', '.join(missing)}")


def inference_summary(status: dict) -> str:
    """One line about an inference worker: its loaded models, queue and batches."""
    lanes = status.get("lanes") or []
    models = ", ".join(
        f"{'+'.join(lane['policies']) or lane['lane']} ({lane['batches']} batches, mean {lane['mean_batch'] or 0}, "
        f"queued {lane['queued']}{'' if lane['alive'] else ', THREAD DEAD'})"
        for lane in lanes
    )
    return (
        f"batching window {status['window_ms']:g} ms, max {status['max_batch']}; queued {status['queued']}; "
        f"models: {models or 'none loaded yet'}"
    )
