import json

from django.core.management.base import BaseCommand, CommandError

from games.services.rounds import RoundError, launch_round


def system_arg(text: str) -> tuple[str, int | None]:
    name, _, checkpoint = text.partition(":")
    if checkpoint and not checkpoint.isdigit():
        raise ValueError
    return name, int(checkpoint) if checkpoint else None


class Command(BaseCommand):
    help = (
        "Open a round: a shared queue of game configs and one deployment per system. Participants are "
        "assigned to the deployments at random (balanced); each deployment walks its own shuffle of the "
        "queue, so concurrent systems see the same contexts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--system", action="append", type=system_arg, required=True,
                            help="System to deploy, as NAME or NAME:CHECKPOINT_ID (repeatable).")
        parser.add_argument("--number", type=int, default=None, help="Round number (default: next).")
        parser.add_argument("--queue-size", type=int, default=150, help="Configs in the shared queue (default 150).")
        parser.add_argument("--split", default="train", choices=["dev", "train", "test", "mixed"],
                            help="Split to draw configs from (default train).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--study-settings", default="{}",
                            help='Timing and pay as JSON, e.g. \'{"timing": {"speaker_seconds": 45}}\'.')

    def handle(self, *args, system, number, queue_size, split, seed, study_settings, **options):
        try:
            parsed = json.loads(study_settings)
        except ValueError:
            raise CommandError("--study-settings is not valid JSON") from None
        try:
            round_ = launch_round(systems=system, number=number, queue_size=queue_size, split=split, seed=seed,
                                  settings=parsed)
        except RoundError as exc:
            raise CommandError(str(exc)) from None
        deployments = ", ".join(d.system.name for d in round_.deployments.select_related("system"))
        self.stdout.write(f"round {round_.number} open: {round_.queue.count()} configs, deployments: {deployments}")
