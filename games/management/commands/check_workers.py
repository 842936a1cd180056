import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from respect_site.celery import QUEUES, ping


class Command(BaseCommand):
    help = (
        "Send a health-check task to each Celery queue (inference, feedback, training) and report "
        "which ones have a live worker. Exits non-zero if any queue gets no answer in time."
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
            try:
                answer = ping.apply_async(queue=name).get(timeout=timeout)
            except Exception as exc:  # timeout or broker error: report it, check the next queue
                missing.append(name)
                self.stderr.write(f"{name}: no answer ({type(exc).__name__})")
                continue
            elapsed = (time.monotonic() - started) * 1000
            self.stdout.write(f"{name}: answered by {answer['hostname']} pid {answer['pid']} in {elapsed:.0f} ms")
        if missing:
            raise CommandError(f"no worker answered on: {', '.join(missing)}")
