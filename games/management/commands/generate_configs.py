from django.core.management.base import BaseCommand, CommandError

from games.management.cli import progress_bar, target_weights_arg, write_report
from games.services.configs import generate_configs


class Command(BaseCommand):
    help = (
        "Generate game configs: 10 tangrams from one split, 3/4/5 targets (about 31/38/31% by "
        "default) and independent speaker and listener screen orders. Deterministic under --seed; "
        "re-running adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--split", action="append", choices=["dev", "train", "test"],
            help="Split to draw images from; repeat for several (default: dev, train and test).",
        )
        parser.add_argument("--count", type=int, default=100, help="Configs per split (default 100).")
        parser.add_argument("--seed", type=int, default=0, help="Seed (default 0).")
        parser.add_argument(
            "--target-weights", type=target_weights_arg, default=None,
            help="Target-count weights, e.g. 3:0.31,4:0.38,5:0.31 (the default).",
        )

    def handle(self, *args, split, count, seed, target_weights, **options):
        if count < 1:
            raise CommandError("--count must be at least 1")
        for name in split or ["dev", "train", "test"]:
            try:
                report = generate_configs(
                    split=name, count=count, seed=seed, target_weights=target_weights,
                    progress=progress_bar(f"{name} configs"),
                )
            except ValueError as exc:
                raise CommandError(f"{name}: {exc}") from None
            write_report(self, report)
