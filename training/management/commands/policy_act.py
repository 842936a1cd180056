from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from games.models import GameConfig


class Command(BaseCommand):
    help = (
        "Run one listener prompt by hand, to debug a checkpoint: the images of a game config in the "
        "listener's order, a current selection (letters) and the speaker's message; prints the prompt "
        "(--show-prompt), then each sampled raw output, the parsed action, its probability and how it "
        "was produced."
    )

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--checkpoint", type=int, help="PolicyCheckpoint id.")
        source.add_argument("--base", type=Path, help="Base model folder (absolute, or under DATA_DIR).")
        parser.add_argument("--adapter", type=Path, default=None, help="LoRA adapter folder (with --base).")
        parser.add_argument("--config", required=True, help="Game config name (its images and listener order).")
        parser.add_argument("--utterance", required=True, help="The speaker's message.")
        parser.add_argument("--selected", default="", help="Letters currently selected, e.g. 'A D'.")
        parser.add_argument("--samples", type=int, default=1, help="How many actions to sample (default 1).")
        parser.add_argument("--temperature", type=float, default=1.0)
        parser.add_argument("--constrained", action="store_true", help="Grammar-constrained decoding.")
        parser.add_argument("--show-prompt", action="store_true")

    def handle(self, *args, checkpoint, base, adapter, config, utterance, selected, samples, temperature,
               constrained, show_prompt, **options):
        from games.domain.rules import LETTERS, Lettering, format_action
        from training.models import PolicyCheckpoint
        from training.policies.base import ActRequest
        from training.policies.compact_listener import ListenerDecoding, ListenerPolicy, is_listener_folder, shared_listener_base
        from training.policies.hf import DecodingConfig, HFPolicy
        from training.policies.hf_base import PolicyLoadError, shared_base
        from training.policies.prompts import request_messages
        from training.selectors import tangram_pngs

        if samples < 1 or samples > 100:
            raise CommandError("--samples must be between 1 and 100")
        if not utterance.strip():
            raise CommandError("--utterance is empty")
        game = GameConfig.objects.filter(name=config).first()
        if game is None:
            raise CommandError(f"no game config named {config!r}")
        order = list(game.context_images.order_by("listener_position").values_list("tangram__name", flat=True))
        lettering = Lettering(order)
        letters = selected.replace(",", " ").split()
        bad = [x for x in letters if x not in LETTERS]
        if bad or len(set(letters)) != len(letters):
            raise CommandError(f"--selected must be distinct letters A-J; got {selected!r}")
        if checkpoint is not None:
            row = PolicyCheckpoint.objects.filter(pk=checkpoint).first()
            if row is None:
                raise CommandError(f"checkpoint {checkpoint} does not exist")
            base, adapter = Path(row.base_model), Path(row.adapter_path) if row.adapter_path else None
        base_path = base if base.is_absolute() else settings.DATA_DIR / base
        adapter_path = None if adapter is None else adapter if adapter.is_absolute() else settings.DATA_DIR / adapter
        try:
            if is_listener_folder(base_path):
                # The compact listener: every sample is a legal action (--constrained changes nothing).
                policy = ListenerPolicy(
                    shared_listener_base(base_path), tangram_pngs, adapter_path=adapter_path,
                    decoding=ListenerDecoding(temperature=temperature),
                )
            else:
                decoding = DecodingConfig(temperature=temperature, constrained=constrained)
                policy = HFPolicy(shared_base(base_path), tangram_pngs, adapter_path=adapter_path, decoding=decoding)
        except (PolicyLoadError, ValueError) as exc:
            raise CommandError(str(exc).splitlines()[0]) from None
        request = ActRequest(
            interaction_id=0, turn=0, listener_order=tuple(order), history=(), utterance=utterance,
            selection=frozenset(lettering.image_of(x) for x in letters),
        )
        if show_prompt and isinstance(policy, HFPolicy):
            for message in request_messages(request):
                self.stdout.write(str(message))
        elif show_prompt:
            self.stdout.write(f"compact listener input: utterance {utterance!r}, images {', '.join(order)}")
        for result in policy.act([request] * samples):
            action = lettering.to_letters(_action(result))
            self.stdout.write(
                f"raw {result.raw_output!r} -> {format_action(action)} "
                f"(p={result.probability}, {result.source})"
            )


def _action(result):
    from games.domain.rules import Action

    return Action(select=result.select, deselect=result.deselect)
