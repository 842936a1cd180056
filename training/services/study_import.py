"""Import a study export (``training.services.study_export``) into this installation.

Two passes. First every file is read and every row checked against its table's columns
(``training.study_format``): a malformed line, a missing or unknown column, a value of the wrong type
stops the import with a message naming the file, the line (or row) and the column, before anything is
written. Then, in one transaction, the rows are restored table by table, references are resolved
(names of tangrams, configs, systems, checkpoints; round numbers; the export's game ids mapped to new
local ids), and every row that already exists here is compared with the incoming one: identical rows
are kept (so importing the same export twice changes nothing), a row that differs stops the import.
Any error rolls back the whole import.

Rows are restored as they were, timestamps included (the records' own services are for new events, not
for restoring history). Annotators come in as inactive accounts named by their pseudonym, with no
usable password. A campaign turn with a final label but no ``final_source`` gets ``imported``.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from feedback.models import Annotation, AnnotationCampaign, CampaignTurn, FeedbackLabel
from games.domain.game_configs import ConfigFormatError
from games.models import (
    ContextImage, Deployment, GameConfig, Interaction, Participant, Round, RoundConfig, SpeakerIntent, System,
    Tangram, Turn,
)
from games.selectors import get_context_spec
from training import study_format as fmt
from training.models import PolicyCheckpoint, TrainingRun

Progress = Callable[[str], None]
BATCH_ROWS = 500


class StudyImportError(ValueError):
    """An export that cannot be imported; the message names the file, the row and the column."""


def _quiet(message: str) -> None:
    pass


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)
    existing: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------------------- reading


def read_manifest(folder: Path) -> dict:
    path = folder / fmt.MANIFEST
    if not folder.is_dir():
        raise StudyImportError(f"{folder} is not a folder")
    if not path.is_file():
        raise StudyImportError(f"{folder} has no {fmt.MANIFEST}: not a study export")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StudyImportError(f"{fmt.MANIFEST}: malformed JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != fmt.FORMAT_VERSION:
        raise StudyImportError(f"{fmt.MANIFEST}: format_version must be {fmt.FORMAT_VERSION}")
    if manifest.get("format") not in fmt.FORMATS:
        raise StudyImportError(f"{fmt.MANIFEST}: format must be one of {', '.join(fmt.FORMATS)}")
    for table in fmt.TABLE_NAMES:
        if not (folder / f"{table}{fmt.EXTENSIONS[manifest['format']]}").is_file():
            raise StudyImportError(f"{table}{fmt.EXTENSIONS[manifest['format']]} is missing")
    return manifest


def read_rows(folder: Path, format: str, table: fmt.Table) -> Iterator[tuple[str, dict]]:
    """(where, row) of every row of a table file, ``where`` being e.g. ``turn.jsonl line 3``; raises
    ``StudyImportError`` on a row that does not fit the table."""
    path = folder / f"{table.name}{fmt.EXTENSIONS[format]}"
    rows = _jsonl_rows(path) if format == "jsonl" else _parquet_rows(path, table)
    for where, row in rows:
        try:
            fmt.check_row(table, row)
        except fmt.FormatError as exc:
            raise StudyImportError(f"{where}: {exc}") from None
        yield where, row


def _jsonl_rows(path: Path) -> Iterator[tuple[str, object]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                yield where, json.loads(line)
            except ValueError as exc:
                raise StudyImportError(f"{where}: malformed JSON ({exc})") from None


def _parquet_rows(path: Path, table: fmt.Table) -> Iterator[tuple[str, object]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(str(path))
    except (pa.ArrowException, OSError) as exc:
        raise StudyImportError(f"{path.name}: not a readable Parquet file ({exc})") from None
    names = set(parquet.schema_arrow.names)
    missing = [n for n in table.names if n not in names]
    if missing:
        raise StudyImportError(f"{path.name}: missing column(s) {', '.join(missing)}")
    number = 0
    for batch in parquet.iter_batches(batch_size=1000):
        for row in batch.to_pylist():
            number += 1
            yield f"{path.name} row {number}", row


def validate(folder: Path, manifest: dict, progress: Progress = _quiet) -> dict[str, int]:
    """Pass one: check every row of every table; returns the rows per table."""
    counts = {}
    for table in fmt.TABLES:
        counts[table.name] = sum(1 for _ in read_rows(folder, manifest["format"], table))
        progress(f"{table.name}: {counts[table.name]} rows checked")
    return counts


# --------------------------------------------------------------------------------------- importing


def import_study(path: str | Path, *, progress: Progress = _quiet) -> ImportReport:
    """Import the export in folder ``path``: all of it, or nothing."""
    folder = Path(path)
    manifest = read_manifest(folder)
    validate(folder, manifest, progress)
    report = ImportReport()
    with transaction.atomic():
        restorer = _Restorer(report)
        for table in fmt.TABLES:
            rows = read_rows(folder, manifest["format"], table)
            getattr(restorer, f"_{table.name}")(rows)
            restorer.flush()
            progress(f"{table.name}: {report.created.get(table.name, 0)} created, "
                     f"{report.existing.get(table.name, 0)} already here")
        restorer.check_configs()
    return report


def _value(column: fmt.Column, value):
    """A checked column value as the model stores it."""
    if value is None:
        return None
    if column.type == "json":
        return json.loads(value)
    if column.type == "datetime":
        return datetime.fromisoformat(value)
    if column.type == "decimal":
        return Decimal(value)
    if column.type == "base64":
        return base64.b64decode(value)
    return value


def _same(a, b) -> bool:
    if isinstance(a, memoryview):
        a = bytes(a)
    if isinstance(b, memoryview):
        b = bytes(b)
    return a == b


class _Restorer:
    def __init__(self, report: ImportReport):
        self.report = report
        self.tangrams: dict[str, int] = {}
        self.configs: dict[str, int] = {}
        self.new_configs: set[int] = set()
        self.systems: dict[str, int] = {}
        self.rounds: dict[int, int] = {}
        self.checkpoints: dict[str, int] = {}
        self.deployments: dict[tuple[int, str], int] = {}
        self.participants: dict[str, int] = {}
        self.games: dict[int, int] = {}
        self.turns: dict[tuple[int, int], int] = {}
        self.campaigns: dict[str, int] = {}
        self.entries: dict[tuple[str, int, int], int] = {}
        self.users: dict[str, int] = {}
        self.pending: list[tuple[str, models.Model, dict, Callable[[int], None] | None]] = []
        self.new_rounds: set[int] = set()
        self.new_games: set[int] = set()
        self.new_campaigns: set[int] = set()
        self.new_entries: set[int] = set()

    # --- generic

    def values(self, table: str, row: dict, names: dict[str, str] | None = None) -> dict:
        """Stored columns -> model field values; ``names`` renames columns (column -> field)."""
        spec = fmt.TABLE_BY_NAME[table]
        names = names or {}
        out = {}
        for column in spec.columns:
            if column.role != fmt.STORED or names.get(column.name, column.name) is None:
                continue
            out[names.get(column.name, column.name)] = _value(column, row[column.name])
        return out

    def ref(self, where: str, mapping: dict, key, what: str, column: str, *, nullable: bool = False):
        if key is None:
            if nullable:
                return None
            raise StudyImportError(f"{where}: {column}: null is not allowed")
        try:
            return mapping[key]
        except KeyError:
            raise StudyImportError(f"{where}: {column}: unknown {what} {key!r} (not in the export)") from None

    def restore(self, table: str, where: str, model, lookup: dict, fields: dict, *, new: bool = False,
                keep: Callable[[int], None] | None = None) -> tuple[int | None, bool]:
        """The id of the row ``lookup`` identifies and whether it was created (with ``fields``); an existing
        row must hold the same values. ``new``: the row cannot exist yet (its parent was created by this
        import), so it is not looked up and is inserted with others in a batch: ``keep`` gets its id then."""
        if not new:
            existing = list(model.objects.filter(**lookup)[:2])
            if len(existing) > 1:
                raise StudyImportError(f"{where}: several {table} rows here match {lookup}: cannot tell which one")
            if existing:
                obj = existing[0]
                differ = [name for name, value in fields.items() if not _same(getattr(obj, _attname(model, name)), value)]
                if differ:
                    raise StudyImportError(
                        f"{where}: this {table} already exists here with other values ({', '.join(differ)}); "
                        f"refusing to overwrite it"
                    )
                self.report.existing[table] = self.report.existing.get(table, 0) + 1
                if keep:
                    keep(obj.pk)
                return obj.pk, False
        data = {**lookup, **fields}
        _check_fields(where, model, data)
        auto = {f.name: data[f.name] for f in model._meta.concrete_fields
                if getattr(f, "auto_now_add", False) and f.name in data}
        obj = model(**{k: v for k, v in data.items() if k not in auto})
        try:
            obj.clean()  # the model's own rules (a round's settings, a turn's toggles)
        except ValidationError as exc:
            raise StudyImportError(f"{where}: {'; '.join(exc.messages)}") from None
        self.report.created[table] = self.report.created.get(table, 0) + 1
        self.pending.append((where, obj, auto, keep))
        if not new or len(self.pending) >= BATCH_ROWS:
            self.flush()
        return obj.pk, True

    def flush(self) -> None:
        """Insert the pending rows (one model) in one statement, then restore their creation times."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        model = type(pending[0][1])
        rows = models.QuerySet(model=model)  # the plain queryset: turns and labels guard theirs against updates
        try:
            with transaction.atomic():
                rows.bulk_create([obj for _, obj, _, _ in pending])
        except IntegrityError:
            for where, obj, _, _ in pending:  # find the row the database refused
                obj.pk = None
                try:
                    with transaction.atomic():
                        rows.bulk_create([obj])
                except IntegrityError as exc:
                    raise StudyImportError(f"{where}: refused by the database ({exc})") from None
            raise StudyImportError(f"{pending[0][0]}: rows refused by the database") from None
        timed = [obj for _, obj, auto, _ in pending if auto]
        for _, obj, auto, _ in pending:
            for name, value in auto.items():
                setattr(obj, name, value)
        if timed:
            rows.bulk_update(timed, fields=sorted(pending[0][2]), batch_size=BATCH_ROWS // 2)
        for _, obj, _, keep in pending:
            if keep:
                keep(obj.pk)

    def user(self, where: str, name: str | None, column: str) -> int | None:
        if name is None:
            return None
        if name not in self.users:
            User = get_user_model()
            user = User.objects.filter(username=name).first()
            if user is None:
                user = User(username=name, is_active=False)
                try:
                    User._meta.get_field("username").run_validators(name)
                except ValidationError as exc:
                    raise StudyImportError(f"{where}: {column}: {'; '.join(exc.messages)}") from None
                user.set_unusable_password()
                user.save()
            self.users[name] = user.pk
        return self.users[name]

    # --- tables, in dependency order

    def _tangram(self, rows):
        for where, row in rows:
            fields = self.values("tangram", row)
            name = fields.pop("name")
            self.tangrams[name], _ = self.restore("tangram", where, Tangram, {"name": name}, fields)

    def _game_config(self, rows):
        for where, row in rows:
            fields = self.values("game_config", row)
            name = fields.pop("name")
            pk, created = self.restore("game_config", where, GameConfig, {"name": name}, fields)
            self.configs[name] = pk
            if created:
                self.new_configs.add(pk)

    def _context_image(self, rows):
        for where, row in rows:
            fields = self.values("context_image", row, {"config": None, "tangram": None, "index": None})
            config = self.ref(where, self.configs, row["config"], "game_config", "config")
            fields["tangram_id"] = self.ref(where, self.tangrams, row["tangram"], "tangram", "tangram")
            self.restore("context_image", where, ContextImage, {"config_id": config, "index": row["index"]}, fields,
                         new=config in self.new_configs)

    def check_configs(self) -> None:
        for pk in sorted(self.new_configs):
            try:
                get_context_spec(pk)
            except ConfigFormatError as exc:
                name = GameConfig.objects.values_list("name", flat=True).get(pk=pk)
                raise StudyImportError(f"context_image: config {name!r} is not a valid context ({exc})") from None

    def _system(self, rows):
        for where, row in rows:
            fields = self.values("system", row)
            name = fields.pop("name")
            self.systems[name], _ = self.restore("system", where, System, {"name": name}, fields)

    def _round(self, rows):
        for where, row in rows:
            fields = self.values("round", row, {"queue": None, "queue_positions": None})
            number = fields.pop("number")
            if len(row["queue"]) != len(row["queue_positions"]):
                raise StudyImportError(f"{where}: queue and queue_positions differ in length")
            pk, created = self.restore("round", where, Round, {"number": number}, fields)
            self.rounds[number] = pk
            if created:
                self.new_rounds.add(pk)
            queue = [(self.ref(where, self.configs, name, "game_config", "queue"), position)
                     for name, position in zip(row["queue"], row["queue_positions"])]
            if created:
                try:
                    with transaction.atomic():
                        RoundConfig.objects.bulk_create(RoundConfig(round_id=pk, config_id=c, position=p) for c, p in queue)
                except IntegrityError as exc:
                    raise StudyImportError(f"{where}: queue: refused by the database ({exc})") from None
            elif sorted(queue, key=lambda e: e[1]) != list(
                RoundConfig.objects.filter(round_id=pk).order_by("position").values_list("config_id", "position")
            ):
                raise StudyImportError(f"{where}: round {number} already exists here with another queue; "
                                       f"refusing to overwrite it")

    def _checkpoint(self, rows):
        pending = list(rows)  # a small table: parents first, whatever the file order
        while pending:
            later = []
            for where, row in pending:
                if row["parent"] is not None and row["parent"] not in self.checkpoints and any(
                    r["name"] == row["parent"] for _, r in pending
                ):
                    later.append((where, row))
                    continue
                fields = self.values("checkpoint", row, {"parent": None, "round": None, "system": None})
                name = fields.pop("name")
                fields["parent_id"] = self.ref(where, self.checkpoints, row["parent"], "checkpoint", "parent",
                                               nullable=True)
                fields["round_id"] = self.ref(where, self.rounds, row["round"], "round", "round", nullable=True)
                fields["system_id"] = self.ref(where, self.systems, row["system"], "system", "system", nullable=True)
                self.checkpoints[name], _ = self.restore("checkpoint", where, PolicyCheckpoint, {"name": name}, fields)
            if len(later) == len(pending):
                where, row = later[0]
                raise StudyImportError(f"{where}: parent: checkpoints form a cycle through {row['name']!r}")
            pending = later

    def _deployment(self, rows):
        for where, row in rows:
            fields = self.values("deployment", row, {"round": None, "system": None, "checkpoint": None})
            lookup = {"round_id": self.ref(where, self.rounds, row["round"], "round", "round"),
                      "system_id": self.ref(where, self.systems, row["system"], "system", "system")}
            fields["checkpoint_id"] = self.ref(where, self.checkpoints, row["checkpoint"], "checkpoint", "checkpoint",
                                               nullable=True)
            key = (row["round"], row["system"])
            self.restore("deployment", where, Deployment, lookup, fields, new=lookup["round_id"] in self.new_rounds,
                         keep=lambda pk, key=key: self.deployments.__setitem__(key, pk))

    def deployment(self, where: str, round_number, system, prefix: str = "") -> int | None:
        if round_number is None and system is None:
            return None
        if round_number is None or system is None:
            raise StudyImportError(f"{where}: {prefix}round and {prefix}system must both be set or both be null")
        return self.ref(where, self.deployments, (round_number, system), "deployment", f"{prefix}round/{prefix}system")

    def _participant(self, rows):
        for where, row in rows:
            fields = self.values("participant", row, {"waiting_round": None, "waiting_system": None})
            if row["participant"] != f"{row['platform']}:{row['external_id_hash']}":
                raise StudyImportError(f"{where}: participant must be platform:external_id_hash")
            lookup = {"platform": fields.pop("platform"), "external_id_hash": fields.pop("external_id_hash")}
            fields["waiting_for_id"] = self.deployment(where, row["waiting_round"], row["waiting_system"], "waiting_")
            self.participants[row["participant"]], _ = self.restore("participant", where, Participant, lookup, fields)

    def _interaction(self, rows):
        for where, row in rows:
            if row["game_id"] in self.games:
                raise StudyImportError(f"{where}: game_id: {row['game_id']} appears twice")
            fields = self.values("interaction", row, {
                "turn": "turn_count", "end": "end_reason", "speaker": None, "listener": None, "round": None,
                "system": None, "config": None, "checkpoint": None,
            })
            lookup = {
                "created_at": fields.pop("created_at"),
                "config_id": self.ref(where, self.configs, row["config"], "game_config", "config"),
                "deployment_id": self.deployment(where, row["round"], row["system"]),
                "speaker_id": self.ref(where, self.participants, row["speaker"], "participant", "speaker", nullable=True),
                "purpose": fields.pop("purpose"),
            }
            fields["listener_id"] = self.ref(where, self.participants, row["listener"], "participant", "listener",
                                             nullable=True)
            fields["checkpoint_id"] = self.ref(where, self.checkpoints, row["checkpoint"], "checkpoint", "checkpoint",
                                               nullable=True)
            pk, created = self.restore("interaction", where, Interaction, lookup, fields)
            self.games[row["game_id"]] = pk
            if created:
                self.new_games.add(pk)

    def turn(self, where: str, row: dict) -> int:
        game = self.ref(where, self.games, row["game_id"], "interaction", "game_id")
        try:
            return self.turns[(game, row["turn_id"])]
        except KeyError:
            raise StudyImportError(f"{where}: turn_id: unknown turn {row['turn_id']} of game {row['game_id']} "
                                   f"(not in the export)") from None

    def _turn(self, rows):
        for where, row in rows:
            fields = self.values("turn", row, {
                "game_id": None, "turn_id": None, "currently_selected": "selection_before",
                "prob_action": "action_probability", "checkpoint": None,
            })
            game = self.ref(where, self.games, row["game_id"], "interaction", "game_id")
            fields["checkpoint_id"] = self.ref(where, self.checkpoints, row["checkpoint"], "checkpoint", "checkpoint",
                                               nullable=True)
            key = (game, row["turn_id"])
            self.restore("turn", where, Turn, {"interaction_id": game, "index": row["turn_id"]}, fields,
                         new=game in self.new_games, keep=lambda pk, key=key: self.turns.__setitem__(key, pk))

    def _speaker_intent(self, rows):
        for where, row in rows:
            fields = self.values("speaker_intent", row, {"game_id": None, "turn_id": None})
            game = self.ref(where, self.games, row["game_id"], "interaction", "game_id")
            self.restore("speaker_intent", where, SpeakerIntent, {"interaction_id": game, "turn_index": row["turn_id"]},
                         fields, new=game in self.new_games)

    def _feedback_label(self, rows):
        for where, row in rows:
            fields = self.values("feedback_label", row, {"game_id": None, "turn_id": None})
            lookup = {"turn_id": self.turn(where, row), "decoder": fields.pop("decoder"),
                      "prompt_version": fields.pop("prompt_version")}
            game = self.games[row["game_id"]]
            self.restore("feedback_label", where, FeedbackLabel, lookup, fields, new=game in self.new_games)

    def _training_run(self, rows):
        for where, row in rows:
            fields = self.values("training_run", row, {
                "system": None, "round": None, "initial_checkpoint": None, "continue_from": None, "checkpoint": None,
            })
            lookup = {"system_id": self.ref(where, self.systems, row["system"], "system", "system"),
                      "round_id": self.ref(where, self.rounds, row["round"], "round", "round")}
            for column in ("initial_checkpoint", "continue_from", "checkpoint"):
                fields[f"{column}_id"] = self.ref(where, self.checkpoints, row[column], "checkpoint", column,
                                                  nullable=column != "initial_checkpoint")
            self.restore("training_run", where, TrainingRun, lookup, fields, new=lookup["round_id"] in self.new_rounds)

    def _annotation_campaign(self, rows):
        for where, row in rows:
            fields = self.values("annotation_campaign", row, {"systems": None, "created_by": None})
            name = fields.pop("name")
            systems = sorted(self.ref(where, self.systems, s, "system", "systems") for s in row["systems"])
            fields["created_by_id"] = self.user(where, row["created_by"], "created_by")
            pk, created = self.restore("annotation_campaign", where, AnnotationCampaign, {"name": name}, fields)
            self.campaigns[name] = pk
            if created:
                self.new_campaigns.add(pk)
            through = AnnotationCampaign.systems.through
            if created:
                through.objects.bulk_create(through(annotationcampaign_id=pk, system_id=s) for s in systems)
            elif sorted(through.objects.filter(annotationcampaign_id=pk).values_list("system_id", flat=True)) != systems:
                raise StudyImportError(f"{where}: campaign {name!r} already exists here with other systems; "
                                       f"refusing to overwrite it")

    def _campaign_turn(self, rows):
        for where, row in rows:
            fields = self.values("campaign_turn", row, {"campaign": None, "game_id": None, "turn_id": None,
                                                        "adjudicated_by": None})
            campaign = self.ref(where, self.campaigns, row["campaign"], "annotation_campaign", "campaign")
            fields["adjudicated_by_id"] = self.user(where, row["adjudicated_by"], "adjudicated_by")
            if (fields["final_feedback"] or fields["final_correctness"]) and not fields["final_source"]:
                fields["final_source"] = CampaignTurn.FinalSource.IMPORTED
            key = (row["campaign"], row["game_id"], row["turn_id"])

            def keep(pk, key=key, new=campaign in self.new_campaigns):
                self.entries[key] = pk
                if new:
                    self.new_entries.add(pk)

            self.restore("campaign_turn", where, CampaignTurn, {"campaign_id": campaign, "turn_id": self.turn(where, row)},
                         fields, new=campaign in self.new_campaigns, keep=keep)

    def _annotation(self, rows):
        for where, row in rows:
            fields = self.values("annotation", row, {"campaign": None, "game_id": None, "turn_id": None,
                                                     "annotator": None})
            self.turn(where, row)
            entry = self.ref(where, self.entries, (row["campaign"], row["game_id"], row["turn_id"]), "campaign_turn",
                             "campaign/game_id/turn_id")
            lookup = {"entry_id": entry, "annotator_id": self.user(where, row["annotator"], "annotator")}
            self.restore("annotation", where, Annotation, lookup, fields, new=entry in self.new_entries)


def _attname(model, name: str) -> str:
    return model._meta.get_field(name).attname if not name.endswith("_id") else name


def _check_fields(where: str, model, data: dict) -> None:
    """Choices and validators (lengths, names, URLs) of the values about to be stored."""
    for name, value in data.items():
        if name.endswith("_id"):
            continue
        f = model._meta.get_field(name)
        if value is None:
            if not f.null:
                raise StudyImportError(f"{where}: {name}: null is not allowed")
            continue
        if f.choices and not (value in {c[0] for c in f.choices} or (value == "" and f.blank)):
            allowed = ", ".join(str(c[0]) for c in f.choices)
            raise StudyImportError(f"{where}: {name}: {value!r} is not one of {allowed}")
        try:
            f.run_validators(value)
        except ValidationError as exc:
            raise StudyImportError(f"{where}: {name}: {'; '.join(exc.messages)}") from None
