"""Export a study's tables (JSON lines or Parquet) with a generated data card.

``create_export`` checks the request and records a ``StudyExport``; ``run_export`` writes it, table by
table, in row batches read with ``.iterator()`` (never the whole study in memory), recording its
progress on the row as it goes; ``start_export`` hands it to a worker (``TRAINING_DISPATCH=celery``:
task ``training.tasks.export_study``) or runs it in the caller. The tables and their columns are
``training.study_format.TABLES``; ``study_import`` reads them back.

The export is written into ``<OUT>.partial-<id>`` and renamed to ``OUT`` when complete, so a folder
named ``OUT`` is always a finished export. Rows created after the export started are left out (a
creation-time cutoff), so that every reference points at a row of the export.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from feedback.models import Annotation, AnnotationCampaign, CampaignTurn, FeedbackLabel
from games import selectors as games_selectors
from games.models import (
    ContextImage, Deployment, GameConfig, Interaction, Participant, Round, RoundConfig, SpeakerIntent, System,
    Tangram, Turn,
)
from games.services.journey import hash_external_id
from training import study_format as fmt
from training.models import PolicyCheckpoint, StudyExport, TrainingRun

Progress = Callable[[str], None]
BATCH_ROWS = 500  # rows per written batch, and per chunk read from the database
GAMES_PER_CHUNK = 200  # games read at once, with their turns
PSEUDONYM = re.compile(r"^annotator-[0-9a-f]{16}$")


class ExportError(ValueError):
    """An export that cannot run as asked; the message is a one-line reason."""


def _quiet(message: str) -> None:
    pass


def annotator_pseudonym(username: str) -> str:
    """A stable pseudonym for a staff user (annotator, adjudicator): ``annotator-`` + 16 hex digits of a
    keyed hash of the user name (the installation's ``PARTICIPANT_HASH_KEY``). A user imported under a
    pseudonym keeps it, so export -> import -> export gives the same names."""
    if PSEUDONYM.match(username):
        return username
    return "annotator-" + hash_external_id(f"annotator:{username}")[:16]


# --------------------------------------------------------------------------------------- requests


def create_export(path: str | Path, *, format: str, round_number: int | None = None, alias: str = "") -> StudyExport:
    """Record an export of the study (or of one round's play data) to the folder ``path``."""
    if format not in fmt.FORMATS:
        raise ExportError(f"unknown format {format!r}: use {' or '.join(fmt.FORMATS)}")
    out = Path(path)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} exists and is not an empty folder: choose a new one")
    if not out.parent.exists():
        raise ExportError(f"{out.parent} does not exist")
    if round_number is not None and not Round.objects.filter(number=round_number).exists():
        raise ExportError(f"round {round_number} does not exist")
    alias = alias or (f"respect-round-{round_number}" if round_number is not None else "respect")
    if len(alias) > StudyExport._meta.get_field("alias").max_length:
        raise ExportError("the alias is too long (at most 100 characters)")
    return StudyExport.objects.create(path=str(out.resolve()), format=format, round_number=round_number, alias=alias)


def start_export(export: StudyExport, *, progress: Progress = _quiet) -> None:
    """Run the export on a worker (``TRAINING_DISPATCH=celery``, after this transaction commits) or here."""
    if settings.TRAINING_DISPATCH == "inline":
        run_export(export.pk, progress=progress)
        return
    from training.tasks import export_study

    transaction.on_commit(lambda: export_study.apply_async(args=(export.pk,)))


def run_export(export_id: int, *, progress: Progress = _quiet) -> StudyExport:
    """Write a queued export. Idempotent: an export that is running or finished is left alone. A failure
    is recorded on the row (status failed, error) and the partial folder removed."""
    claimed = StudyExport.objects.filter(pk=export_id, status=StudyExport.Status.QUEUED).update(
        status=StudyExport.Status.RUNNING, started_at=timezone.now()
    )
    export = StudyExport.objects.get(pk=export_id)
    if not claimed:
        return export
    started = time.monotonic()
    out = Path(export.path)
    partial = out.with_name(f"{out.name}.partial-{export.pk}")
    try:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise ExportError(f"{out} exists and is not an empty folder")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        counts = _write_all(export, partial, progress)
        if out.exists():
            out.rmdir()
        partial.rename(out)
    except Exception as exc:
        shutil.rmtree(partial, ignore_errors=True)
        StudyExport.objects.filter(pk=export_id).update(
            status=StudyExport.Status.FAILED, error=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}",
            finished_at=timezone.now(), seconds=time.monotonic() - started,
        )
        raise
    StudyExport.objects.filter(pk=export_id).update(
        status=StudyExport.Status.SUCCEEDED, progress=1.0, counts=counts, current_table="",
        finished_at=timezone.now(), seconds=time.monotonic() - started,
    )
    export.refresh_from_db()
    progress(f"export {export.pk} written to {out} ({sum(counts.values())} rows)")
    return export


# --------------------------------------------------------------------------------------- writing


class _JsonlWriter:
    def __init__(self, path: Path, table: fmt.Table):
        self.file = path.open("w", encoding="utf-8")

    def write(self, rows: list[dict]) -> None:
        self.file.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))

    def close(self) -> None:
        self.file.close()


class _ParquetWriter:
    def __init__(self, path: Path, table: fmt.Table):
        import pyarrow.parquet as pq

        self.schema = fmt.arrow_schema(table)
        self.writer = pq.ParquetWriter(str(path), self.schema)

    def write(self, rows: list[dict]) -> None:
        import pyarrow as pa

        self.writer.write_table(pa.Table.from_pylist(rows, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


WRITERS = {"jsonl": _JsonlWriter, "parquet": _ParquetWriter}


def _write_all(export: StudyExport, folder: Path, progress: Progress) -> dict[str, int]:
    source = _Source(export)
    totals = {name: source.count(name) for name in fmt.TABLE_NAMES}
    total = sum(totals.values())
    StudyExport.objects.filter(pk=export.pk).update(rows_total=total)
    progress(f"export {export.pk}: {total} rows in {len(totals)} tables ({export.format})")
    counts: dict[str, int] = {}
    done = 0
    ext = fmt.EXTENSIONS[export.format]
    for table in fmt.TABLES:
        writer = WRITERS[export.format](folder / f"{table.name}{ext}", table)
        written = 0
        try:
            for batch in _batches(source.rows(table.name)):
                writer.write(batch)
                written += len(batch)
                done += len(batch)
                StudyExport.objects.filter(pk=export.pk).update(
                    rows_done=done, progress=min(1.0, done / total) if total else 0.0, current_table=table.name,
                )
        finally:
            writer.close()
        counts[table.name] = written
        StudyExport.objects.filter(pk=export.pk).update(counts=counts, current_table=table.name)
        progress(f"{table.name}: {written} rows")
    manifest = {
        "format_version": fmt.FORMAT_VERSION, "format": export.format, "alias": export.alias,
        "round": export.round_number, "created_at": _dt(source.cutoff), "counts": counts,
        "tables": {t.name: f"{t.name}{ext}" for t in fmt.TABLES},
    }
    (folder / fmt.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (folder / fmt.CARD).write_text(fmt.data_card(manifest=manifest), encoding="utf-8")
    return counts


def _batches(rows: Iterable[dict], size: int = BATCH_ROWS) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _dt(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _key(participant_id: int | None, keys: dict[int, str]) -> str | None:
    return None if participant_id is None else keys[participant_id]


# --------------------------------------------------------------------------------------- reading


class _Source:
    """The rows of every table, read in chunks; small lookup tables (names of configs, systems,
    checkpoints, ...) are held in memory, play data never is."""

    def __init__(self, export: StudyExport):
        self.alias = export.alias
        self.round = export.round_number
        self.cutoff = export.started_at or timezone.now()
        self.config_names = dict(GameConfig.objects.values_list("pk", "name"))
        self.tangram_names = dict(Tangram.objects.values_list("pk", "name"))
        self.system_names = dict(System.objects.values_list("pk", "name"))
        self.round_numbers = dict(Round.objects.values_list("pk", "number"))
        self.checkpoint_names = dict(PolicyCheckpoint.objects.values_list("pk", "name"))
        self.deployments = {
            pk: (self.round_numbers[r], self.system_names[s])
            for pk, r, s in Deployment.objects.values_list("pk", "round_id", "system_id")
        }
        self._specs: dict[int, tuple] = {}
        self._users: dict[int, str] = {}

    # --- which rows

    def _created(self, qs, field: str = "created_at"):
        return qs.filter(**{f"{field}__lte": self.cutoff})

    def interactions(self):
        qs = self._created(Interaction.objects.all())
        if self.round is not None:
            qs = qs.filter(deployment__round__number=self.round)
        return qs

    def turns(self):
        return self._created(Turn.objects.filter(interaction__in=self.interactions()))

    def participants(self):
        qs = self._created(Participant.objects.all())
        if self.round is not None:
            games = self.interactions()
            qs = qs.filter(Q(pk__in=games.values("speaker_id")) | Q(pk__in=games.values("listener_id")))
        return qs

    def campaign_turns(self):
        return CampaignTurn.objects.filter(turn__in=self.turns())

    def campaigns(self):
        qs = self._created(AnnotationCampaign.objects.all())
        if self.round is not None:
            qs = qs.filter(pk__in=self.campaign_turns().values("campaign_id"))
        return qs

    def querysets(self) -> dict:
        runs = self._created(TrainingRun.objects.all())
        if self.round is not None:
            runs = runs.filter(round__number=self.round)
        return {
            "tangram": self._created(Tangram.objects.all()),
            "game_config": self._created(GameConfig.objects.all()),
            "context_image": ContextImage.objects.filter(config__in=self._created(GameConfig.objects.all())),
            "system": self._created(System.objects.all()),
            "round": self._created(Round.objects.all()),
            "checkpoint": self._created(PolicyCheckpoint.objects.all()),
            "deployment": self._created(Deployment.objects.all()),
            "participant": self.participants(),
            "interaction": self.interactions(),
            "turn": self.turns(),
            "speaker_intent": SpeakerIntent.objects.filter(interaction__in=self.interactions()),
            "feedback_label": self._created(FeedbackLabel.objects.filter(turn__in=self.turns())),
            "training_run": runs,
            "annotation_campaign": self.campaigns(),
            "campaign_turn": self.campaign_turns(),
            "annotation": Annotation.objects.filter(entry__in=self.campaign_turns()),
        }

    def count(self, table: str) -> int:
        return self.querysets()[table].count()

    def rows(self, table: str) -> Iterator[dict]:
        qs = self.querysets()[table]
        yield from getattr(self, f"_{table}")(qs)

    # --- helpers

    def spec(self, config_id: int) -> tuple[list[str], list[str], list[str]]:
        """(speaker order, listener order, sorted targets) of a config."""
        if config_id not in self._specs:
            spec = games_selectors.get_context_spec(config_id)
            self._specs[config_id] = (
                list(spec.speaker_order), list(spec.listener_order), sorted(spec.images[: spec.num_targets]),
            )
        return self._specs[config_id]

    def user(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        if user_id not in self._users:
            username = get_user_model().objects.values_list("username", flat=True).get(pk=user_id)
            self._users[user_id] = annotator_pseudonym(username)
        return self._users[user_id]

    def participant_keys(self, ids: Iterable[int | None]) -> dict[int, str]:
        wanted = {i for i in ids if i is not None}
        return {
            pk: f"{platform}:{digest}"
            for pk, platform, digest in Participant.objects.filter(pk__in=wanted).values_list(
                "pk", "platform", "external_id_hash"
            )
        }

    def deployment_of(self, deployment_id: int | None) -> tuple[int | None, str | None]:
        return self.deployments[deployment_id] if deployment_id is not None else (None, None)

    def checkpoint(self, checkpoint_id: int | None) -> str | None:
        return None if checkpoint_id is None else self.checkpoint_names[checkpoint_id]

    # --- tables

    def _tangram(self, qs):
        for t in qs.order_by("pk").iterator(chunk_size=200):
            yield {
                "name": t.name, "source": t.source, "split": t.split, "polygons": _json(t.polygons), "svg": t.svg,
                "png": base64.b64encode(bytes(t.png)).decode("ascii"), "seed": t.seed, "source_file": t.source_file,
                "created_at": _dt(t.created_at),
            }

    def _game_config(self, qs):
        for c in qs.order_by("pk").iterator(chunk_size=BATCH_ROWS):
            yield {
                "name": c.name, "split": c.split, "origin": c.origin, "num_targets": c.num_targets, "seed": c.seed,
                "source_file": c.source_file, "created_at": _dt(c.created_at),
            }

    def _context_image(self, qs):
        for i in qs.order_by("config_id", "index").iterator(chunk_size=BATCH_ROWS):
            yield {
                "config": self.config_names[i.config_id], "tangram": self.tangram_names[i.tangram_id],
                "index": i.index, "is_target": i.is_target, "speaker_position": i.speaker_position,
                "listener_position": i.listener_position,
            }

    def _system(self, qs):
        for s in qs.order_by("pk").iterator(chunk_size=BATCH_ROWS):
            yield {
                "name": s.name, "description": s.description, "listener_kind": s.listener_kind, "decoder": s.decoder,
                "objective": s.objective, "hyperparameters": _json(s.hyperparameters), "created_at": _dt(s.created_at),
            }

    def _round(self, qs):
        for r in qs.order_by("number").iterator(chunk_size=100):
            entries = list(RoundConfig.objects.filter(round=r).order_by("position").values_list("config_id", "position"))
            yield {
                "number": r.number, "status": r.status, "notes": r.notes, "created_at": _dt(r.created_at),
                "opened_at": _dt(r.opened_at), "closed_at": _dt(r.closed_at), "decoded_at": _dt(r.decoded_at),
                "trained_at": _dt(r.trained_at), "settings": _json(r.settings),
                "queue": [self.config_names[c] for c, _ in entries], "queue_positions": [p for _, p in entries],
            }

    def _checkpoint(self, qs):
        for c in qs.order_by("pk").iterator(chunk_size=BATCH_ROWS):
            yield {
                "name": c.name, "base_model": c.base_model, "adapter_path": c.adapter_path,
                "parent": self.checkpoint(c.parent_id),
                "round": None if c.round_id is None else self.round_numbers[c.round_id],
                "system": None if c.system_id is None else self.system_names[c.system_id],
                "objective": c.objective, "metrics": _json(c.metrics), "created_at": _dt(c.created_at),
            }

    def _deployment(self, qs):
        for d in qs.order_by("pk").iterator(chunk_size=BATCH_ROWS):
            yield {
                "round": self.round_numbers[d.round_id], "system": self.system_names[d.system_id],
                "checkpoint": self.checkpoint(d.checkpoint_id), "queue_seed": d.queue_seed,
                "queue_cursor": d.queue_cursor, "created_at": _dt(d.created_at),
            }

    def _participant(self, qs):
        for p in qs.order_by("pk").iterator(chunk_size=BATCH_ROWS):
            waiting_round, waiting_system = self.deployment_of(p.waiting_for_id)
            yield {
                "participant": f"{p.platform}:{p.external_id_hash}", "platform": p.platform,
                "external_id_hash": p.external_id_hash, "session_id_hash": p.session_id_hash,
                "browser_hash": p.browser_hash, "consented_at": _dt(p.consented_at),
                "completed_at": _dt(p.completed_at), "survey": _json(p.survey), "bonus": str(p.bonus),
                "completion_code": p.completion_code, "stage": p.stage, "expert": p.expert, "practiced": p.practiced,
                "study_ref": p.study_ref, "submit_url": p.submit_url, "lobby_entered_at": _dt(p.lobby_entered_at),
                "lobby_left_at": _dt(p.lobby_left_at), "waiting_round": waiting_round,
                "waiting_system": waiting_system, "end_note": p.end_note, "created_at": _dt(p.created_at),
            }

    def _interaction(self, qs):
        chunk = []
        for game in qs.order_by("pk").iterator(chunk_size=GAMES_PER_CHUNK):
            chunk.append(game)
            if len(chunk) >= GAMES_PER_CHUNK:
                yield from self._interaction_rows(chunk)
                chunk = []
        yield from self._interaction_rows(chunk)

    def _interaction_rows(self, games: list[Interaction]):
        keys = self.participant_keys([g.speaker_id for g in games] + [g.listener_id for g in games])
        # The chunk's turns as plain values (model instances with a prefetch cache would form reference
        # cycles that only the cyclic garbage collector frees, so memory would grow with the study).
        played: dict[int, list[tuple[str, list]]] = {g.pk: [] for g in games}
        turns = self._created(Turn.objects.filter(interaction_id__in=list(played)))
        for game_id, utterance, after in turns.order_by("interaction_id", "index").values_list(
            "interaction_id", "utterance", "selection_after"
        ):
            played[game_id].append((utterance, after))
        for g in games:
            speaker_order, listener_order, targets = self.spec(g.config_id)
            round_number, system = self.deployment_of(g.deployment_id)
            length = (g.ended_at - g.started_at).total_seconds() if g.started_at and g.ended_at else None
            yield {
                "game_id": g.pk, "turn": g.turn_count, "end": g.end_reason, "speaker": _key(g.speaker_id, keys),
                "listener": _key(g.listener_id, keys), "len": length,
                "clicks": [list(after) for _, after in played[g.pk]], "context": speaker_order,
                "context_listener": listener_order, "targets": targets, "chat": [u for u, _ in played[g.pk]],
                "dataset_alias": self.alias, "policy_name": system or "", "date": g.created_at.astimezone(UTC).date().isoformat(),
                "round": round_number, "system": system, "config": self.config_names[g.config_id],
                "purpose": g.purpose, "status": g.status, "success": g.succeeded, "listener_kind": g.listener_kind,
                "checkpoint": self.checkpoint(g.checkpoint_id), "settings": _json(g.settings),
                "created_at": _dt(g.created_at), "started_at": _dt(g.started_at), "ended_at": _dt(g.ended_at),
                "phase": g.phase, "turn_started_at": _dt(g.turn_started_at), "phase_started_at": _dt(g.phase_started_at),
                "phase_deadline": _dt(g.phase_deadline), "pending_utterance": g.pending_utterance,
                "live_selection": list(g.live_selection), "listener_clicked": g.listener_clicked,
                "bot_attempt": g.bot_attempt, "held_action": None if g.held_action is None else _json(g.held_action),
                "held_action_at": _dt(g.held_action_at), "version": g.version,
            }

    def _turn(self, qs):
        games = qs.select_related("interaction").order_by("interaction_id", "index").iterator(chunk_size=BATCH_ROWS)
        for _, group in groupby(games, key=lambda t: t.interaction_id):
            turns = list(group)  # one game: at most MAX_TURNS rows
            game = turns[0].interaction
            _, listener_order, targets = self.spec(game.config_id)
            round_number, system = self.deployment_of(game.deployment_id)
            date = game.created_at.astimezone(UTC).date().isoformat()
            for i, t in enumerate(turns):
                yield {
                    "game_turn_id": fmt.game_turn_id(game.pk, t.index), "game_id": game.pk, "turn_id": t.index,
                    "chats": [u.utterance for u in turns[: i + 1]],
                    "clicks": [sorted(list(u.selected) + list(u.deselected)) for u in turns[: i + 1]],
                    "targets": targets, "end": game.end_reason, "context": listener_order,
                    "currently_selected": list(t.selection_before), "deselected": list(t.deselected),
                    "selected": list(t.selected),
                    "chat_feedback": turns[i + 1].utterance if i + 1 < len(turns) else "",
                    "prob_action": t.action_probability, "dataset_alias": self.alias, "policy_name": system or "",
                    "date": date, "round": round_number, "system": system, "utterance": t.utterance,
                    "selection_after": list(t.selection_after), "action_source": t.action_source,
                    "raw_output": t.raw_output, "checkpoint": self.checkpoint(t.checkpoint_id),
                    "speaker_seconds": t.speaker_seconds, "listener_seconds": t.listener_seconds,
                    "model_latency_seconds": t.model_latency_seconds, "created_at": _dt(t.created_at),
                }

    def _speaker_intent(self, qs):
        for s in qs.order_by("interaction_id", "turn_index").iterator(chunk_size=BATCH_ROWS):
            yield {
                "game_id": s.interaction_id, "turn_id": s.turn_index, "feedback": s.feedback,
                "previous_action_quality": s.previous_action_quality, "move": s.move, "target": s.target,
                "details": _json(s.details),
            }

    def _feedback_label(self, qs):
        rows = qs.select_related("turn").order_by("turn__interaction_id", "turn__index", "decoder", "prompt_version")
        for label in rows.iterator(chunk_size=BATCH_ROWS):
            game, index = label.turn.interaction_id, label.turn.index
            yield {
                "game_turn_id": fmt.game_turn_id(game, index), "game_id": game, "turn_id": index,
                "decoder": label.decoder, "prompt_version": label.prompt_version, "label": label.label,
                "raw_output": label.raw_output, "details": _json(label.details), "created_at": _dt(label.created_at),
            }

    def _training_run(self, qs):
        for r in qs.order_by("pk").iterator(chunk_size=100):
            yield {
                "system": self.system_names[r.system_id], "round": self.round_numbers[r.round_id],
                "objective": r.objective, "initial_checkpoint": self.checkpoint(r.initial_checkpoint_id),
                "continue_from": self.checkpoint(r.continue_from_id), "hyperparameters": _json(r.hyperparameters),
                "status": r.status, "attempts": r.attempts, "progress": r.progress,
                "loss_curve": _json(r.loss_curve), "held_out_curve": _json(r.held_out_curve),
                "dataset_stats": _json(r.dataset_stats), "metrics": _json(r.metrics), "log": r.log,
                "traceback": r.traceback, "worker": r.worker, "heartbeat_at": _dt(r.heartbeat_at),
                "checkpoint": self.checkpoint(r.checkpoint_id), "created_at": _dt(r.created_at),
                "started_at": _dt(r.started_at), "finished_at": _dt(r.finished_at), "seconds": r.seconds,
            }

    def _annotation_campaign(self, qs):
        for c in qs.order_by("pk").iterator(chunk_size=100):
            yield {
                "name": c.name, "description": c.description, "round_numbers": list(c.round_numbers),
                "systems": sorted(c.systems.values_list("name", flat=True)), "sample_size": c.sample_size,
                "annotators_per_turn": c.annotators_per_turn, "seed": c.seed, "claim_minutes": c.claim_minutes,
                "status": c.status, "created_by": self.user(c.created_by_id), "created_at": _dt(c.created_at),
            }

    def _campaign_turn(self, qs):
        rows = qs.select_related("campaign", "turn").order_by("campaign_id", "position")
        for e in rows.iterator(chunk_size=BATCH_ROWS):
            game, index = e.turn.interaction_id, e.turn.index
            yield {
                "campaign": e.campaign.name, "position": e.position, "game_turn_id": fmt.game_turn_id(game, index),
                "game_id": game, "turn_id": index, "stratum": e.stratum, "final_feedback": e.final_feedback,
                "final_correctness": e.final_correctness, "final_gold_selected": _list(e.final_gold_selected),
                "final_gold_deselected": _list(e.final_gold_deselected), "final_source": e.final_source,
                "adjudicated_by": self.user(e.adjudicated_by_id), "adjudicated_at": _dt(e.adjudicated_at),
            }

    def _annotation(self, qs):
        rows = qs.select_related("entry__campaign", "entry__turn").order_by("entry_id", "annotator_id")
        for a in rows.iterator(chunk_size=BATCH_ROWS):
            game, index = a.entry.turn.interaction_id, a.entry.turn.index
            yield {
                "campaign": a.entry.campaign.name, "game_turn_id": fmt.game_turn_id(game, index), "game_id": game,
                "turn_id": index, "annotator": self.user(a.annotator_id), "status": a.status, "feedback": a.feedback,
                "correctness": a.correctness, "flags": list(a.flags or []), "gold_selected": _list(a.gold_selected),
                "gold_deselected": _list(a.gold_deselected), "note": a.note, "claimed_at": _dt(a.claimed_at),
                "submitted_at": _dt(a.submitted_at),
            }


def _list(value) -> list | None:
    return None if value is None else list(value)
