from django.core.management.base import BaseCommand, CommandError

from training.services.loop import train_round
from training.services.runs import TrainingError


class Command(BaseCommand):
    help = (
        "Retrain every learning system of a decoded round: one training run each (D<=round from the "
        "system's own games with its decoded labels, plus the seed data; a fresh LoRA on the initial "
        "policy), on the 'training' queue (in-process in the embedded default). Waits for the runs, then "
        "marks the round trained. Runs that succeeded are kept; failed or dead ones run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--round", type=int, required=True, dest="number", help="The round's number.")
        parser.add_argument("--no-wait", action="store_true", help="Dispatch the runs and return.")
        parser.add_argument("--timeout", type=float, default=None, help="Seconds to wait for the runs.")

    def handle(self, *args, number, no_wait, timeout, **options):
        try:
            runs = train_round(number, wait=not no_wait, timeout=timeout, progress=self.stdout.write)
        except TrainingError as exc:
            raise CommandError(str(exc)) from None
        if no_wait:
            self.stdout.write(f"round {number}: {len(runs)} run(s) dispatched")
        else:
            self.stdout.write(f"round {number} trained: {len(runs)} run(s)")
