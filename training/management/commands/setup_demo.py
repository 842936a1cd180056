from django.core.management.base import BaseCommand, CommandError

from games.selectors import round_deployments
from games.services.journey import open_round
from games.services.rounds import RoundError, create_system, launch_round
from training.selectors import checkpoint_id_by_name, newest_trained_checkpoints
from training.services.study import HH, ensure_human_human_system


class Command(BaseCommand):
    help = (
        "Prepare the embedded demo: baseline systems (ORACLE, RANDOM, HH), the model system SEED when a "
        "policy checkpoint named 'seed' exists (train_seed makes it), every system the learning loop has "
        "trained with its newest checkpoint (run_study makes them), and an open round deploying them, "
        "unless a round is already open. Prints the entry links to play. Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--split", default="train", choices=["dev", "train", "test"])
        parser.add_argument("--queue-size", type=int, default=50)

    def handle(self, *args, split, queue_size, **options):
        try:
            create_system("ORACLE", listener_kind="oracle", description="Baseline: selects the targets.")
            create_system("RANDOM", listener_kind="random", description="Baseline: one or two random toggles.")
            ensure_human_human_system()
            systems = [("ORACLE", None), ("RANDOM", None), (HH, None)]
            seed = checkpoint_id_by_name("seed")
            if seed is not None:
                create_system(
                    "SEED", listener_kind="model", decoder="lexicon",
                    description="The initial policy (train_seed): the compact listener with its seed adapter.",
                )
                systems.append(("SEED", seed))
            # The newest policy of every system the learning loop has trained (e.g. the demo study's B-SUP).
            systems += sorted(newest_trained_checkpoints().items())
            current = open_round()
            if current is None:
                current = launch_round(systems=systems, queue_size=queue_size, split=split)
        except RoundError as exc:
            raise CommandError(str(exc)) from None
        deployed = ", ".join(f"{name} ({checkpoint or '-'})" for name, checkpoint in current_deployments(current.number))
        self.stdout.write(f"round {current.number} is open: {deployed}")
        self.stdout.write("play as a worker: http://127.0.0.1:8000/play/?workerId=DEMO1&assignmentId=A1&hitId=H1")
        self.stdout.write("(a second worker, e.g. workerId=DEMO2, in another browser can pair for a human-human game)")


def current_deployments(number: int) -> list[tuple[str, str | None]]:
    from training.models import PolicyCheckpoint

    names = dict(PolicyCheckpoint.objects.values_list("pk", "name"))
    return [(d["system_name"], names.get(d["checkpoint_id"])) for d in round_deployments(number)]
