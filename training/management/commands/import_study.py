from django.core.management.base import BaseCommand, CommandError

from training.services.study_import import StudyImportError, import_study


class Command(BaseCommand):
    help = (
        "Import a study export (export_study, either format) into this installation. Every file is checked "
        "first; then everything is imported in one transaction, or nothing: a bad row, an unknown reference "
        "or a row that exists here with other values stops the import with the file, row and column. Rows "
        "already here with the same values are kept, so importing twice changes nothing. Model weights are "
        "not part of an export: copy the adapter folders named by the checkpoints yourself."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The export folder (with manifest.json).")

    def handle(self, *args, path, **options):
        try:
            report = import_study(path, progress=self.stdout.write)
        except StudyImportError as exc:
            raise CommandError(f"nothing imported: {exc}") from None
        created, existing = sum(report.created.values()), sum(report.existing.values())
        self.stdout.write(f"imported {path}: {created} row(s) created, {existing} already here")
