from django.core.management.base import BaseCommand, CommandError

from training.models import StudyExport
from training.services.study_export import ExportError, create_export, run_export, start_export


class Command(BaseCommand):
    help = (
        "Export the study (or one round's play data) to the new folder OUT: one file per table (tangrams, "
        "configs, rounds, systems, deployments, checkpoint metadata, participants with hashed ids only, "
        "interactions, turns, speaker intents, feedback labels, training runs, annotations) as JSON lines or "
        "Parquet, loadable with datasets.load_dataset, plus a data card (README.md) and manifest.json. "
        "Model weights are not exported. import_study reads it back. Runs here with progress output, or "
        "with --background on a worker (TRAINING_DISPATCH); follow it in the admin (Study exports)."
    )

    def add_arguments(self, parser):
        parser.add_argument("out", help="The folder to write (must not exist, or be empty).")
        parser.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl", help="File format (jsonl).")
        parser.add_argument("--round", type=int, default=None, dest="number",
                            help="Only this round's play data (setup tables are exported in full).")
        parser.add_argument("--alias", default="", help="dataset_alias written on every row (default: respect, "
                                                        "or respect-round-N).")
        parser.add_argument("--background", action="store_true",
                            help="Hand the export to a worker (TRAINING_DISPATCH=celery) and return.")

    def handle(self, *args, out, format, number, alias, background, **options):
        try:
            export = create_export(out, format=format, round_number=number, alias=alias)
        except ExportError as exc:
            raise CommandError(str(exc)) from None
        if background:
            start_export(export, progress=self.stdout.write)
            export.refresh_from_db()
            self.stdout.write(f"export {export.pk}: {export.status} ({export.path})")
            return
        try:
            export = run_export(export.pk, progress=self.stdout.write)
        except Exception as exc:
            raise CommandError(f"export failed: {exc}") from None
        if export.status != StudyExport.Status.SUCCEEDED:
            raise CommandError(f"export {export.pk} is {export.status}")
