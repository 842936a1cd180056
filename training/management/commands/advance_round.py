from django.core.management.base import BaseCommand, CommandError

from training.services.loop import advance_round
from training.services.runs import TrainingError


class Command(BaseCommand):
    help = (
        "Advance a round through the learning loop: close it, decode its feedback, retrain its learning "
        "systems, and launch the next round with the new checkpoints (CONTROL, baselines and HH redeployed "
        "as they were). Each step runs only if it is not done yet, so a crashed run can simply be re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--round", type=int, default=None, dest="number", help="Round number (default: the latest).")
        parser.add_argument("--force", action="store_true", help="End games still in play when closing.")
        parser.add_argument("--no-launch", action="store_true", help="Stop after training.")

    def handle(self, *args, number, force, no_launch, **options):
        try:
            report = advance_round(number, force=force, launch_next=not no_launch, progress=self.stdout.write)
        except TrainingError as exc:
            raise CommandError(str(exc)) from None
        done = ", ".join(report.steps) or "nothing left to do"
        tail = f"; round {report.next_round} is next" if report.next_round else ""
        self.stdout.write(f"round {report.round_number}: {done}{tail}")
