"""Study export / import: the tables, the data card, datasets loading, the lossless round trip, bad files."""
import io
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from feedback.models import Annotation, AnnotationCampaign, CampaignTurn, FeedbackLabel
from games.models import (
    ContextImage, Deployment, GameConfig, Interaction, Participant, Round, RoundConfig, SpeakerIntent, System,
    Tangram, Turn,
)
from games.services import journey
from games.services.rounds import close_round, create_system, launch_round
from games.services.simulation import play_round_games
from training import study_format as fmt
from training.models import PolicyCheckpoint, StudyExport, TrainingRun
from training.services.study_export import annotator_pseudonym
from tests.games.play_support import install_library

pytestmark = pytest.mark.django_db(transaction=True)  # bot answers run on commit, as in production

RAW_WORKER = "A3RAWWORKERID77"
RAW_ASSIGNMENT = "3RAWASSIGNMENT9"
MODELS = [Tangram, GameConfig, ContextImage, System, Round, RoundConfig, PolicyCheckpoint, Deployment, Participant,
          Interaction, Turn, SpeakerIntent, FeedbackLabel, TrainingRun, AnnotationCampaign, CampaignTurn, Annotation]


@pytest.fixture
def study(settings):
    """Two rounds (an oracle and a human-human system) of simulated games, a worker who entered with a
    raw id, checkpoints, a training run, decoded labels and an annotation campaign."""
    settings.BOT_DISPATCH = "inline"
    install_library()
    create_system("ORACLE", listener_kind="oracle", hyperparameters={"note": "baseline"})
    create_system("HH", listener_kind="human")
    launch_round(systems=[("ORACLE", None), ("HH", None)], queue_size=5, split="train", seed=0)
    play_round_games(count=4, seed=0, round_number=1)
    close_round(1)
    launch_round(systems=[("ORACLE", None)], queue_size=3, split="train", seed=1)
    play_round_games(count=2, seed=5, round_number=2)

    oracle, round1 = System.objects.get(name="ORACLE"), Round.objects.get(number=1)
    initial = PolicyCheckpoint.objects.create(name="initial", base_model="models/tiny", metrics={"acc": 0.5})
    trained = PolicyCheckpoint.objects.create(name="ORACLE-r1", base_model="models/tiny", adapter_path="adapters/x",
                                              parent=initial, round=round1, system=oracle, objective="sup")
    TrainingRun.objects.create(system=oracle, round=round1, objective="sup", initial_checkpoint=initial,
                               checkpoint=trained, status="succeeded", attempts=1, progress=1.0,
                               loss_curve=[[1, 0.75], [2, 0.5]], dataset_stats={"rows": 12}, seconds=3.25,
                               started_at=timezone.now(), finished_at=timezone.now())

    worker = journey.enter({"workerId": RAW_WORKER, "assignmentId": RAW_ASSIGNMENT, "hitId": "HIT1"}).participant
    Participant.objects.filter(pk=worker.pk).update(
        survey={"satisfied": "5"}, bonus=Decimal("1.25"), waiting_for=Deployment.objects.get(round=round1, system__name="HH"))

    turns = list(Turn.objects.filter(interaction__deployment__round=round1).order_by("interaction_id", "index")[:3])
    for turn in turns:
        FeedbackLabel.objects.create(turn=turn, decoder="lexicon", prompt_version="v1", label="positive",
                                     raw_output="rule: yes", details={"rule": 3})
    User = get_user_model()
    alice, bob = User.objects.create_user("alice", password="x"), User.objects.create_user("bob", password="y")
    campaign = AnnotationCampaign.objects.create(name="pilot", sample_size=2, annotators_per_turn=2, created_by=alice,
                                                 round_numbers=[1])
    campaign.systems.add(oracle)
    first = CampaignTurn.objects.create(campaign=campaign, turn=turns[0], position=0, stratum="1:ORACLE",
                                        final_feedback="positive", final_correctness="yes", final_source="adjudicated",
                                        final_gold_selected=["x"], adjudicated_by=bob, adjudicated_at=timezone.now())
    CampaignTurn.objects.create(campaign=campaign, turn=turns[1], position=1, stratum="1:ORACLE")
    Annotation.objects.create(entry=first, annotator=alice, status="done", feedback="positive", correctness="yes",
                              flags=["partial_satisfaction"], gold_selected=[], note="ok", claimed_at=timezone.now(),
                              submitted_at=timezone.now())
    Annotation.objects.create(entry=first, annotator=bob, claimed_at=timezone.now())
    return worker


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def read_table(folder: Path, table: str) -> list[dict]:
    if (folder / f"{table}.jsonl").exists():
        return [json.loads(line) for line in (folder / f"{table}.jsonl").read_text().splitlines()]
    import pyarrow.parquet as pq

    return pq.read_table(folder / f"{table}.parquet").to_pylist()


def natural(obj):
    """A row's identity independent of database ids."""
    if obj is None:
        return None
    if isinstance(obj, get_user_model()):
        return annotator_pseudonym(obj.username)
    if isinstance(obj, Round):
        return obj.number
    if isinstance(obj, Participant):
        return (obj.platform, obj.external_id_hash)
    if isinstance(obj, Deployment):
        return (obj.round.number, obj.system.name)
    if isinstance(obj, Interaction):
        return (obj.created_at.isoformat(), obj.config.name, natural(obj.speaker))
    if isinstance(obj, Turn):
        return (natural(obj.interaction), obj.index)
    if isinstance(obj, CampaignTurn):
        return (obj.campaign.name, natural(obj.turn))
    return obj.name


def canonical_dump() -> dict:
    """Every field of every row of the study's tables, references by identity, ids left out."""
    dump = {}
    for model in MODELS:
        rows = []
        for obj in model.objects.all():
            row = {}
            for f in model._meta.concrete_fields:
                if f.primary_key:
                    continue
                value = natural(getattr(obj, f.name)) if f.is_relation else getattr(obj, f.attname)
                row[f.name] = bytes(value) if isinstance(value, memoryview) else value
            for m2m in model._meta.many_to_many:
                row[m2m.name] = sorted(natural(x) for x in getattr(obj, m2m.name).all())
            rows.append(row)
        dump[model.__name__] = sorted(rows, key=repr)
    return dump


@pytest.mark.parametrize("format", ["jsonl", "parquet"])
def test_export_then_import_into_an_empty_database_is_lossless(study, tmp_path, format):
    before = canonical_dump()
    assert all(before[m.__name__] for m in MODELS)  # every table has rows to lose
    out = tmp_path / "export"
    log = run("export_study", str(out), "--format", format)
    assert "turn: " in log and "written to" in log
    call_command("flush", interactive=False, verbosity=0)
    assert not Interaction.objects.exists() and not Tangram.objects.exists()
    report = run("import_study", str(out))
    assert "row(s) created, 0 already here" in report
    assert canonical_dump() == before
    # Imported annotators are pseudonyms without a usable password.
    users = get_user_model().objects.order_by("username")
    assert {u.username for u in users} == {annotator_pseudonym("alice"), annotator_pseudonym("bob")}
    assert not any(u.has_usable_password() or u.is_active for u in users)
    # The same export again changes nothing; re-exported, the rows are the same (ids aside).
    assert "0 row(s) created" in run("import_study", str(out))
    assert canonical_dump() == before
    again = tmp_path / "again"
    run("export_study", str(again), "--format", format)
    for table in fmt.TABLE_NAMES:
        strip = lambda rows: sorted(json.dumps({k: v for k, v in r.items() if "game" not in k}, sort_keys=True)
                                    for r in rows)
        assert strip(read_table(again, table)) == strip(read_table(out, table)), table


def test_the_tables_carry_the_original_fields_and_load_with_datasets(study, tmp_path):
    import datasets

    out = tmp_path / "export"
    run("export_study", str(out), "--alias", "sep_12_24")
    manifest = json.loads((out / "manifest.json").read_text())
    for table in fmt.TABLES:
        rows = read_table(out, table.name)
        assert manifest["counts"][table.name] == len(rows)
        assert all(list(r) == list(table.names) for r in rows)
        loaded = datasets.load_dataset("json", data_files=str(out / f"{table.name}.jsonl"), split="train",
                                       cache_dir=str(tmp_path / "hf"))
        assert loaded.num_rows == len(rows)

    turns = read_table(out, "turn")
    games = {g["game_id"]: g for g in read_table(out, "interaction")}
    for t in turns:
        game = games[t["game_id"]]
        stored = Turn.objects.get(interaction__created_at=game["created_at"], index=t["turn_id"])
        assert t["game_turn_id"] == f"{t['game_id']}_{t['turn_id']}"
        assert t["currently_selected"] == stored.selection_before and t["chats"][-1] == stored.utterance
        assert t["context"] == game["context_listener"] and sorted(t["context"]) == sorted(game["context"])
        nxt = [u for u in turns if u["game_id"] == t["game_id"] and u["turn_id"] == t["turn_id"] + 1]
        assert t["chat_feedback"] == (nxt[0]["utterance"] if nxt else "")
        assert (t["dataset_alias"], t["round"], t["policy_name"]) == ("sep_12_24", game["round"], game["system"])
    assert {g["policy_name"] for g in games.values()} == {"ORACLE", "HH"}
    assert all(len(g["clicks"]) == g["turn"] == len(g["chat"]) for g in games.values())

    # By table name, the card's declared types hold even for a column that is null on every row.
    by_name = datasets.load_dataset(str(out), "interaction", split="train", cache_dir=str(tmp_path / "hf"))
    assert all(g["held_action"] is None for g in games.values())
    assert by_name.features["held_action"].dtype == "string" and by_name.num_rows == len(games)
    assert by_name.features["clicks"].feature.feature.dtype == "string"

    card = (out / "README.md").read_text()
    for table in fmt.TABLES:
        assert f"| `{table.name}` | {manifest['counts'][table.name]} |" in card
        for column in table.columns:
            assert f"| `{column.name}`" in card and fmt.cell(column.description) in card
    assert "Model weights" in card

    parquet = tmp_path / "parquet"
    run("export_study", str(parquet), "--format", "parquet")
    loaded = datasets.load_dataset("parquet", data_files=str(parquet / "turn.parquet"), split="train",
                                   cache_dir=str(tmp_path / "hf"))
    assert loaded.num_rows == len(turns) and loaded.features["clicks"].feature.feature.dtype == "string"
    by_config = datasets.load_dataset(str(parquet), "interaction", split="train", cache_dir=str(tmp_path / "hf"))
    assert by_config.num_rows == len(games)


def test_no_raw_worker_id_leaves_the_platform(study, tmp_path):
    worker = study
    for format in ("jsonl", "parquet"):
        out = tmp_path / format
        run("export_study", str(out), "--format", format)
        text = "".join(str(read_table(out, t)) for t in fmt.TABLE_NAMES)
        text += "".join(p.read_text(errors="replace") for p in out.iterdir() if p.suffix != ".parquet")
        assert worker.external_id_hash in text  # the keyed hash is there
        for secret in (RAW_WORKER, RAW_ASSIGNMENT, "alice", "bob"):
            assert secret not in text
            assert all(secret.encode() not in p.read_bytes() for p in out.iterdir())


def test_a_round_export_holds_only_that_rounds_play_data(study, tmp_path):
    out = tmp_path / "round2"
    run("export_study", str(out), "--round", "2", "--format", "parquet")
    games = read_table(out, "interaction")
    assert games and {g["round"] for g in games} == {2}
    assert len(games) == Interaction.objects.filter(deployment__round__number=2).count()
    assert {t["game_id"] for t in read_table(out, "turn")} == {g["game_id"] for g in games}
    assert read_table(out, "feedback_label") == [] and read_table(out, "annotation") == []
    assert read_table(out, "training_run") == []
    speakers = {g["speaker"] for g in games}
    assert {p["participant"] for p in read_table(out, "participant")} == speakers
    assert len(read_table(out, "round")) == 2  # setup tables in full
    # It imports on its own into an empty database.
    call_command("flush", interactive=False, verbosity=0)
    run("import_study", str(out))
    assert Interaction.objects.count() == len(games) and {i.deployment.round.number for i in Interaction.objects.all()} == {2}


def test_the_task_path_records_progress(study, tmp_path, settings, client):
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("with a real broker the task runs in a worker, outside this test's transaction")
    settings.TRAINING_DISPATCH = "celery"  # eager Celery in the embedded default: the task runs on commit
    out = tmp_path / "bg"
    log = run("export_study", str(out), "--background")
    export = StudyExport.objects.get()
    assert f"export {export.pk}: succeeded" in log
    assert (export.status, export.progress, export.error) == ("succeeded", 1.0, "")
    assert export.rows_done == export.rows_total == sum(export.counts.values()) > 0
    assert export.counts["turn"] == Turn.objects.count() and export.seconds is not None
    assert (out / "manifest.json").exists() and not list(tmp_path.glob("bg.partial-*"))
    # Staff follow it in the admin.
    staff = get_user_model().objects.create_superuser("ops", password="pw")
    client.force_login(staff)
    page = client.get("/admin/training/studyexport/").content.decode()
    assert '<progress max="100" value="100"></progress> 100%' in page and "succeeded" in page
    # A second run of the same task leaves the finished export alone.
    from training.tasks import export_study

    export_study.delay(export.pk)
    assert StudyExport.objects.get().finished_at == export.finished_at


def test_a_failing_export_is_recorded_and_leaves_no_folder(study, tmp_path, monkeypatch):
    from training.services import study_export

    def broken(self, table):
        raise RuntimeError("disk full")

    monkeypatch.setattr(study_export._Source, "rows", broken)
    with pytest.raises(CommandError, match="export failed: disk full"):
        run("export_study", str(tmp_path / "x"))
    export = StudyExport.objects.get()
    assert export.status == "failed" and "disk full" in export.error
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob("x.partial-*"))


def test_export_refuses_bad_requests(study, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a.txt").write_text("x")
    with pytest.raises(CommandError, match="is not an empty folder"):
        run("export_study", str(tmp_path / "full"))
    with pytest.raises(CommandError, match="round 9 does not exist"):
        run("export_study", str(tmp_path / "new"), "--round", "9")
    with pytest.raises(CommandError, match="does not exist"):
        run("export_study", str(tmp_path / "no" / "such" / "dir"))
    assert not StudyExport.objects.exists()


# --- bad import files ------------------------------------------------------------------------------------


def edit_line(folder: Path, table: str, number: int, change) -> None:
    path = folder / f"{table}.jsonl"
    lines = path.read_text().splitlines()
    lines[number - 1] = change(lines[number - 1])
    path.write_text("\n".join(lines) + "\n")


def edit_row(folder, table, number, **changes):
    edit_line(folder, table, number, lambda line: json.dumps({**json.loads(line), **changes}))


def drop_key(folder, table, number, key):
    edit_line(folder, table, number, lambda line: json.dumps({k: v for k, v in json.loads(line).items() if k != key}))


def drop_line(folder, table, number):
    path = folder / f"{table}.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[: number - 1] + lines[number:]) + "\n")


DAMAGES = [
    (lambda f: edit_line(f, "turn", 2, lambda line: line[:-3]), r"turn\.jsonl line 2: malformed JSON"),
    (lambda f: drop_key(f, "interaction", 1, "config"), r"interaction\.jsonl line 1: missing column\(s\) config"),
    (lambda f: edit_row(f, "turn", 3, selected="A"), r"turn\.jsonl line 3: selected: expected list of text, got str"),
    (lambda f: edit_row(f, "round", 1, settings="{not json"), r"round\.jsonl line 1: settings: not valid JSON"),
    (lambda f: edit_row(f, "turn", 1, game_id=999999), r"turn\.jsonl line 1: game_id: unknown interaction 999999"),
    (lambda f: edit_row(f, "deployment", 1, checkpoint="nowhere"),
     r"deployment\.jsonl line 1: checkpoint: unknown checkpoint 'nowhere'"),
    (lambda f: edit_row(f, "feedback_label", 1, label="great"),
     r"feedback_label\.jsonl line 1: label: 'great' is not one of positive"),
    (lambda f: edit_row(f, "turn", 1, prob_action=7.0), r"turn\.jsonl line 1: refused by the database"),
    (lambda f: (f / "speaker_intent.jsonl").unlink(), r"speaker_intent\.jsonl is missing"),
    (lambda f: drop_line(f, "context_image", 4), r"context_image: config '.+' is not a valid context"),
    (lambda f: edit_row(f, "system", 1, name="bad name!"), r"system\.jsonl line 1: name: Use letters"),
]


def test_a_bad_file_is_refused_with_its_place_and_nothing_is_written(study, tmp_path):
    out = tmp_path / "export"
    run("export_study", str(out))
    call_command("flush", interactive=False, verbosity=0)
    for i, (damage, message) in enumerate(DAMAGES):
        copy = tmp_path / f"damaged-{i}"
        shutil.copytree(out, copy)
        damage(copy)
        with pytest.raises(CommandError, match="nothing imported: " + message):
            run("import_study", str(copy))
        assert all(not m.objects.exists() for m in MODELS) and not get_user_model().objects.exists(), message
    run("import_study", str(out))  # the undamaged export imports
    assert Interaction.objects.exists()


def test_a_bad_parquet_file_is_refused(study, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "export"
    run("export_study", str(out), "--format", "parquet")
    call_command("flush", interactive=False, verbosity=0)
    table = pq.read_table(out / "turn.parquet")
    pq.write_table(table.drop_columns(["utterance"]), out / "turn.parquet")
    with pytest.raises(CommandError, match=r"turn\.parquet: missing column\(s\) utterance"):
        run("import_study", str(out))
    ids = [str(v) for v in table.column("turn_id").to_pylist()]
    ids[0] = "one"  # a column of text where integers belong
    index = table.schema.get_field_index("turn_id")
    pq.write_table(table.set_column(index, "turn_id", pa.array(ids)), out / "turn.parquet")
    with pytest.raises(CommandError, match=r"turn\.parquet row 1: turn_id: expected integer, got str 'one'"):
        run("import_study", str(out))
    assert not Tangram.objects.exists()


def test_an_import_refuses_to_overwrite_rows_that_differ(study, tmp_path):
    out = tmp_path / "export"
    run("export_study", str(out))
    System.objects.filter(name="ORACLE").update(description="changed here")
    before = canonical_dump()
    with pytest.raises(CommandError, match=r"system\.jsonl line \d: this system already exists here with other "
                                           r"values \(description\); refusing to overwrite it"):
        run("import_study", str(out))
    assert canonical_dump() == before
    with pytest.raises(CommandError, match=r"not a study export"):
        run("import_study", str(tmp_path))
