import json
import logging
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from training.services.runs import TrainingError
from training.services.study import STANDARD_SYSTEMS, StudyOptions, run_study, table_text


class Command(BaseCommand):
    help = (
        "Run a whole study in simulation: deploy the systems with the initial policy, let simulated "
        "speakers (a population the initial policy was not pre-trained on) play --games-per-round games "
        "per system through the game services, then close, decode, retrain and launch the next round, for "
        "--rounds rounds. Resumable (state in OUT/study.json). Writes OUT/rounds.csv and OUT/success.png. "
        f"Standard systems are created on demand: {', '.join(STANDARD_SYSTEMS)}."
    )

    def add_arguments(self, parser):
        parser.add_argument("--simulate", action="store_true", required=True,
                            help="Play the games with simulated speakers (the only mode so far).")
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--games-per-round", type=int, default=200, help="Games per system per round.")
        parser.add_argument("--systems", default="B-SUP,CONTROL", help="Comma-separated system names.")
        parser.add_argument("--initial", default="seed", help="The initial policy's checkpoint name (default seed).")
        parser.add_argument("--population", default="shifted", help="Speaker population deployed (default shifted).")
        parser.add_argument("--speaker-style", default="{}", help="Speaker style settings as JSON.")
        parser.add_argument("--training", default="{}",
                            help='Training settings of systems created here, as JSON (e.g. \'{"steps": 300}\').')
        parser.add_argument("--split", default="train", choices=["dev", "train", "test"])
        parser.add_argument("--queue-size", type=int, default=150)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--concurrency", type=int, default=1, help="Games played at once.")
        parser.add_argument("--hh-games", type=int, default=40,
                            help="Human-human games per round (system HH, simulated listener): a reference row and "
                                 "the people's actions that select each training run's checkpoint; 0: none (default 40).")
        parser.add_argument("--out", default=None, help="Output folder (default DATA_DIR/studies/study).")

    def handle(self, *args, rounds, games_per_round, systems, initial, population, speaker_style, training,
               split, queue_size, seed, concurrency, hh_games, out, **options):
        if options["verbosity"] < 2:  # one log line per bot turn is for workers, not for a study's console
            logging.getLogger("training.services.inference").setLevel(logging.WARNING)
        try:
            style, train = json.loads(speaker_style), json.loads(training)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--speaker-style / --training is not JSON: {exc.msg}") from None
        if not isinstance(style, dict) or not isinstance(train, dict):
            raise CommandError("--speaker-style and --training must be JSON objects")
        names = tuple(s.strip() for s in systems.split(",") if s.strip())
        folder = Path(out) if out else Path(settings.DATA_DIR) / "studies" / "study"
        try:
            study = StudyOptions(
                out=folder, systems=names, rounds=rounds, games_per_round=games_per_round, initial=initial,
                population=population, speaker_style=style, training=train, split=split, queue_size=queue_size,
                seed=seed, concurrency=concurrency, hh_games=hh_games,
            )
            rows = run_study(study, progress=self.stdout.write)
        except TrainingError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(table_text(rows))
        self.stdout.write(f"table: {folder / 'rounds.csv'}  plot: {folder / 'success.png'}")
