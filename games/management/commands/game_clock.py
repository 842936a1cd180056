import time

from django.core.management.base import BaseCommand, CommandError

from games.services.play import expire_overdue


class Command(BaseCommand):
    help = (
        "The game clock: enforce passed deadlines (idle endings, listener auto-submit, bot retry and "
        "fallback) for games nobody's browser is watching. Run one per deployment beside the web "
        "processes; it is safe to run several (each deadline is acted on once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between sweeps (default 1).")
        parser.add_argument("--once", action="store_true", help="Sweep once and exit.")

    def handle(self, *args, interval, once, **options):
        if interval <= 0:
            raise CommandError("--interval must be positive")
        while True:
            moved = expire_overdue()
            if moved or once:
                self.stdout.write(f"{moved} games moved past a deadline")
            if once:
                return
            time.sleep(interval)
