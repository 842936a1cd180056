from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from games.management.cli import progress_bar, write_report
from games.services.configs import import_original_configs


class Command(BaseCommand):
    help = (
        "Import game configs in the original study's JSON format (a folder of game_json_*.json files, "
        "or one file). Their tangrams must be imported first. Bad files are reported and skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="Folder of .json game configs, or one file.")
        parser.add_argument(
            "--prefix", default=None,
            help="Name prefix of the imported configs (default: the folder's name and '-').",
        )
        parser.add_argument("--strict", action="store_true", help="Exit non-zero if any file was skipped.")

    def handle(self, *args, path, prefix, strict, **options):
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        report = import_original_configs(path, prefix=prefix, progress=progress_bar("files"))
        write_report(self, report)
        if not report.created and not report.unchanged:
            raise CommandError(f"no valid game configs in {path} ({len(report.skipped)} files skipped)")
        if strict and report.skipped:
            raise CommandError(f"{len(report.skipped)} files skipped (--strict)")
