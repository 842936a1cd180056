from django.core.management.base import BaseCommand, CommandError

from feedback.decoders.registry import DECODER_NAMES


class Command(BaseCommand):
    help = (
        "Decode the implicit feedback of a round: label each listener action positive / neutral / negative "
        "from the speaker's next message, with each system's own decoder (or --decoder). Idempotent: turns "
        "already labelled by the same decoder and version are skipped; the last turn of a game has no "
        "follow-up and gets no label."
    )

    def add_arguments(self, parser):
        parser.add_argument("--round", type=int, required=True, dest="round_number", help="Round number.")
        parser.add_argument("--system", default=None, help="Only this system (name).")
        parser.add_argument(
            "--decoder", choices=DECODER_NAMES, default=None,
            help="Use this decoder instead of each system's own (a prompted one runs on the system's base model).",
        )
        parser.add_argument(
            "--final-turn-outcome", action="store_true",
            help="Also label the last turn of each successful game positive, under the separate decoder name "
            "'final-outcome' (off by default).",
        )
        parser.add_argument(
            "--mark-decoded", action="store_true",
            help="Afterwards move a closed round to 'decoded' (only with every system and its own decoder).",
        )
        parser.add_argument("--batch-size", type=int, default=None, help="Prompted decoder batch size.")
        parser.add_argument(
            "--queue", action="store_true", help="Send the work to the Celery 'feedback' queue instead of running here.",
        )

    def handle(self, *args, round_number, system, decoder, final_turn_outcome, mark_decoded, batch_size, queue,
               **options):
        from feedback.services.decoding import DecodeError, decode_round

        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be >= 1")
        if queue:
            return self._enqueue(round_number, system, decoder, final_turn_outcome, mark_decoded)
        try:
            report = decode_round(
                round_number, system_name=system, decoder_name=decoder, final_turn_outcome=final_turn_outcome,
                mark_decoded=mark_decoded, batch_size=batch_size, progress=self.stdout.write,
            )
        except DecodeError as exc:
            raise CommandError(str(exc)) from None
        for item in report.deployments:
            if item.decoder is None:
                continue
            counts = ", ".join(f"{k} {v}" for k, v in sorted(item.added.items())) or "nothing new"
            self.stdout.write(
                f"{item.system_name}: {item.decoder} {item.version}: +{sum(item.added.values())} ({counts}); "
                f"{item.already} already labelled; {item.no_follow_up} last turns without a follow-up"
            )
        if report.marked_decoded:
            self.stdout.write(f"round {round_number} marked decoded")
        self.stdout.write(self.style.SUCCESS(f"round {round_number}: {report.added} new labels"))

    def _enqueue(self, round_number, system, decoder, final_turn_outcome, mark_decoded):
        from feedback.tasks import decode_round as task
        from games.selectors import feedback_deployments

        try:
            deployments = feedback_deployments(round_number, system)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        if not deployments:
            raise CommandError(f"round {round_number} has no deployments")
        system_id = None
        if system is not None:
            from games.selectors import system_id_by_name

            system_id = system_id_by_name(system)
        result = task.apply_async(
            args=(deployments[0]["round_id"], system_id, decoder, final_turn_outcome, mark_decoded)
        )
        self.stdout.write(self.style.SUCCESS(f"queued feedback.tasks.decode_round as {result.id}"))
