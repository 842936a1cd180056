from collections import defaultdict

from django.core.management.base import BaseCommand, CommandError

from games.management.cli import progress_bar
from games.management.commands.simulate_games import add_simulation_arguments, options_from, summary_line
from games.services.simulation import SimulationError, play_round_games


class Command(BaseCommand):
    help = (
        "Play simulated interactions against a round's deployments (the open round by default), taken in "
        "turn, each on its deployment's next config, through the same services as people; human-human "
        "deployments get a simulated human listener. With --websocket URL, simulated participants go "
        "through the site like browsers instead (entry link, consent, practice, lobby, websocket game, "
        "survey). Prints a summary per system with 95% bootstrap CIs."
    )

    def add_arguments(self, parser):
        add_simulation_arguments(parser)
        parser.add_argument("--round", type=int, default=None, dest="round_number",
                            help="Round number (default: the open round).")
        parser.add_argument("--system", action="append", default=None,
                            help="Only play against this system's deployment (repeatable).")
        parser.add_argument("--websocket", default=None, metavar="URL",
                            help="Base URL of a running site, e.g. http://127.0.0.1:8000: play through its pages "
                                 "and websocket like browsers (the site's own open round is used).")

    def handle(self, *args, **options):
        simulation = options_from(options)
        if options["websocket"]:
            return self._websocket(options, simulation)
        try:
            games = play_round_games(
                count=options["count"], seed=options["seed"], round_number=options["round_number"],
                systems=options["system"], options=simulation, concurrency=options["concurrency"],
                progress=progress_bar("games"),
            )
        except SimulationError as exc:
            raise CommandError(str(exc)) from None
        by_system = defaultdict(list)
        for game in games:
            by_system[game.system].append(game)
        for system, played in sorted(by_system.items()):
            self.stdout.write(summary_line(f"system {system}", played))
        if len(by_system) > 1:
            self.stdout.write(summary_line("all systems", games))

    def _websocket(self, options, simulation):
        from games.simulation.drivers.remote import RemoteError, run_remote_participants

        if options["round_number"] is not None or options["system"]:
            raise CommandError("--round and --system do not apply with --websocket: the site assigns deployments")
        try:
            results = run_remote_participants(
                options["websocket"], count=options["count"], seed=options["seed"],
                concurrency=options["concurrency"], style=simulation.style,
                listener_accuracy=simulation.listener_accuracy, descriptions=simulation.descriptions,
                progress=progress_bar("participants"),
            )
        except RemoteError as exc:
            raise CommandError(str(exc)) from None
        played = [r for r in results if r.interaction_id is not None and r.role == "speaker"]
        unmatched = sum(1 for r in results if r.interaction_id is None)
        if played:
            from games.domain.stats import summarise

            self.stdout.write(f"websocket games (speaker view): "
                              f"{summarise([(r.success, r.turns) for r in played]).line()}")
        self.stdout.write(f"{len(results)} participants, {unmatched} without a game (lobby timeout), "
                          f"{sum(r.error is not None for r in results)} errors")
        for r in results:
            if r.error:
                self.stderr.write(f"participant {r.worker}: {r.error}")
