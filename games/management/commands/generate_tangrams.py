from django.core.management.base import BaseCommand, CommandError

from games.domain.splits import DEFAULT_FRACTIONS
from games.management.cli import fractions_arg, progress_bar, write_report
from games.services.tangrams import generate_tangrams


class Command(BaseCommand):
    help = (
        "Generate tangram figures from the seven standard tans (deterministic under --seed), render "
        "them to SVG and PNG, and split them into dev/train/test. Re-running adds nothing; a larger "
        "--count extends the set."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=200, help="Number of figures (default 200).")
        parser.add_argument("--seed", type=int, default=0, help="Generator seed (default 0).")
        parser.add_argument(
            "--split-fractions", type=fractions_arg, default=DEFAULT_FRACTIONS,
            help="dev,train,test fractions for the new figures (default 0.1,0.45,0.45).",
        )
        parser.add_argument("--prefix", default="gen", help="Name prefix: names are <prefix><seed>-<i> (default gen).")

    def handle(self, *args, count, seed, split_fractions, prefix, **options):
        if count < 1:
            raise CommandError("--count must be at least 1")
        try:
            report = generate_tangrams(
                count=count, seed=seed, fractions=split_fractions, prefix=prefix,
                progress=progress_bar("tangrams"),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        write_report(self, report)
