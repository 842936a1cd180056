import json

from django.core.management.base import BaseCommand, CommandError

from games.models import System
from games.services.rounds import RoundError, create_system


class Command(BaseCommand):
    help = (
        "Create a system: a named listener configuration that rounds deploy (e.g. ORACLE with the oracle "
        "baseline, HH with human listeners, B-SUP with a model listener, binary decoder and supervised "
        "objective; the baselines FINAL-REWARD (--objective final_reward) and SEED-ONLY (--objective "
        "seed_only) need no decoder). Re-running with the same definition does nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--listener", required=True, choices=System.ListenerKind.values)
        parser.add_argument("--decoder", default="none", choices=System.Decoder.values)
        parser.add_argument("--objective", default="none", choices=System.Objective.values)
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--hyperparameters", default=None, metavar="JSON",
            help='Settings as a JSON object, e.g. \'{"decoding": {"temperature": 1.0}, "training": {"steps": 600}}\'.',
        )

    def handle(self, *args, name, listener, decoder, objective, description, hyperparameters, **options):
        try:
            parsed = json.loads(hyperparameters) if hyperparameters is not None else None
        except json.JSONDecodeError as exc:
            raise CommandError(f"--hyperparameters is not JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from None
        if parsed is not None and not isinstance(parsed, dict):
            raise CommandError("--hyperparameters must be a JSON object")
        try:
            system = create_system(name, listener_kind=listener, decoder=decoder, objective=objective,
                                   description=description, hyperparameters=parsed)
        except RoundError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"system {system.name}: listener {system.listener_kind}, decoder {system.decoder}, "
                          f"objective {system.objective}")
