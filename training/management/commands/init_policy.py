from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Build the initial listener base model. --tiny builds the platform's own tiny Idefics3 model "
        "(tokenizer trained here on game text, 64 px image processor, random weights), saves it with "
        "save_pretrained and checks that it loads. Real base models are not built: point a policy "
        "checkpoint at their local folder."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tiny", action="store_true", help="Build the tiny CPU model (the only kind built here).")
        parser.add_argument(
            "--out", type=Path, default=None,
            help="Folder to write (default: DATA_DIR/models/tiny). Must be empty or absent unless --force.",
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed for the tokenizer corpus and the weights (default 0).")
        parser.add_argument("--force", action="store_true", help="Replace an existing non-empty --out folder.")

    def handle(self, *args, tiny, out, seed, force, **options):
        if not tiny:
            raise CommandError("nothing to build: pass --tiny (real base models are loaded from their own folder)")
        if seed < 0:
            raise CommandError("--seed must be >= 0")
        out = Path(out) if out is not None else Path(settings.DATA_DIR) / "models" / "tiny"
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {out} is a file")
        if out.is_dir() and any(out.iterdir()) and not force:
            raise CommandError(f"--out {out} is not empty (pass --force to replace it)")

        from training.policies.hf import PolicyLoadError, load_base
        from training.policies.tiny import build_tiny

        self.stdout.write(f"training the tokenizer and building the tiny Idefics3 model (seed {seed}) ...")
        try:
            info = build_tiny(out, seed=seed, overwrite=force)
        except (OSError, RuntimeError, ValueError) as exc:
            raise CommandError(f"build failed: {' '.join(str(exc).split())[:300]}") from exc
        self.stdout.write("checking that it loads through the policy backend ...")
        try:
            load_base(info.path, device="cpu")
        except PolicyLoadError as exc:
            raise CommandError(f"the saved model does not load: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(
            f"saved tiny model to {info.path}: {info.parameters:,} parameters, vocabulary {info.vocab_size}, "
            f"{info.image_seq_len} tokens per image"
        ))
