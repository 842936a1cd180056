import json

from django.core.management.base import BaseCommand, CommandError

from training.services.seed import SeedError, SeedOptions, train_seed_policy


class Command(BaseCommand):
    help = (
        "Train the initial policy from seed human-human games on the dev split (default 25, as in the study): "
        "only good listener actions are imitated, plus the undo-last and clear-all augmentations (0.88/0.06/0.06). "
        "Without --base (the CPU default) a compact listener base is first pre-trained from scratch on simulated "
        "games over freshly generated figures; with --base PATH (an Idefics model or a listener folder) only a "
        "LoRA adapter is trained. Registers the checkpoint and, unless --evaluate-games 0, measures it against "
        "simulated speakers."
    )

    def add_arguments(self, parser):
        d = SeedOptions()
        parser.add_argument("--name", default=d.name, help=f"Checkpoint name; files go to DATA_DIR/models/NAME (default {d.name}).")
        parser.add_argument("--games", type=int, default=d.games, help=f"Seed games to train on (default {d.games}).")
        parser.add_argument("--split", default=d.split, choices=["dev", "train", "test"], help="Split of the seed games (default dev).")
        parser.add_argument("--simulate", action="store_true",
                            help="Simulate missing seed games (simulated speaker + simulated human listener).")
        parser.add_argument("--seed", type=int, default=d.seed, help="Seed of every random step (default 0).")
        parser.add_argument("--base", default=None, help="Existing base model folder (absolute or under DATA_DIR).")
        parser.add_argument("--pretrain-games", type=int, default=d.pretrain_games,
                            help=f"Simulated games for the base's pre-training (default {d.pretrain_games}).")
        parser.add_argument("--pretrain-figures", type=int, default=d.pretrain_figures,
                            help=f"Fresh figures the pre-training games use (default {d.pretrain_figures}).")
        parser.add_argument("--pretrain-steps", type=int, default=d.pretrain_steps,
                            help=f"Pre-training steps; fewer gives a weaker initial policy (default {d.pretrain_steps}).")
        parser.add_argument("--steps", type=int, default=d.steps, help=f"Seed adapter steps (default {d.steps}).")
        parser.add_argument("--learning-rate", type=float, default=d.learning_rate,
                            help=f"Seed adapter learning rate (default {d.learning_rate}).")
        parser.add_argument("--seed-listener-accuracy", type=float, default=d.seed_listener_accuracy,
                            help="Accuracy of the simulated human listener in simulated seed games.")
        parser.add_argument("--speaker-style", default="{}", help="Simulated speaker style as JSON (docs/simulation.md).")
        parser.add_argument("--evaluate-games", type=int, default=d.evaluate_games,
                            help=f"Simulated games to measure the new policy on (0: skip; default {d.evaluate_games}).")
        parser.add_argument("--evaluate-split", default=d.evaluate_split, choices=["dev", "train", "test"])
        parser.add_argument("--if-missing", action="store_true",
                            help="Do nothing when a checkpoint with this --name exists (for re-runnable setups).")

    def handle(self, *args, **o):
        from training.models import PolicyCheckpoint

        existing = PolicyCheckpoint.objects.filter(name=o["name"]).first()
        if o["if_missing"] and existing is not None:
            self.stdout.write(f"checkpoint {existing.name} (id {existing.pk}) exists: nothing to do")
            return
        try:
            style = json.loads(o["speaker_style"])
        except ValueError:
            raise CommandError("--speaker-style is not valid JSON") from None
        if not isinstance(style, dict):
            raise CommandError("--speaker-style must be a JSON object")
        try:
            options = SeedOptions(
                name=o["name"], games=o["games"], split=o["split"], simulate_missing=o["simulate"], seed=o["seed"],
                base=o["base"], pretrain_games=o["pretrain_games"], pretrain_figures=o["pretrain_figures"],
                pretrain_steps=o["pretrain_steps"], steps=o["steps"], learning_rate=o["learning_rate"],
                seed_listener_accuracy=o["seed_listener_accuracy"], evaluate_games=o["evaluate_games"],
                evaluate_split=o["evaluate_split"], speaker_style=style,
            )
            if o["seed"] < 0:
                raise SeedError("--seed must be >= 0")
            checkpoint = train_seed_policy(options, progress=self.stdout.write)
        except SeedError as exc:
            raise CommandError(str(exc)) from None
        m = checkpoint.metrics
        line = (
            f"checkpoint {checkpoint.name} (id {checkpoint.pk}): base {checkpoint.base_model}, adapter "
            f"{checkpoint.adapter_path}; {m['seed_data']['rows']} seed rows; {m['seconds']:.0f} s"
        )
        if "evaluation" in m:
            e = m["evaluation"]
            line += (
                f"; success {e['success']['mean']:.1%} [{e['success']['low']:.1%}, {e['success']['high']:.1%}], "
                f"turns {e['turns']['mean']:.2f} over {e['games']} simulated {e['split']} games"
            )
        self.stdout.write(self.style.SUCCESS(line))
