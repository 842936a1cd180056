from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from training.reporting.tables import DEFAULT_RESAMPLES
from training.services.report import ReportError, ReportOptions, write_report


def rounds_arg(text: str) -> tuple[int, ...]:
    """``"1,2,5"`` or ``"1-3"`` (or both: ``"0-2,5"``)."""
    numbers: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            if "-" in part[1:]:
                first, last = (int(x) for x in part.split("-", 1))
                if last < first:
                    raise ValueError
                numbers += range(first, last + 1)
            else:
                numbers.append(int(part))
    except ValueError:
        raise CommandError(f"--rounds: expected round numbers like 1,2,5 or 1-3; got {text!r}") from None
    if not numbers:
        raise CommandError("--rounds: name at least one round")
    return tuple(dict.fromkeys(numbers))


class Command(BaseCommand):
    help = (
        "Write the study report into OUT_DIR: per round and system, success rate, turns per game and click "
        "accuracy with 95% bootstrap CIs, language statistics, the model's actions and the feedback decoders "
        "against the final human annotations (exact match, similarity, confusion matrices, precision / recall "
        "/ F1), and the training runs, as CSV tables and PNG plots, plus report.json. Files of an older report "
        "in OUT_DIR are replaced. The staff dashboard (/dashboard/) shows the report in DATA_DIR/reports/dashboard."
    )

    def add_arguments(self, parser):
        parser.add_argument("out_dir", metavar="OUT_DIR", help="Folder to write the report into (created if needed).")
        parser.add_argument("--rounds", default=None, help="Rounds to report, e.g. 1,2,5 or 1-3 (default: all).")
        parser.add_argument("--systems", default=None,
                            help="Comma-separated system names (default: every system deployed in those rounds).")
        parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                            help=f"Bootstrap resamples per confidence interval (default {DEFAULT_RESAMPLES}).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the bootstrap resampling (default 0).")

    def handle(self, *args, out_dir, rounds, systems, resamples, seed, **options):
        names = None
        if systems is not None:
            names = tuple(dict.fromkeys(s.strip() for s in systems.split(",") if s.strip()))
            if not names:
                raise CommandError("--systems: name at least one system")
        folder = Path(out_dir)
        if folder.exists() and not folder.is_dir():
            raise CommandError(f"{folder} exists and is not a folder")
        report_options = ReportOptions(
            rounds=rounds_arg(rounds) if rounds is not None else None, systems=names, resamples=resamples, seed=seed,
        )
        try:
            manifest = write_report(folder, report_options, progress=self.stdout.write)
        except ReportError as exc:
            raise CommandError(str(exc)) from None
        for table in manifest["tables"]:
            self.stdout.write(f"{folder / table['file']}: {table['rows']} row(s)")
        self.stdout.write(f"{len(manifest['plots'])} plot(s) in {folder}")
