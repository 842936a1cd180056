from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from games.domain.splits import DEFAULT_FRACTIONS, SplitError, parse_splits_file
from games.management.cli import fractions_arg, progress_bar, write_report
from games.services.tangrams import import_kilogram


class Command(BaseCommand):
    help = (
        "Import a folder (or one file) of KILOGRAM-format tangram SVGs: seven <polygon> elements "
        "with ids 1-7. Bad or foreign files are reported by name and skipped; the rest are stored "
        "together. Existing names are never overwritten."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="Folder of .svg files, or one .svg file.")
        parser.add_argument(
            "--splits", type=Path, default=None,
            help='JSON file {"dev": [names], "train": [...], "test": [...]} fixing each image\'s split; '
                 "files not listed are skipped.",
        )
        parser.add_argument(
            "--split-fractions", type=fractions_arg, default=DEFAULT_FRACTIONS,
            help="Without --splits: dev,train,test fractions for the new images (default 0.1,0.45,0.45).",
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed of the split shuffle (default 0).")
        parser.add_argument("--strict", action="store_true", help="Exit non-zero if any file was skipped.")

    def handle(self, *args, path, splits, split_fractions, seed, strict, **options):
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        split_map = None
        if splits is not None:
            try:
                split_map = parse_splits_file(splits.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"cannot read splits file {splits}: {exc}") from None
            except SplitError as exc:
                raise CommandError(str(exc)) from None
        report = import_kilogram(
            path, fractions=split_fractions, seed=seed, splits=split_map, progress=progress_bar("files")
        )
        write_report(self, report)
        if not report.created and not report.unchanged:
            raise CommandError(f"no valid tangram SVGs in {path} ({len(report.skipped)} files skipped)")
        if strict and report.skipped:
            raise CommandError(f"{len(report.skipped)} files skipped (--strict)")
