import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from feedback.decoders.registry import DECODER_NAMES


class Command(BaseCommand):
    help = (
        "Score a feedback decoder against the ground truths available: the simulated speaker's intent "
        "('intent'), the action quality the simulator recorded ('sim_quality'), the action quality derived "
        "from the targets ('quality'), and the final labels of human annotation campaigns ('annotation', see "
        "docs/annotation.md). Prints precision / recall / F1 per class, the confusion matrix and the "
        "share of turns labelled, per round and system and overall. Reads stored labels (see decode_feedback), "
        "or decodes in memory with --live."
    )

    def add_arguments(self, parser):
        parser.add_argument("--round", type=int, default=None, dest="round_number", help="Only this round.")
        parser.add_argument("--system", default=None, help="Only this system (name).")
        parser.add_argument(
            "--decoder", choices=DECODER_NAMES, default=None,
            help="Decoder to score (default: with --round, each system's own decoder; else FEEDBACK_DEFAULT_DECODER).",
        )
        parser.add_argument(
            "--prompt-version", default=None, dest="version",
            help="Label set version (default: the decoder's current one).",
        )
        parser.add_argument(
            "--truth", action="append", default=None,
            help="Ground truth to score against (repeatable; default: intent, sim_quality and quality; also: annotation).",
        )
        parser.add_argument("--live", action="store_true", help="Decode now, in memory, instead of reading labels.")
        parser.add_argument(
            "--base-model", default=None, help="With --live and a prompted --decoder: the base model folder.",
        )
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")

    def handle(self, *args, round_number, system, decoder, version, truth, live, base_model, json, **options):
        from feedback.decoders.base import DecoderUnavailable
        from feedback.decoders.choice import DecodeError
        from feedback.decoders.registry import PROMPTED, build_decoder, current_version
        from feedback.selectors import decoder_evaluation, round_evaluation, truth_sources

        truths = tuple(dict.fromkeys(truth or ("intent", "sim_quality", "quality")))
        unknown = [t for t in truths if t not in truth_sources()]
        if unknown:
            raise CommandError(f"unknown --truth {unknown[0]!r} (choose from {', '.join(truth_sources())})")
        if version is not None and decoder is None:
            raise CommandError("--prompt-version needs --decoder")
        try:
            if decoder is None and round_number is not None:
                results = round_evaluation(round_number, system_name=system, truths=truths, live=live)
            else:
                name = decoder or settings.FEEDBACK_DEFAULT_DECODER
                live_decoder = None
                if live:
                    if name in PROMPTED and not base_model:
                        raise CommandError(f"--live with the {name} decoder needs --base-model")
                    from pathlib import Path

                    path = Path(settings.DATA_DIR) / base_model if base_model else None
                    live_decoder = build_decoder(name, base_path=path)
                results = decoder_evaluation(
                    decoder=name, version=version or current_version(name), round_number=round_number,
                    system_name=system, truths=truths, live=live_decoder,
                )
        except (LookupError, DecodeError, DecoderUnavailable) as exc:
            raise CommandError(str(exc)) from None
        if json:
            self.stdout.write(_json([r.to_dict() for r in results]))
            return
        self._print(results)

    def _print(self, results):
        from feedback.domain.metrics import format_evaluation

        if not results:
            self.stdout.write("nothing to evaluate")
            return
        for r in results:
            where = "all games" if r.round_number is None and r.system_name is None else (
                f"round {r.round_number} / {r.system_name}"
            )
            share = "-" if r.share_labelled is None else f"{r.share_labelled:.1%}"
            self.stdout.write(
                f"== {where}: {r.decoder} {r.version} vs {r.truth} "
                f"({r.turns} turns, {r.turns_labelled} labelled = {share})"
            )
            if r.evaluation.total == 0:
                self.stdout.write("  no ground truth for these turns")
                continue
            for line in format_evaluation(r.evaluation):
                self.stdout.write("  " + line)


def _json(data) -> str:
    return json.dumps(data, indent=2)
