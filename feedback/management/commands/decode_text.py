import json
import os
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from feedback.decoders.registry import DECODER_NAMES, PROMPTED


class Command(BaseCommand):
    help = (
        "Decode feedback for turns outside our transcripts. FILE holds JSONL rows with 'utterance', 'action', "
        "'next_utterance' and optionally 'previous_action'; each row is written back (to -o or stdout) with the "
        "decoded label added and every other field kept. Nothing is stored in the database."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSONL input ('-' reads stdin).")
        parser.add_argument(
            "--decoder", choices=DECODER_NAMES, default=None,
            help="Decoder name (default: FEEDBACK_DEFAULT_DECODER, i.e. lexicon unless configured).",
        )
        parser.add_argument(
            "--base-model", default=None,
            help="Base model folder for the prompted decoders (absolute, or relative to DATA_DIR).",
        )
        parser.add_argument("-o", "--output", default=None, help="Output JSONL file (default: stdout).")
        parser.add_argument("--field", default="label", help="Name of the added field (default: label).")
        parser.add_argument("--raw", action="store_true", help="Also add <field>_raw: the decoder's raw output.")
        parser.add_argument("--batch-size", type=int, default=None, help="Prompted decoder batch size.")

    def handle(self, *args, file, decoder, base_model, output, field, raw, batch_size, **options):
        from feedback.decoders.base import DecoderUnavailable
        from feedback.decoders.registry import build_decoder
        from feedback.domain.jsonl import RowError, parse_rows, row_window

        name = decoder or settings.FEEDBACK_DEFAULT_DECODER
        if not field or not field.strip():
            raise CommandError("--field must not be empty")
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be >= 1")
        if name in PROMPTED and not base_model:
            raise CommandError(f"the {name} decoder needs --base-model")
        try:
            if file == "-":
                rows = parse_rows(sys.stdin)
            else:
                with open(file, encoding="utf-8") as handle:
                    rows = parse_rows(handle)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{file} is not UTF-8 text") from None
        except RowError as exc:
            raise CommandError(f"{file}: {exc}") from None
        taken = [number for number, row in rows if field in row or (raw and f"{field}_raw" in row)]
        if taken:
            raise CommandError(
                f"{file}: line {taken[0]} already has a {field!r} field; choose another name with --field"
            )
        try:
            path = Path(settings.DATA_DIR) / base_model if base_model else None
            active = build_decoder(name, base_path=path, batch_size=batch_size)
        except DecoderUnavailable as exc:
            raise CommandError(str(exc)) from None
        windows = [row_window(number, row) for number, row in rows]
        labels = []
        for start in range(0, len(windows), 256):
            labels += active.decode(windows[start: start + 256])
            if output:
                self.stderr.write(f"{min(start + 256, len(windows))}/{len(windows)} decoded")
        lines = []
        for (_, row), decoded in zip(rows, labels):
            row = dict(row)
            row[field] = decoded.label
            if raw:
                row[f"{field}_raw"] = decoded.raw_output
            lines.append(json.dumps(row, ensure_ascii=False))
        text = "".join(line + "\n" for line in lines)
        if output:
            self._write(Path(output), text)
            self.stderr.write(f"{len(lines)} rows decoded with {active.name} {active.prompt_version} -> {output}")
        else:
            self.stdout.write(text, ending="")

    def _write(self, path: Path, text: str) -> None:
        """All or nothing: a temporary file in the same folder, renamed into place."""
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise CommandError(f"output folder {folder} does not exist")
        fd, tmp = tempfile.mkstemp(prefix=".decode-", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
