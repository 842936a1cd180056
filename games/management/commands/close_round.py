from django.core.management.base import BaseCommand, CommandError

from games.services.rounds import RoundError, close_round


class Command(BaseCommand):
    help = (
        "Close a round: no new games start in it. Refused while games are in play unless --force, which "
        "ends them cleanly (reason 'cancelled', players paid for their time). Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--round", type=int, required=True, dest="number", help="The round's number.")
        parser.add_argument("--force", action="store_true", help="End the games still in play.")

    def handle(self, *args, number, force, **options):
        try:
            round_ = close_round(number, force=force)
        except RoundError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"round {round_.number} is {round_.status}")
