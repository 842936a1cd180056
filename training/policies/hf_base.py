"""Idefics-family base models (Idefics2, Idefics3 / SmolVLM, our tiny model): loading, apart from
generation (``training.policies.hf``).

* ``load_base(path)`` loads a base model + processor from a local folder (never the hub), fp32 on CPU and
  bf16 on GPU, and checks everything a game will need, so a bad path fails at load time, not mid-game.
* ``shared_base(path)`` keeps one loaded base per folder and device in the process.
* ``HFBase.adapter(path)`` loads a peft LoRA adapter onto the shared base; several adapters (one per
  deployed system) live on one base and are switched per batch under a lock.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from games.domain.rules import LETTERS, Action, format_action
from training.policies import adapters
from training.policies.adapters import AdapterHost, PolicyLoadError
from training.policies.common import short_error
from training.policies.loading import SharedBases, load_checked_weights, require_folder

SUPPORTED_MODEL_TYPES = ("idefics2", "idefics3")
END_OF_UTTERANCE = "<end_of_utterance>"

# LoRA targets as in the study: attention + MLP projections of the text model and the modality
# projection (the Idefics2 perceiver too, when there is one).
LORA_TARGETS = (
    r".*(text_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
    r"|connector\.modality_projection.*\.(proj|up_proj|gate_proj|down_proj)"
    r"|perceiver_resampler.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj))"
)


def lora_config(**kwargs: Any):
    """The study's LoRA (``adapters.lora_config``) on the Idefics layers above."""
    return adapters.lora_config(LORA_TARGETS, **kwargs)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class ActionVocabulary:
    """Token ids an action text can use after the generation prompt, and the end tokens."""

    token_ids: tuple[int, ...]  # includes end_ids
    end_ids: tuple[int, ...]
    pad_id: int


def completion_ids(tokenizer, prompt: str, completion: str) -> list[int]:
    """Token ids of ``completion`` as they follow ``prompt``: tokenize the prompt's last line with and
    without the completion and keep the difference (tokenizers differ in how they treat a leading
    space, so the completion is never tokenized alone)."""
    anchor = prompt.rsplit("\n", 1)[-1]
    head = tokenizer(anchor, add_special_tokens=False)["input_ids"]
    full = tokenizer(anchor + completion, add_special_tokens=False)["input_ids"]
    if full[: len(head)] != head:
        raise PolicyLoadError(f"the tokenizer merges the answer into the prompt ({anchor!r} + {completion!r})")
    return full[len(head):]


class HFBase(AdapterHost):
    """One loaded base model and processor, shared by every policy (adapter) on it."""

    def __init__(self, path: Path, model, processor, device: str, dtype: torch.dtype):
        self.path = path
        self.model = model  # becomes a PeftModel once an adapter is loaded
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.device = device
        self.dtype = dtype
        self.model_type: str = model.config.model_type
        self._init_adapters()
        self.vocab = self._action_vocabulary()

    # -- prompt text -------------------------------------------------------------------------

    def prompt_text(self, messages: list[dict]) -> str:
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def completion_text(self, messages_with_answer: list[dict]) -> tuple[str, str]:
        """(prompt, completion) where completion is what the model should write after the prompt,
        derived from the chat template itself (e.g. `` select F<end_of_utterance>``)."""
        prompt = self.prompt_text(messages_with_answer[:-1])
        full = self.processor.apply_chat_template(messages_with_answer, add_generation_prompt=False, tokenize=False)
        if not full.startswith(prompt):
            raise PolicyLoadError("the chat template does not continue the generation prompt with the answer")
        return prompt, full[len(prompt):].rstrip()

    def context_length(self) -> int:
        """The most positions the base's language model takes."""
        config = self.model.config
        for part in (getattr(config, "text_config", None), config):
            n = getattr(part, "max_position_embeddings", None)
            if isinstance(n, int) and n > 0:
                return n
        n = getattr(self.tokenizer, "model_max_length", 0)
        return n if 0 < n < 10**7 else 4096

    def _action_vocabulary(self) -> ActionVocabulary:
        tok = self.tokenizer
        eou = tok.convert_tokens_to_ids(END_OF_UTTERANCE)
        if eou is None or eou == tok.unk_token_id:
            raise PolicyLoadError(f"{self.path}: the tokenizer has no {END_OF_UTTERANCE} token")
        ends = [eou] + ([tok.eos_token_id] if tok.eos_token_id is not None and tok.eos_token_id != eou else [])
        messages = [{"role": "user", "content": [{"type": "text", "text": "x"}]}]
        ids: set[int] = set(ends)
        samples = [Action(select={x}) for x in LETTERS] + [Action(deselect={x}) for x in LETTERS]
        samples += [Action(deselect=set(LETTERS[:5]), select=set(LETTERS[5:])), Action(select=set(LETTERS))]
        for action in samples:
            prompt, completion = self.completion_text(
                messages + [{"role": "assistant", "content": [{"type": "text", "text": format_action(action)}]}]
            )
            part = completion_ids(tok, prompt, completion)
            if not part or part[-1] != eou:
                raise PolicyLoadError(f"{self.path}: the chat template does not end answers with {END_OF_UTTERANCE}")
            ids.update(part)
        pad = tok.pad_token_id if tok.pad_token_id is not None else ends[-1]
        return ActionVocabulary(token_ids=tuple(sorted(ids)), end_ids=tuple(ends), pad_id=pad)


def load_base(path: str | os.PathLike, *, device: str | None = None, dtype: torch.dtype | None = None) -> HFBase:
    """Load a base model + processor from a local folder, with one-line errors for bad folders."""
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

    folder = Path(path)
    require_folder(folder)
    if not (folder / "config.json").is_file():
        raise PolicyLoadError(f"base model {folder}: no config.json (not a saved model)")
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
    except Exception as exc:
        raise PolicyLoadError(f"base model {folder}: unreadable config ({short_error(exc)})") from exc
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise PolicyLoadError(
            f"base model {folder}: {config.model_type!r} is not one of {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    device = device or default_device()
    # fp32 on CPU (bf16 matmuls are slow there), bf16 on GPU as in the study.
    dtype = dtype or (torch.float32 if device == "cpu" else torch.bfloat16)
    try:
        processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    except Exception as exc:
        raise PolicyLoadError(f"base model {folder}: cannot load the processor ({short_error(exc)})") from exc
    if not getattr(processor, "chat_template", None):
        raise PolicyLoadError(f"base model {folder}: the processor has no chat template")
    model = load_checked_weights(folder, AutoModelForImageTextToText.from_pretrained, dtype=dtype, device_map=device)
    model.eval()
    processor.tokenizer.padding_side = "left"  # generation continues every row from its last column
    return HFBase(folder, model, processor, device, dtype)


_bases: SharedBases[HFBase] = SharedBases(load_base)


def shared_base(path: str | os.PathLike, *, device: str | None = None) -> HFBase:
    """One loaded base per (folder, device) in this process: every adapter on it shares its weights."""
    return _bases.get(path, device or default_device())


__all__ = ["SUPPORTED_MODEL_TYPES", "END_OF_UTTERANCE", "LORA_TARGETS", "lora_config", "default_device",
           "ActionVocabulary", "completion_ids", "HFBase", "load_base", "shared_base"]
