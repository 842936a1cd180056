from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Build an untrained listener base model. --tiny builds the platform's own tiny Idefics3 model "
        "(tokenizer trained here on game text, 64 px image processor, random weights); --listener builds the "
        "compact toggle listener (the CPU default; train_seed trains it). Both are saved with save_pretrained "
        "and checked to load. Real base models are not built: point a policy checkpoint at their local folder."
    )

    def add_arguments(self, parser):
        kind = parser.add_mutually_exclusive_group()
        kind.add_argument("--tiny", action="store_true", help="Build the tiny Idefics3 model.")
        kind.add_argument("--listener", action="store_true", help="Build the compact toggle listener.")
        parser.add_argument(
            "--out", type=Path, default=None,
            help="Folder to write (default: DATA_DIR/models/tiny or models/listener-base). Must be empty or absent "
            "unless --force.",
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed for the tokenizer corpus and the weights (default 0).")
        parser.add_argument("--force", action="store_true", help="Replace an existing non-empty --out folder.")

    def handle(self, *args, tiny, listener, out, seed, force, **options):
        if not (tiny or listener):
            raise CommandError(
                "nothing to build: pass --tiny or --listener (real base models are loaded from their own folder)"
            )
        if seed < 0:
            raise CommandError("--seed must be >= 0")
        default = "tiny" if tiny else "listener-base"
        out = Path(out) if out is not None else Path(settings.DATA_DIR) / "models" / default
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {out} is a file")
        if out.is_dir() and any(out.iterdir()) and not force:
            raise CommandError(f"--out {out} is not empty (pass --force to replace it)")

        if listener:
            return self._listener(out, seed, force)
        from training.policies.hf_base import PolicyLoadError, load_base
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

    def _listener(self, out: Path, seed: int, force: bool) -> None:
        from training.policies.compact_listener import build_listener, load_listener_base
        from training.policies.hf_base import PolicyLoadError

        self.stdout.write(f"training the tokenizer and building the compact listener (seed {seed}) ...")
        try:
            path = build_listener(out, seed=seed, overwrite=force)
            base = load_listener_base(path)
        except PolicyLoadError as exc:  # a RuntimeError: caught first
            raise CommandError(f"the saved model does not load: {exc}") from exc
        except (OSError, RuntimeError, ValueError) as exc:
            raise CommandError(f"build failed: {' '.join(str(exc).split())[:300]}") from exc
        parameters = sum(p.numel() for p in base.model.parameters())
        self.stdout.write(self.style.SUCCESS(
            f"saved the compact listener to {path}: {parameters:,} parameters, vocabulary {len(base.tokenizer)}, "
            f"{base.config.image_size} px images (untrained: run train_seed)"
        ))
