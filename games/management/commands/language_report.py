import json

from django.core.management.base import BaseCommand, CommandError

from games import selectors
from games.domain.language import REAL_REFERENCE, realism_stats, realism_table
from games.management.cli import progress_bar
from games.models import Interaction, ParticipantPlatform
from games.simulation import SpeakerContext, SpeakerStyle, StyleError, generated_games, play_game
from games.simulation.agents.annotations import AnnotationFormatError, load_annotations
from games.domain.seeds import derive_seed
from games.domain.tangrams import TangramFigure


class Command(BaseCommand):
    help = (
        "The realism report: how a set of games talks (word types, type/token ratio, message lengths, cue "
        "rates, geometry / ordinal / back-reference / letter rates, turns per game, success), side by side "
        "with people playing MultiRef. The games are simulated in memory (--simulate N, one column per "
        "--population) or read from the database (--database, with optional filters)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--simulate", type=int, default=None, metavar="N",
                            help="Play N games in memory per population (simulated speaker and human listener).")
        parser.add_argument("--population", action="append", default=None,
                            help="Speaker population of the simulated games (repeat for several columns; "
                                 "default people).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the simulated games (default 0).")
        parser.add_argument("--speaker-style", default="{}", help="Speaker style as JSON (docs/simulation.md).")
        parser.add_argument("--listener-accuracy", type=float, default=0.85,
                            help="Accuracy of the simulated human listener (default 0.85).")
        parser.add_argument("--split", default=None, choices=["dev", "train", "test", "mixed"],
                            help="Simulate on the library's configs of this split instead of generated figures.")
        parser.add_argument("--descriptions", default=None,
                            help="KILOGRAM-format annotation file: human descriptions mixed in (with --split).")
        parser.add_argument("--description-rate", type=float, default=None,
                            help="Share of the figures with annotations described with them (default: style's, 1.0).")
        parser.add_argument("--database", action="store_true", help="Report the games recorded in the database.")
        parser.add_argument("--purpose", default=None, choices=Interaction.Purpose.values,
                            help="With --database: only games of this purpose.")
        parser.add_argument("--round", type=int, default=None, help="With --database: only games of this round.")
        parser.add_argument("--platform", default=None, choices=ParticipantPlatform.values,
                            help="With --database: only games whose speaker is on this platform.")
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON instead of a table.")

    def handle(self, *args, **options):
        if options["simulate"] is None and not options["database"]:
            raise CommandError("say which games: --simulate N or --database")
        columns: list[tuple[str, object]] = []
        if options["database"]:
            games = selectors.game_transcripts(purpose=options["purpose"], round_number=options["round"],
                                               platform=options["platform"])
            if not games:
                raise CommandError("no ended games with turns match in the database")
            columns.append(("database", realism_stats([g for g, _ in games], [s for _, s in games])))
        if options["simulate"] is not None:
            columns += self._simulated(options)
        if options["json"]:
            self.stdout.write(json.dumps({name: stats.to_dict() for name, stats in columns} | {
                "people": REAL_REFERENCE}, indent=2))
            return
        tables = [realism_table(stats) for _, stats in columns]
        names = [name for name, _ in columns] + ["real people"]
        width = max(14, *(len(n) for n in names))
        self.stdout.write(f"{'':<20}" + "".join(f"{n:>{width + 2}}" for n in names))
        for i, (key, _, people) in enumerate(tables[0]):
            values = [table[i][1] for table in tables] + [people]
            self.stdout.write(f"{key:<20}" + "".join(f"{v:>{width + 2}}" for v in values))
        self.stdout.write("(cue rates over follow-ups, that is every message after a game's first; the other "
                          "rates over all messages)")

    def _simulated(self, options) -> list[tuple[str, object]]:
        count = options["simulate"]
        if count < 1:
            raise CommandError("--simulate must be at least 1")
        accuracy = options["listener_accuracy"]
        if not 0.0 <= accuracy <= 1.0:
            raise CommandError("--listener-accuracy must be in [0, 1]")
        try:
            base = json.loads(options["speaker_style"])
        except ValueError:
            raise CommandError("--speaker-style is not valid JSON") from None
        if not isinstance(base, dict):
            raise CommandError("--speaker-style: a speaker style must be a JSON object")
        if options["description_rate"] is not None:
            base["human_description_rate"] = options["description_rate"]
        descriptions = None
        if options["descriptions"]:
            if not options["split"]:
                raise CommandError("--descriptions needs --split (human descriptions are of the library's tangrams)")
            try:
                descriptions = load_annotations(options["descriptions"])
            except AnnotationFormatError as exc:
                raise CommandError(f"--descriptions: {exc}") from None
        contexts = None
        if options["split"]:
            contexts = selectors.split_simulation_contexts(options["split"], count)
            if not contexts:
                raise CommandError(f"no game configs in the {options['split']} split")
        columns = []
        for name in options["population"] or ["people"]:
            try:
                style = SpeakerStyle.from_dict({**base, "population": name})
            except StyleError as exc:
                raise CommandError(f"--speaker-style / --population: {exc}") from None
            self.stderr.write(f"playing {count} games of the {name} population ...")
            if contexts is None:
                games = generated_games(count, style, seed=options["seed"], listener_accuracy=accuracy)
            else:
                games = []
                for i, (spec, polygons) in enumerate(progress_bar(f"{name} games")(contexts, len(contexts))):
                    figures = {image: TangramFigure.from_json(p) for image, p in polygons.items()}
                    context = SpeakerContext.of(spec, figures, descriptions)
                    games.append(play_game(context, style, seed=derive_seed(options["seed"], "game", i),
                                           listener_order=spec.listener_order, listener_accuracy=accuracy))
            stats = realism_stats([[t.utterance for t in g.turns] for g in games], [g.success for g in games])
            columns.append((f"{name} ({len(games)} games)", stats))
        return columns
