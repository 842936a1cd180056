"""The study export format: its tables, their columns and what each column means (pure: no Django).

One definition, used three ways: ``training.services.study_export`` writes rows with exactly these
columns (and a Parquet schema built from their types), ``training.services.study_import`` checks every
incoming row against them, and the data card (``README.md`` of an export) prints the descriptions.

Column types are fixed per column, so that ``datasets.load_dataset("json" | "parquet", ...)`` reads
every table as is: a column is never a list in one row and a string in another; nulls are allowed where
``nullable``. Free-form structures (settings, hyperparameters, metrics, details) are JSON-encoded
strings (type ``json``), times are ISO 8601 strings in UTC (``datetime``), money is a decimal string
(``decimal``), image bytes are base64 (``base64``).

Each column has a role: ``stored`` columns are restored by an import, ``derived`` ones are computed
from stored data for the community's convenience (the original study's published fields) and ignored
by an import, ``key`` columns identify a row within this export (an id of the exporting installation:
an import maps it to a new local id).
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

FORMAT_VERSION = 1
FORMATS = ("jsonl", "parquet")
EXTENSIONS = {"jsonl": ".jsonl", "parquet": ".parquet"}
MANIFEST = "manifest.json"
CARD = "README.md"

# Types of columns: name -> (Parquet type name, description for the card).
TYPES = {
    "int": "integer",
    "float": "floating point number",
    "bool": "true / false",
    "string": "text",
    "json": "JSON-encoded text",
    "datetime": "ISO 8601 time (UTC), text",
    "decimal": "decimal number as text",
    "base64": "bytes, base64-encoded text",
    "list<string>": "list of text",
    "list<int>": "list of integers",
    "list<list<string>>": "list of lists of text",
}
STORED, DERIVED, KEY = "stored", "derived", "key"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    nullable: bool = False
    role: str = STORED
    original: bool = False  # a field of the original study's published dataset (lil-lab/respect)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown column type {self.type!r}")
        if self.role not in (STORED, DERIVED, KEY):
            raise ValueError(f"unknown column role {self.role!r}")


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def stored(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.role == STORED)


def C(name, type_, description, nullable=False, role=STORED, original=False) -> Column:  # noqa: N802
    return Column(name, type_, description, nullable, role, original)


def _hf(name, type_, description, nullable=False, role=STORED) -> Column:
    return Column(name, type_, description, nullable, role, original=True)


_ALIAS = _hf("dataset_alias", "string", "The export's alias (export_study --alias), the same on every row.", role=DERIVED)
_POLICY = _hf("policy_name", "string", "The system (learning configuration) whose deployment the game belongs to; "
              "empty outside rounds (practice and seed games).", role=DERIVED)
_DATE = _hf("date", "string", "Day the game was created (YYYY-MM-DD, UTC).", role=DERIVED)

TABLES: tuple[Table, ...] = (
    Table("tangram", "Tangram figures: the seven polygons and the two renderings derived from them.", (
        C("name", "string", "Unique name; the image id used in every other table."),
        C("source", "string", "generated | kilogram."),
        C("split", "string", "dev | train | test."),
        C("polygons", "json", "Seven polygons [[x, y], ...] in SVG coordinates."),
        C("svg", "string", "SVG shown to people."),
        C("png", "base64", "PNG (RGB, 224 px) shown to models."),
        C("seed", "int", "Generator seed (generated figures).", nullable=True),
        C("source_file", "string", "File it was imported from (KILOGRAM imports)."),
        C("created_at", "datetime", "When the figure was added."),
    )),
    Table("game_config", "Game contexts: 10 tangrams, 3-5 of them targets (images in table context_image).", (
        C("name", "string", "Unique name."),
        C("split", "string", "dev | train | test | mixed."),
        C("origin", "string", "generated | imported."),
        C("num_targets", "int", "Number of targets (3-5)."),
        C("seed", "int", "Generator seed.", nullable=True),
        C("source_file", "string", "File it was imported from."),
        C("created_at", "datetime", "When the config was added."),
    )),
    Table("context_image", "The 10 images of each config and their places on each player's screen.", (
        C("config", "string", "game_config.name."),
        C("tangram", "string", "tangram.name."),
        C("index", "int", "Position in the config's image list (targets first)."),
        C("is_target", "bool", "Whether the image is a target."),
        C("speaker_position", "int", "Screen position (0-9) for the speaker."),
        C("listener_position", "int", "Screen position (0-9) for the listener; letters A-J follow it."),
    )),
    Table("system", "Learning configurations (B-SUP, T-RL, CONTROL, HH, ...).", (
        C("name", "string", "Unique name."),
        C("description", "string", "Free text."),
        C("listener_kind", "string", "model | human | random | oracle."),
        C("decoder", "string", "Feedback decoder: none | binary | ternary | lexicon."),
        C("objective", "string", "Training objective: none | sup | rl | kto | final_reward | seed_only."),
        C("hyperparameters", "json", "Hyperparameters (training, decoding)."),
        C("created_at", "datetime", "When the system was created."),
    )),
    Table("round", "Rounds of the learning loop with their shared config queue.", (
        C("number", "int", "Round number (unique)."),
        C("status", "string", "draft | open | closed | decoded | trained."),
        C("notes", "string", "Free text."),
        C("created_at", "datetime", "When the round was created."),
        C("opened_at", "datetime", "When it opened.", nullable=True),
        C("closed_at", "datetime", "When it closed.", nullable=True),
        C("decoded_at", "datetime", "When its feedback was decoded.", nullable=True),
        C("trained_at", "datetime", "When its systems were retrained.", nullable=True),
        C("settings", "json", "Timing and pay settings of the round."),
        C("queue", "list<string>", "The shared config queue: game_config names in queue order."),
        C("queue_positions", "list<int>", "The queue position of each entry of queue."),
    )),
    Table("checkpoint", "Policy checkpoints (metadata only: adapter weights are not exported).", (
        C("name", "string", "Unique name."),
        C("base_model", "string", "Local path (or registry key) of the base model on the exporting installation."),
        C("adapter_path", "string", "LoRA adapter folder on the exporting installation (relative to its DATA_DIR); "
          "empty = base model only. The files are not part of the export."),
        C("parent", "string", "checkpoint.name of the checkpoint it was trained from.", nullable=True),
        C("round", "int", "round.number whose data trained it (null for the initial policy).", nullable=True),
        C("system", "string", "system.name it was trained for.", nullable=True),
        C("objective", "string", "Objective it was trained with."),
        C("metrics", "json", "Training and evaluation metrics."),
        C("created_at", "datetime", "When it was registered."),
    )),
    Table("deployment", "A system deployed in a round with a checkpoint.", (
        C("round", "int", "round.number."),
        C("system", "string", "system.name."),
        C("checkpoint", "string", "checkpoint.name deployed (null for human and baseline listeners).", nullable=True),
        C("queue_seed", "int", "Seed of this deployment's shuffle of the round queue."),
        C("queue_cursor", "int", "Next position in its shuffled queue."),
        C("created_at", "datetime", "When it was created."),
    )),
    Table("participant", "Players (people and simulated people). Worker and session ids appear only as the "
          "installation's keyed hashes; raw ids are never stored, so never exported.", (
        C("participant", "string", "Identity in this export: platform:external_id_hash.", role=KEY),
        C("platform", "string", "mturk | prolific | simulated | staff."),
        C("external_id_hash", "string", "Keyed hash (HMAC-SHA256) of the worker id."),
        C("session_id_hash", "string", "Keyed hash of the assignment / session id."),
        C("browser_hash", "string", "Keyed hash of the browser-session token that held the participant."),
        C("consented_at", "datetime", "Consent time.", nullable=True),
        C("completed_at", "datetime", "Completion time.", nullable=True),
        C("survey", "json", "Exit-survey answers."),
        C("bonus", "decimal", "Bonus earned."),
        C("completion_code", "string", "Completion code shown at the end."),
        C("stage", "string", "Stage of the journey: consent | instructions | lobby | game | survey | done."),
        C("expert", "bool", "Expert (earns the expert multiplier)."),
        C("practiced", "bool", "Finished the practice game."),
        C("study_ref", "string", "HIT / study id from the entry link."),
        C("submit_url", "string", "MTurk turkSubmitTo host."),
        C("lobby_entered_at", "datetime", "Lobby entry time.", nullable=True),
        C("lobby_left_at", "datetime", "Lobby exit time.", nullable=True),
        C("waiting_round", "int", "round.number of the human-human deployment waited in.", nullable=True),
        C("waiting_system", "string", "system.name of the human-human deployment waited in.", nullable=True),
        C("end_note", "string", "Why the study ended early, if it did."),
        C("created_at", "datetime", "When the participant entered."),
    )),
    Table("interaction", "One row per game (the original's interaction-level dataset, plus our fields).", (
        _hf("game_id", "int", "Game id in this export (the exporting installation's id; an import maps it).",
            role=KEY),
        _hf("turn", "int", "Number of recorded turns."),
        _hf("end", "string", "End reason: success | turn_limit | speaker_idle | listener_idle | cancelled; "
            "empty while the game is not over."),
        _hf("speaker", "string", "participant.participant of the speaker (null: none).", nullable=True),
        C("listener", "string", "participant.participant of a human listener (null: a bot listens).", nullable=True),
        _hf("len", "float", "Duration in seconds from start to end (null unless started and ended).",
            nullable=True, role=DERIVED),
        _hf("clicks", "list<list<string>>", "Selection after each turn (cumulative state).", role=DERIVED),
        _hf("context", "list<string>", "The 10 images in the SPEAKER's screen order.", role=DERIVED),
        C("context_listener", "list<string>", "The 10 images in the LISTENER's screen order.", role=DERIVED),
        _hf("targets", "list<string>", "Target images (sorted).", role=DERIVED),
        _hf("chat", "list<string>", "The speaker's utterance of each turn.", role=DERIVED),
        _ALIAS, _POLICY, _DATE,
        _hf("round", "int", "round.number of the deployment (null outside rounds).", nullable=True),
        C("system", "string", "system.name of the deployment (null outside rounds).", nullable=True),
        C("config", "string", "game_config.name."),
        C("purpose", "string", "study | practice | seed."),
        C("status", "string", "waiting | playing | ended."),
        C("success", "bool", "Whether the game ended in success.", role=DERIVED),
        C("listener_kind", "string", "model | human | random | oracle."),
        C("checkpoint", "string", "checkpoint.name of the listener policy (null: none).", nullable=True),
        C("settings", "json", "The round's timing and pay as frozen into the game."),
        C("created_at", "datetime", "Creation time."),
        C("started_at", "datetime", "Start time.", nullable=True),
        C("ended_at", "datetime", "End time.", nullable=True),
        C("phase", "string", "Live state: speaker | listener | ended."),
        C("turn_started_at", "datetime", "Live state: when the current turn began.", nullable=True),
        C("phase_started_at", "datetime", "Live state: when the current phase began.", nullable=True),
        C("phase_deadline", "datetime", "Live state: the current phase's deadline.", nullable=True),
        C("pending_utterance", "string", "Live state: the utterance of the turn in progress."),
        C("live_selection", "list<string>", "Live state: the selection as the listener edits it."),
        C("listener_clicked", "bool", "Live state: the listener clicked this turn."),
        C("bot_attempt", "int", "Live state: bot attempts on the current turn."),
        C("held_action", "json", "Live state: a bot answer waiting for its display time.", nullable=True),
        C("held_action_at", "datetime", "Live state: when the held answer is shown.", nullable=True),
        C("version", "int", "Row version (bumped on every change)."),
    )),
    Table("turn", "One row per turn (the original's turn-level dataset, plus our fields).", (
        _hf("game_turn_id", "string", "game_id_turn_id.", role=DERIVED),
        _hf("game_id", "int", "interaction.game_id."),
        _hf("turn_id", "int", "0-based turn number."),
        _hf("chats", "list<string>", "Utterances of the game up to and including this turn.", role=DERIVED),
        _hf("clicks", "list<list<string>>", "Images toggled on each turn up to and including this one.",
            role=DERIVED),
        _hf("targets", "list<string>", "Target images (sorted).", role=DERIVED),
        _hf("end", "string", "The game's end reason (as interaction.end).", role=DERIVED),
        _hf("context", "list<string>", "The 10 images in the LISTENER's screen order.", role=DERIVED),
        _hf("currently_selected", "list<string>", "Selection BEFORE this turn's clicks."),
        _hf("deselected", "list<string>", "Images deselected on this turn."),
        _hf("selected", "list<string>", "Images selected on this turn."),
        _hf("chat_feedback", "string", "The NEXT turn's utterance (the implicit feedback on this turn's action); "
            "empty on the last turn.", role=DERIVED),
        _hf("prob_action", "float", "Probability of the action under the deployed policy; sentinels -1 (fallback), "
            "-2 (model error), -3 (not computed); null for people and baselines.", nullable=True),
        _ALIAS, _POLICY, _DATE,
        _hf("round", "int", "round.number of the game's deployment (null outside rounds).", nullable=True,
            role=DERIVED),
        C("system", "string", "system.name of the game's deployment (null outside rounds).", nullable=True,
          role=DERIVED),
        C("utterance", "string", "The speaker's message of this turn."),
        C("selection_after", "list<string>", "Selection after this turn."),
        C("action_source", "string", "human | model | cleaned | fallback | error | timeout | baseline | simulated."),
        C("raw_output", "string", "Raw model output (models only)."),
        C("checkpoint", "string", "checkpoint.name that acted (null: none).", nullable=True),
        C("speaker_seconds", "float", "Turn start until the message was sent.", nullable=True),
        C("listener_seconds", "float", "Message sent until the listener submitted.", nullable=True),
        C("model_latency_seconds", "float", "Model latency.", nullable=True),
        C("created_at", "datetime", "When the turn was recorded."),
    )),
    Table("speaker_intent", "Ground truth of simulated speakers (people have none).", (
        C("game_id", "int", "interaction.game_id."),
        C("turn_id", "int", "Turn whose utterance this intent is about."),
        C("feedback", "string", "Intended polarity towards the previous action: positive | neutral | negative | none."),
        C("previous_action_quality", "string", "True quality of the previous action (empty on the first turn)."),
        C("move", "string", "Kind of reaction (approve_next, correct, undo, ...)."),
        C("target", "string", "Tangram being described."),
        C("details", "json", "Further details."),
    )),
    Table("feedback_label", "Decoded feedback: what a decoder read from the next message about a turn's action.", (
        C("game_turn_id", "string", "game_id_turn_id of the labelled turn.", role=DERIVED),
        C("game_id", "int", "interaction.game_id."),
        C("turn_id", "int", "turn.turn_id."),
        C("decoder", "string", "Decoder name (binary, ternary, lexicon, ...)."),
        C("prompt_version", "string", "Prompt (or lexicon rules) version."),
        C("label", "string", "positive | neutral | negative | unparsed."),
        C("raw_output", "string", "The model's text, or the lexicon's rule trace."),
        C("details", "json", "Model, truncation, mapping notes."),
        C("created_at", "datetime", "When it was decoded."),
    )),
    Table("training_run", "Retraining runs (one per system and round).", (
        C("system", "string", "system.name."),
        C("round", "int", "round.number whose data was trained on."),
        C("objective", "string", "Objective."),
        C("initial_checkpoint", "string", "checkpoint.name of the initial policy."),
        C("continue_from", "string", "checkpoint.name continued from (null: a fresh LoRA).", nullable=True),
        C("hyperparameters", "json", "Hyperparameters."),
        C("status", "string", "queued | running | succeeded | failed."),
        C("attempts", "int", "Attempts."),
        C("progress", "float", "Share of training steps done (0..1)."),
        C("loss_curve", "json", "[step, mean loss] pairs."),
        C("held_out_curve", "json", "[step, held-out accuracy] pairs (a mean log-probability before 2026-12-03)."),
        C("dataset_stats", "json", "Dataset statistics."),
        C("metrics", "json", "Metrics."),
        C("log", "string", "Log."),
        C("traceback", "string", "Traceback of a failure."),
        C("worker", "string", "host:pid of the process that ran it."),
        C("heartbeat_at", "datetime", "Last heartbeat.", nullable=True),
        C("checkpoint", "string", "checkpoint.name it registered.", nullable=True),
        C("created_at", "datetime", "Creation time."),
        C("started_at", "datetime", "Start time.", nullable=True),
        C("finished_at", "datetime", "End time.", nullable=True),
        C("seconds", "float", "Duration.", nullable=True),
    )),
    Table("annotation_campaign", "Post-hoc human annotation campaigns.", (
        C("name", "string", "Unique name."),
        C("description", "string", "Free text."),
        C("round_numbers", "list<int>", "Rounds sampled from (empty: all)."),
        C("systems", "list<string>", "system.name of the systems sampled from (empty: all)."),
        C("sample_size", "int", "Turns in the sample."),
        C("annotators_per_turn", "int", "Annotators per turn."),
        C("seed", "int", "Seed of the sample and its serving order."),
        C("claim_minutes", "int", "Minutes a served turn stays claimed."),
        C("status", "string", "open | closed."),
        C("created_by", "string", "Annotator pseudonym of its creator.", nullable=True),
        C("created_at", "datetime", "Creation time."),
    )),
    Table("campaign_turn", "The turns of each campaign's sample with their final labels.", (
        C("campaign", "string", "annotation_campaign.name."),
        C("position", "int", "Serving order."),
        C("game_turn_id", "string", "game_id_turn_id.", role=DERIVED),
        C("game_id", "int", "interaction.game_id."),
        C("turn_id", "int", "turn.turn_id."),
        C("stratum", "string", "round:system stratum it was drawn from."),
        C("final_feedback", "string", "Final feedback label (positive | neutral | negative; empty: none yet)."),
        C("final_correctness", "string", "Final action correctness (yes | partial | no; empty: none yet)."),
        C("final_gold_selected", "list<string>", "Final gold selection.", nullable=True),
        C("final_gold_deselected", "list<string>", "Final gold deselection.", nullable=True),
        C("final_source", "string", "agreement | adjudicated | imported (empty: no final label)."),
        C("adjudicated_by", "string", "Annotator pseudonym of the adjudicator.", nullable=True),
        C("adjudicated_at", "datetime", "Adjudication time.", nullable=True),
    )),
    Table("annotation", "One annotator's judgement of one turn of a campaign.", (
        C("campaign", "string", "annotation_campaign.name."),
        C("game_turn_id", "string", "game_id_turn_id.", role=DERIVED),
        C("game_id", "int", "interaction.game_id."),
        C("turn_id", "int", "turn.turn_id."),
        C("annotator", "string", "Annotator pseudonym (annotator-<16 hex>: a keyed hash of the user name)."),
        C("status", "string", "claimed | done | skipped."),
        C("feedback", "string", "positive | neutral | negative (empty until submitted)."),
        C("correctness", "string", "yes | partial | no (empty until submitted)."),
        C("flags", "list<string>", "Satisfaction-type flags."),
        C("gold_selected", "list<string>", "Images the annotator would have selected.", nullable=True),
        C("gold_deselected", "list<string>", "Images the annotator would have deselected.", nullable=True),
        C("note", "string", "Free text."),
        C("claimed_at", "datetime", "When the turn was served."),
        C("submitted_at", "datetime", "When it was submitted.", nullable=True),
    )),
)
TABLE_BY_NAME = {t.name: t for t in TABLES}
TABLE_NAMES = tuple(t.name for t in TABLES)

# Everything an export never contains, with the reason (printed on the data card).
NOT_EXPORTED = (
    ("Model weights (base models and LoRA adapters)",
     "they are large binary files tied to a model licence and a local path; checkpoint rows keep their "
     "metadata (base model, adapter path, metrics) so that the weights can be copied beside the export."),
    ("Raw worker, assignment and session ids",
     "the platform stores only keyed hashes of them; the hashes are exported as they are."),
    ("Staff and annotator accounts",
     "annotators appear as stable pseudonyms (annotator-<16 hex>); no user name, e-mail or password leaves."),
    ("Server heartbeats, sessions and study exports themselves",
     "operational state of one installation, not study data."),
)


class FormatError(ValueError):
    """A value that does not fit its column; the message names the column."""


def check_value(column: Column, value) -> None:
    """Raise ``FormatError`` unless ``value`` fits ``column``."""
    if value is None:
        if not column.nullable:
            raise FormatError(f"{column.name}: null is not allowed")
        return
    kind = column.type
    ok = True
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind in ("string", "json", "datetime", "decimal", "base64"):
        ok = isinstance(value, str)
    elif kind == "list<string>":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif kind == "list<int>":
        ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    elif kind == "list<list<string>>":
        ok = isinstance(value, list) and all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value
        )
    if not ok:
        raise FormatError(f"{column.name}: expected {TYPES[kind]}, got {type(value).__name__} {_short(value)}")
    try:
        if kind == "json":
            json.loads(value)
        elif kind == "datetime":
            if datetime.fromisoformat(value).tzinfo is None:
                raise ValueError("no time zone")
        elif kind == "decimal":
            Decimal(value)
        elif kind == "base64":
            base64.b64decode(value.encode("ascii"), validate=True)
    except (ValueError, InvalidOperation, binascii.Error, UnicodeEncodeError) as exc:
        raise FormatError(f"{column.name}: not valid {TYPES[kind]} ({exc}): {_short(value)}") from None


def check_row(table: Table, row) -> None:
    """Raise ``FormatError`` unless ``row`` is an object with exactly the table's columns, each of its type."""
    if not isinstance(row, dict):
        raise FormatError(f"expected an object with the table's columns, got {type(row).__name__}")
    missing = [n for n in table.names if n not in row]
    if missing:
        raise FormatError(f"missing column(s) {', '.join(missing)}")
    unknown = sorted(set(row) - set(table.names))
    if unknown:
        raise FormatError(f"unknown column(s) {', '.join(unknown)}")
    for column in table.columns:
        check_value(column, row[column.name])


def game_turn_id(game_id: int, turn_id: int) -> str:
    """The original's turn id: ``f"{game_id}_{turn_id}"``."""
    return f"{game_id}_{turn_id}"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def arrow_schema(table: Table):
    """The Parquet (pyarrow) schema of a table."""
    import pyarrow as pa

    types = {
        "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "string": pa.string(), "json": pa.string(),
        "datetime": pa.string(), "decimal": pa.string(), "base64": pa.string(),
        "list<string>": pa.list_(pa.string()), "list<int>": pa.list_(pa.int64()),
        "list<list<string>>": pa.list_(pa.list_(pa.string())),
    }
    return pa.schema([pa.field(c.name, types[c.type], nullable=c.nullable) for c in table.columns])


def cell(text: str) -> str:
    """Text for a Markdown table cell (a ``|`` would end the cell)."""
    return text.replace("|", "\\|")


# Column types as Hugging Face ``datasets`` features (the YAML of a dataset card's ``dataset_info``).
_FEATURE_YAML = {
    "int": ["dtype: int64"], "float": ["dtype: float64"], "bool": ["dtype: bool"],
    **{t: ["dtype: string"] for t in ("string", "json", "datetime", "decimal", "base64")},
    "list<string>": ["list: string"], "list<int>": ["list: int64"], "list<list<string>>": ["list:", "  list: string"],
}


def data_card(*, manifest: dict) -> str:
    """The export's ``README.md``: a Hugging Face dataset card (YAML header naming each table as a
    config, so ``datasets.load_dataset(folder, table)`` works), counts, loading, every column."""
    fmt = manifest["format"]
    ext = EXTENSIONS[fmt]
    counts = manifest["counts"]
    lines = ["---", "configs:"]
    for table in TABLES:
        lines += [f"- config_name: {table.name}", f"  data_files: {table.name}{ext}"]
    lines.append("dataset_info:")  # the column types, so that no reader has to guess them from the rows
    for table in TABLES:
        lines += [f"- config_name: {table.name}", "  features:"]
        for c in table.columns:
            lines += [f"  - name: {c.name}"] + [f"    {line}" for line in _FEATURE_YAML[c.type]]
    lines += ["---", "", f"# RESPECT study export: {manifest['alias']}", ""]
    scope = f"round {manifest['round']} only" if manifest.get("round") is not None else "the whole study"
    lines += [
        f"Exported {manifest['created_at']} from a RESPECT installation (format version {manifest['format_version']}, "
        f"{fmt}); scope: {scope}.",
        "",
        "The `interaction` and `turn` tables carry the fields of the original study's published dataset "
        "(lil-lab/respect; marked *original* below) plus this platform's own; the other tables are what an "
        "`import_study` needs to rebuild the study on another installation.",
        "",
        "| table | rows | contents |",
        "| --- | ---: | --- |",
    ]
    for table in TABLES:
        lines.append(f"| `{table.name}` | {counts.get(table.name, 0)} | {cell(table.description)} |")
    lines += [
        "",
        "## Loading",
        "",
        "```python",
        "import datasets",
        f'turns = datasets.load_dataset("{"json" if fmt == "jsonl" else "parquet"}", '
        f'data_files="turn{ext}", split="train")',
        '# or by table name, with the column types declared in this card:',
        'interactions = datasets.load_dataset("path/to/this/folder", "interaction", split="train")',
        "```",
        "",
        "Column types never vary between rows; `json` columns hold JSON text (`json.loads` them), times are "
        "ISO 8601 text in UTC. Images are named by `tangram.name`. A `--round` export holds the setup tables "
        "(tangrams, configs, systems, rounds, checkpoints, deployments) in full and the play data of that round.",
        "",
        "`datasets` reads a JSON-lines file in blocks and guesses each block's types; a column that is all null "
        "(or all empty lists) in the first block of a large file and set later makes it fail. Load such files "
        "by table name (above), or pass the card's types: "
        '`features=datasets.load_dataset_builder("path/to/this/folder", "turn").info.features`. '
        "Parquet files carry their types.",
        "",
        "## Not exported",
        "",
    ]
    lines += [f"- **{what}**: {why}" for what, why in NOT_EXPORTED]
    lines += ["", "## Columns", ""]
    for table in TABLES:
        lines += [f"### `{table.name}`", "", table.description, "", "| column | type | description |",
                  "| --- | --- | --- |"]
        for c in table.columns:
            notes = [TYPES[c.type]] + (["or null"] if c.nullable else [])
            tags = (["*original*"] if c.original else []) + (["derived"] if c.role == DERIVED else [])
            tag = f" ({', '.join(tags)})" if tags else ""
            lines.append(f"| `{c.name}`{tag} | {' '.join(notes)} | {cell(c.description)} |")
        lines.append("")
    return "\n".join(lines)
