import json

from django.core.management.base import BaseCommand, CommandError

from games.domain.stats import summarise
from games.management.cli import progress_bar
from games.services.simulation import LISTENER_KINDS, SimulationError, SimulationOptions, play_seed_games
from games.simulation.agents.annotations import AnnotationFormatError, load_annotations
from games.simulation.agents.speaker import SpeakerStyle, StyleError


def add_simulation_arguments(parser) -> None:
    """Options shared by simulate_games and simulate_round."""
    parser.add_argument("--count", type=int, default=200, help="Number of games (default 200).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the speakers, listeners and configs (default 0).")
    parser.add_argument("--concurrency", type=int, default=1, help="Games played at the same time (default 1).")
    parser.add_argument("--speaker-style", default="{}",
                        help='Speaker style as JSON, e.g. \'{"typo_rate": 0.2, "approve_rate": 0.3}\' '
                             "(see docs/simulation.md).")
    parser.add_argument("--listener-accuracy", type=float, default=0.85,
                        help="How often the simulated human listener picks the image a description fits best "
                             "(default 0.85).")
    parser.add_argument("--descriptions", default=None,
                        help="KILOGRAM-format annotation file: speak with human descriptions where a figure has them.")
    parser.add_argument("--description-rate", type=float, default=None,
                        help="Share of the figures with human descriptions (--descriptions) that the speaker "
                             "describes with them; the rest get generated descriptions (default 1.0).")
    parser.add_argument("--realistic-timing", action="store_true",
                        help="Keep the round's minimum display delay before bot answers (default: none).")


def options_from(options: dict) -> SimulationOptions:
    try:
        style_data = json.loads(options["speaker_style"])
    except ValueError:
        raise CommandError("--speaker-style is not valid JSON") from None
    if options.get("description_rate") is not None and isinstance(style_data, dict):
        style_data = {**style_data, "human_description_rate": options["description_rate"]}
    try:
        style = SpeakerStyle.from_dict(style_data)
    except StyleError as exc:
        raise CommandError(f"--speaker-style: {exc}") from None
    descriptions = None
    if options["descriptions"]:
        try:
            descriptions = load_annotations(options["descriptions"])
        except AnnotationFormatError as exc:
            raise CommandError(f"--descriptions: {exc}") from None
    if options["count"] < 1:
        raise CommandError("--count must be at least 1")
    if options["concurrency"] < 1:
        raise CommandError("--concurrency must be at least 1")
    try:
        return SimulationOptions(style=style, listener_accuracy=options["listener_accuracy"],
                                 descriptions=descriptions, fast=not options["realistic_timing"])
    except SimulationError as exc:
        raise CommandError(str(exc)) from None


def summary_line(label: str, games) -> str:
    summary = summarise([(g.success, g.turns) for g in games])
    return f"{label}: {summary.line()}"


class Command(BaseCommand):
    help = (
        "Play simulated games outside any round through the real game services: a simulated speaker "
        "against a simulated human listener (human-human seed data, the default) or a bot listener "
        "(random, oracle, or a model checkpoint through the normal bot path; set BOT_DISPATCH=inline to "
        "answer in-process). Every turn stores the speaker's intent. Prints a summary with 95% bootstrap CIs."
    )

    def add_arguments(self, parser):
        add_simulation_arguments(parser)
        parser.add_argument("--split", default="dev", choices=["dev", "train", "test", "mixed"],
                            help="Split of the game configs (default dev).")
        parser.add_argument("--listener", default="human", choices=LISTENER_KINDS,
                            help="Who listens: human (a simulated person), random, oracle or model (default human).")
        parser.add_argument("--checkpoint", type=int, default=None, help="Policy checkpoint id (model listener).")

    def handle(self, *args, **options):
        simulation = options_from(options)
        try:
            games = play_seed_games(
                count=options["count"], seed=options["seed"], split=options["split"],
                listener_kind=options["listener"], checkpoint_id=options["checkpoint"], options=simulation,
                concurrency=options["concurrency"], progress=progress_bar("games"),
            )
        except SimulationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(summary_line(f"listener {options['listener']}", games))
