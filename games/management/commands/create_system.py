from django.core.management.base import BaseCommand, CommandError

from games.services.rounds import RoundError, create_system


class Command(BaseCommand):
    help = (
        "Create a system: a named listener configuration that rounds deploy (e.g. ORACLE with the oracle "
        "baseline, HH with human listeners, B-SUP with a model listener, binary decoder and supervised "
        "objective). Re-running with the same definition does nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--listener", required=True, choices=["model", "human", "random", "oracle"])
        parser.add_argument("--decoder", default="none", choices=["none", "binary", "ternary", "lexicon"])
        parser.add_argument("--objective", default="none", choices=["none", "sup", "rl", "kto"])
        parser.add_argument("--description", default="")

    def handle(self, *args, name, listener, decoder, objective, description, **options):
        try:
            system = create_system(name, listener_kind=listener, decoder=decoder, objective=objective,
                                   description=description)
        except RoundError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # e.g. an invalid name
            raise CommandError(f"cannot create system {name!r}: {exc}") from None
        self.stdout.write(f"system {system.name}: listener {system.listener_kind}, decoder {system.decoder}, "
                          f"objective {system.objective}")
