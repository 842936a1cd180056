"""The language-model port (feedback/language_model.py): the prompted decoder reaches its model only
through ``settings.FEEDBACK_LANGUAGE_MODEL``; a small fake stands in for the training app here."""
import ast
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from feedback.decoders.base import DecoderUnavailable
from feedback.decoders.prompted import PromptedDecoder
from feedback.decoders.registry import LANGUAGE_MODEL_TYPES, build_decoder
from feedback.domain.prompts import BINARY
from feedback.domain.windows import FeedbackWindow
from feedback.language_model import Generated, LanguageModelLoadError

FEEDBACK = Path(__file__).resolve().parents[2] / "feedback"
FAKE = "tests.feedback.test_language_model.load_fake"


class FakeModel:
    """Words are tokens; answers are scripted by the last word of the prompt's conversation."""

    def __init__(self, path, context_length=2048, answers=None):
        self.path = Path(path)
        self.context_length = context_length
        self.answers = answers or {}
        self.calls: list[tuple[list[str], int]] = []

    def chat_prompt(self, user_text):
        return f"User: {user_text}\nAssistant:"

    def count_tokens(self, text):
        return len(text.split())

    def generate(self, prompts, max_new_tokens):
        self.calls.append((list(prompts), max_new_tokens))
        out = []
        for prompt in prompts:
            key = next((k for k in self.answers if k in prompt), None)
            out.append(Generated(self.answers.get(key, "Maybe"), self.count_tokens(prompt)))
        return out


loaded: list[tuple[str, str | None]] = []


def load_fake(path, *, device=None):
    loaded.append((str(path), device))
    if not Path(path).is_dir():
        raise LanguageModelLoadError(f"base model {path}: folder does not exist")
    return FakeModel(path, answers={"great thanks": " Positive<end>", "wrong one": " Negative.", "hmm": "Neutral"})


def window(next_utterance, key=0):
    return FeedbackWindow(previous_action=None, utterance="the swan", action="select A",
                          next_utterance=next_utterance, key=key)


def test_the_prompted_decoder_runs_on_whatever_model_the_setting_names(settings, tmp_path):
    settings.FEEDBACK_LANGUAGE_MODEL = FAKE
    loaded.clear()
    decoder = build_decoder("binary", base_path=tmp_path, batch_size=2, device="cpu")
    assert loaded == [(str(tmp_path), "cpu")]
    labels = decoder.decode([window("great thanks", 0), window("wrong one", 1), window("hmm", 2)])
    assert [x.label for x in labels] == ["positive", "negative", "unparsed"]  # binary: neutral is unparsed
    assert [x.raw_output for x in labels] == [" Positive<end>", " Negative.", "Neutral"]
    assert labels[0].details["model"] == tmp_path.name and labels[0].details["truncated"] is False
    model = decoder.model
    assert sum(len(prompts) for prompts, _ in model.calls) == 3 and all(n == 5 for _, n in model.calls)
    assert max(len(prompts) for prompts, _ in model.calls) == 2  # batches of FEEDBACK's batch size
    prompt = model.calls[0][0][0]
    assert prompt.startswith("User: " + BINARY.head) and prompt.endswith("Assistant:")


def test_a_model_that_cannot_be_loaded_makes_the_decoder_unavailable(settings, tmp_path):
    settings.FEEDBACK_LANGUAGE_MODEL = FAKE
    with pytest.raises(DecoderUnavailable, match="folder does not exist"):
        build_decoder("ternary", base_path=tmp_path / "missing")
    settings.FEEDBACK_LANGUAGE_MODEL = "tests.feedback.test_language_model.no_such_loader"
    with pytest.raises(ImproperlyConfigured, match="FEEDBACK_LANGUAGE_MODEL"):
        build_decoder("ternary", base_path=tmp_path)


def test_the_budget_comes_from_the_models_context(tmp_path):
    decoder = PromptedDecoder(FakeModel(tmp_path, context_length=300), binary=False, max_input_tokens=10**6)
    assert decoder.max_input_tokens == 300 - 5
    with pytest.raises(DecoderUnavailable, match="instruction does not fit"):
        PromptedDecoder(FakeModel(tmp_path, context_length=20), binary=False)
    long = window("hmm " + "word " * 400)
    text, truncated = decoder.prompt(long)
    assert truncated and decoder._count(text) <= decoder.max_input_tokens


def test_the_default_setting_names_the_training_apps_implementation(settings):
    from django.utils.module_loading import import_string

    from training.policies.hf_base import SUPPORTED_MODEL_TYPES

    assert callable(import_string(settings.FEEDBACK_LANGUAGE_MODEL))
    # base_model_kind reads folders without loading them; it must know the same model types.
    assert set(LANGUAGE_MODEL_TYPES) == set(SUPPORTED_MODEL_TYPES)


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (top level, in functions, under TYPE_CHECKING)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_nothing_in_feedback_imports_the_training_app():
    offenders = {
        f"{path.relative_to(FEEDBACK.parent)}: {name}"
        for path in FEEDBACK.rglob("*.py")
        for name in imported_modules(path)
        if name == "training" or name.startswith("training.")
    }
    assert not offenders
