"""The prompted LLM decoder end to end on the tiny Idefics model (its answers are meaningless; the
path - prompt, truncation, batching, base without adapter, storage, Celery task - must work)."""
import io
import json

import pytest
import torch
from django.core.management import call_command

from feedback.decoders.base import DecoderUnavailable
from feedback.decoders.prompted import PromptedDecoder
from feedback.domain.labels import ALL_LABELS
from feedback.domain.prompts import BINARY, ELLIPSIS, TERNARY
from feedback.domain.windows import FeedbackWindow
from feedback.models import FeedbackLabel
from tests.feedback.conftest import record_game

torch.set_num_threads(1)
pytestmark = pytest.mark.slow


def windows(n=5, long=False):
    return [
        FeedbackWindow(
            previous_action="select B" if i else None, utterance=("the tall one with a hat " * (60 if long else 1)),
            action="deselect B select C", next_utterance=f"no, the other one {i}", key=i,
        )
        for i in range(n)
    ]


def test_decodes_a_batch_keeping_the_raw_output(tiny_model):
    decoder = PromptedDecoder(tiny_model, binary=True, batch_size=2)
    assert (decoder.name, decoder.prompt_version, decoder.binary) == ("binary", "v1", True)
    labels = decoder.decode(windows(5))
    assert len(labels) == 5
    for label in labels:
        assert label.label in ALL_LABELS and label.label != "neutral"
        assert isinstance(label.raw_output, str)
        assert label.details["model"] == "tiny" and label.details["truncated"] is False
        assert label.details["input_tokens"] <= decoder.max_input_tokens
        if label.label == "unparsed":
            assert label.details["reason"]
    one_by_one = PromptedDecoder(tiny_model, binary=True, batch_size=1).decode(windows(5))
    assert [x.raw_output for x in one_by_one] == [x.raw_output for x in labels]
    assert PromptedDecoder(tiny_model, binary=False).decode([]) == []


def test_the_prompt_is_text_only_and_holds_the_window_and_the_instruction(tiny_model):
    decoder = PromptedDecoder(tiny_model, binary=False)
    text, truncated = decoder.prompt(windows(1)[0])
    assert not truncated and "<image>" not in text
    assert TERNARY.head in text and TERNARY.tail in text
    assert "Speaker: no, the other one 0" in text and "Listener: deselect B select C" in text
    assert text.endswith("Assistant:")


def test_long_windows_are_cut_from_the_left_never_the_instruction(tiny_model):
    instruction = PromptedDecoder(tiny_model, binary=True)._count(PromptedDecoder(tiny_model, binary=True)._render(""))
    decoder = PromptedDecoder(tiny_model, binary=True, max_input_tokens=instruction + 40)
    text, truncated = decoder.prompt(windows(1, long=True)[0])
    assert truncated
    assert BINARY.head + ELLIPSIS in text and BINARY.tail in text
    assert "Speaker: no, the other one 0" in text  # the feedback itself survives
    assert decoder._count(text) <= decoder.max_input_tokens
    labels = decoder.decode(windows(3, long=True))
    assert all(label.details["truncated"] for label in labels)


def test_the_budget_is_capped_by_the_model_and_must_fit_the_instruction(tiny_model):
    assert PromptedDecoder(tiny_model, binary=True, max_input_tokens=10**6).max_input_tokens == 2048 - 5
    with pytest.raises(DecoderUnavailable, match="instruction does not fit"):
        PromptedDecoder(tiny_model, binary=True, max_input_tokens=50)


def test_decoding_uses_the_base_model_with_no_adapter_active(tiny_path, tmp_path):
    """A fresh base (adapters change the shared model): outputs with a non-zero LoRA adapter loaded and
    set active are those of the bare base."""
    from peft import get_peft_model
    from transformers import AutoModelForImageTextToText

    from training.feedback_model import IdeficsFeedbackModel
    from training.policies.hf_base import load_base, lora_config

    base = load_base(tiny_path, device="cpu")
    decoder = PromptedDecoder(IdeficsFeedbackModel(base), binary=False, max_new_tokens=8)
    before = [x.raw_output for x in decoder.decode(windows(3))]
    torch.manual_seed(3)
    model = AutoModelForImageTextToText.from_pretrained(tiny_path, local_files_only=True)
    get_peft_model(model, lora_config(init_lora_weights=False)).save_pretrained(tmp_path / "adapter")
    name = base.adapter(tmp_path / "adapter")
    base.model.set_adapter(name)
    prompt = decoder.prompt(windows(1)[0])[0]
    ids = base.tokenizer([prompt], return_tensors="pt")
    with torch.inference_mode():
        with base.active(name) as m:
            adapted = m(**ids).logits[0, -1]
        with base.active(None) as m:
            bare = m(**ids).logits[0, -1]
    assert not torch.allclose(adapted, bare)  # the adapter matters ...
    assert [x.raw_output for x in decoder.decode(windows(3))] == before  # ... and the decoder does not use it


@pytest.mark.django_db
def test_the_celery_task_decodes_a_round_end_to_end_on_the_tiny_model(game_library, deploy, tiny_path, settings):
    from feedback.tasks import decode_round

    settings.FEEDBACK_PROMPTED_ON_TINY = True
    deployment = deploy("B-SUP", "binary", base_model=str(tiny_path))  # absolute: DATA_DIR / abs = abs
    game = record_game(deployment, [("the swan", "select A"), ("no, the other swan", "deselect A select B"),
                                    ("yes! now the dog", "select C")])
    # apply(): the task itself, in this process, whatever the broker (eager .delay() in the embedded default).
    report = decode_round.apply(args=(deployment.round.pk,)).get()
    item = report["deployments"][0]
    assert (item["decoder"], item["version"], item["note"]) == ("binary", "v1", "")
    assert sum(item["added"].values()) == 2
    rows = list(FeedbackLabel.objects.order_by("turn__index"))
    assert [r.turn.index for r in rows] == [0, 1] and {r.turn.interaction_id for r in rows} == {game.pk}
    for row in rows:
        assert (row.decoder, row.prompt_version) == ("binary", "v1")
        assert row.label in ("positive", "negative", "unparsed") and row.details["model"] == "tiny"
    again = decode_round.apply(args=(deployment.round.pk, deployment.system.pk)).get()
    assert again["added"] == 0
    # Without the override the tiny model is not used: the lexicon decodes instead, and says why.
    settings.FEEDBACK_PROMPTED_ON_TINY = False
    fallback = decode_round.apply(args=(deployment.round.pk,)).get()["deployments"][0]
    assert fallback["decoder"] == "lexicon" and "tiny test model" in fallback["note"]


@pytest.mark.django_db
def test_a_ternary_override_runs_on_the_tiny_model_from_the_command(game_library, deploy, tiny_path):
    deployment = deploy("LEX", "lexicon", base_model=str(tiny_path))
    record_game(deployment, [("the swan", "select A"), ("undo", "deselect A")])
    out = io.StringIO()
    call_command("decode_feedback", "--round", "1", "--decoder", "ternary", stdout=out)
    assert "LEX: ternary v1: +1" in out.getvalue()
    assert FeedbackLabel.objects.get().decoder == "ternary"


def test_decode_text_with_the_prompted_decoder(tiny_path, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"utterance": "a boat", "action": "select A", "next_utterance": "no", "id": 4}) + "\n")
    out = io.StringIO()
    call_command("decode_text", "--decoder", "binary", "--base-model", str(tiny_path), "--raw", str(src), stdout=out)
    row = json.loads(out.getvalue())
    assert row["id"] == 4 and row["label"] in ("positive", "negative", "unparsed") and "label_raw" in row
