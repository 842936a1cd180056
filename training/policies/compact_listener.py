"""The compact listener: a small purpose-built vision-and-language model that scores a toggle per image.

(A model policy. The simulated *human* listener, a rule-based agent, lives in ``games.simulation``.)

Why it exists: a tiny Idefics model learns the *format* of the game on a CPU in minutes but not the
*selection* (binding images to letters is the slow part; see docs/policies.md). This model is built for
the job and learns the game on two CPU cores in a few minutes, so the demo, the tests and dry runs of
the learning loop have a listener that actually improves. It sits behind the same ``Policy`` interface,
is saved with ``save_pretrained`` and takes peft LoRA adapters on its linear layers, one per system,
shared on one loaded base, exactly like the Idefics backend.

Model: a small CNN encodes each image (grey silhouette, ``image_size`` px); the current utterance and the
previous one are embedded as tokens of a locally trained tokenizer; a transformer encoder reads the text
tokens and the ten image tokens together (each image token also carries the game state of its image:
selected now, toggled by the last action, ever deselected); a linear head gives one toggle logit per image.
Images have no position embedding, so the model is equivariant to the listener's screen order.

Action distribution: independent Bernoulli toggles, conditioned on the action being non-empty:
``log p(a) = sum_i log sigmoid(+-l_i) - log(1 - prod_i sigmoid(-l_i))``. It is a proper distribution over
all 1,023 non-empty toggle sets, so sampling, probabilities and teacher-forced scores (SFT, REINFORCE, KTO)
are exact. Sampling with temperature T divides the logits by T; the recorded probability uses T = 1, as the
Idefics backend does. Every sample is a well-formed action, so the grammar-constrained mode is the same.
"""
from __future__ import annotations

import io
import math
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PretrainedConfig, PreTrainedModel

from games.domain.rules import Action, Lettering, RuleError, format_action
from training.policies import adapters
from training.policies.adapters import AdapterHost, PolicyLoadError
from training.policies.base import ActRequest, ActResult, ScoreExample, TrainTerms, check_temperature
from training.policies.common import (
    DecodedImages, ImageError, ImageSource, act_each, attach_adapter, short_error,
)
from training.policies.loading import (
    SharedBases, check_output_folder, folder_model_type, load_checked_weights, require_folder, staged_folder,
)

MODEL_TYPE = "respect_toggle_listener"
NUM_FLAGS = 4  # selected now, selected by the last action, deselected by the last action, ever deselected
CLS, SEP, PAD, UNK = "[CLS]", "[SEP]", "[PAD]", "[UNK]"
# LoRA on every linear layer of the fusion transformer and the image projection.
LORA_TARGETS = r".*(q_proj|k_proj|v_proj|o_proj|up_proj|down_proj|image_proj)$"
# The word modules, trained in full by every adapter (peft's ``modules_to_save``: one copy per adapter,
# switched with it): the word-grounding head and the token embeddings. A new word ("crow" where the
# pre-training said "bird") is one row of each; a rank-8 update shared by the whole vocabulary cannot give
# it a meaning of its own, and with LoRA alone retraining barely learned the deployed speakers' words
# (docs/learning-loop.md, "Learning new words").
WORD_MODULES = ("word_votes", "token_embedding")


# ----------------------------------------------------------------------------- model


class ToggleListenerConfig(PretrainedConfig):
    model_type = MODEL_TYPE

    def __init__(
        self,
        vocab_size: int = 1024,
        hidden_size: int = 96,
        num_layers: int = 3,
        num_heads: int = 4,
        intermediate_size: int = 256,
        image_size: int = 48,
        image_channels: tuple[int, ...] = (16, 32, 64),
        max_text_tokens: int = 32,
        dropout: float = 0.1,
        pad_token_id: int = 0,
        **kwargs: Any,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.image_size = image_size
        self.image_channels = list(image_channels)
        self.max_text_tokens = max_text_tokens
        self.dropout = dropout
        super().__init__(pad_token_id=pad_token_id, **kwargs)


class _Attention(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(d, d) for _ in range(4))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, d // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)),
            attn_mask=keep[:, None, None, :], dropout_p=self.dropout if self.training else 0.0,
        )
        return self.o_proj(out.transpose(1, 2).reshape(b, t, d))


class _Block(nn.Module):
    def __init__(self, config: ToggleListenerConfig):
        super().__init__()
        d = config.hidden_size
        self.attn_norm = nn.LayerNorm(d)
        self.attn = _Attention(d, config.num_heads, config.dropout)
        self.mlp_norm = nn.LayerNorm(d)
        self.up_proj = nn.Linear(d, config.intermediate_size)
        self.down_proj = nn.Linear(config.intermediate_size, d)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.attn_norm(x), keep))
        return x + self.drop(self.down_proj(F.gelu(self.up_proj(self.mlp_norm(x)))))


class ImageEncoder(nn.Module):
    """Strided convolutions; the final feature map is flattened (not pooled) so that where a part
    sticks out (left/right, top/bottom) survives."""

    def __init__(self, config: ToggleListenerConfig):
        super().__init__()
        layers: list[nn.Module] = []
        channels, size = 1, config.image_size
        for out in config.image_channels:
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.GELU()]
            channels, size = out, (size + 1) // 2
        self.convs = nn.Sequential(*layers)
        self.image_proj = nn.Linear(channels * size * size, config.hidden_size)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.image_proj(self.convs(pixels).flatten(1))


class ToggleListenerModel(PreTrainedModel):
    config_class = ToggleListenerConfig
    base_model_prefix = "listener"
    main_input_name = "input_ids"

    def __init__(self, config: ToggleListenerConfig):
        super().__init__(config)
        d = config.hidden_size
        self.token_embedding = nn.Embedding(config.vocab_size, d, padding_idx=config.pad_token_id)
        self.position_embedding = nn.Embedding(2 * config.max_text_tokens + 2, d)
        self.segment_embedding = nn.Embedding(2, d)  # current utterance, previous utterance
        self.turn_embedding = nn.Embedding(16, d)
        self.image_encoder = ImageEncoder(config)
        self.flag_embedding = nn.Linear(NUM_FLAGS, d)
        self.image_type = nn.Parameter(torch.zeros(d))
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.num_layers))
        self.final_norm = nn.LayerNorm(d)
        self.toggle_head = nn.Linear(d, 1)
        # Word grounding: every image votes for the words it would be described with (a bag-of-words
        # caption model); an image's match score is the mean vote of the current utterance's words.
        # This direct image-word path learns in minutes where attention alone takes far longer.
        self.word_votes = nn.Linear(d, config.vocab_size)
        self.post_init()
        # Start from rarely toggling (p ~ 0.1 per image), so an untrained model mostly makes single clicks.
        with torch.no_grad():
            self.toggle_head.bias.fill_(-2.2)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        elif isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)

    def forward(
        self,
        input_ids: torch.Tensor,  # [B, T]
        attention_mask: torch.Tensor,  # [B, T]
        segment_ids: torch.Tensor,  # [B, T]
        turn: torch.Tensor,  # [B]
        pixel_values: torch.Tensor,  # [N, 1, S, S]: the distinct images of the batch
        image_index: torch.Tensor,  # [B, 10] rows of pixel_values, in the listener's order
        image_flags: torch.Tensor,  # [B, 10, NUM_FLAGS]
        **_: Any,
    ) -> torch.Tensor:
        """Toggle logits [B, 10]."""
        b, t = input_ids.shape
        positions = torch.arange(t, device=input_ids.device)
        text = self.token_embedding(input_ids) + self.position_embedding(positions) + self.segment_embedding(segment_ids)
        text[:, 0] = text[:, 0] + self.turn_embedding(turn.clamp(max=15))
        seen = self.image_encoder(pixel_values)  # [N, d]
        images = seen[image_index] + self.flag_embedding(image_flags) + self.image_type
        x = torch.cat([text, images], dim=1)
        keep = torch.cat([attention_mask.bool(), torch.ones(b, images.shape[1], dtype=torch.bool, device=x.device)], 1)
        for block in self.blocks:
            x = block(x, keep)
        x = self.final_norm(x)
        logits = self.toggle_head(x[:, t:]).squeeze(-1)
        return logits + self.word_match(seen[image_index], input_ids, segment_ids, attention_mask)

    def word_match(self, shown, input_ids, segment_ids, attention_mask) -> torch.Tensor:
        """[B, 10]: mean over the current utterance's tokens of each shown image's [B, 10, d] vote for
        that token, ``word_votes(image)[token]``. Only the head's rows of the tokens in use are read: the
        same numbers as applying it to every image and vocabulary entry, which took about 8% of a training
        step. The weights are read through the module, so peft's per-adapter copy of the word module is
        the one used."""
        words = (segment_ids == 0) & attention_mask.bool()
        words[:, 0] = False  # [CLS]
        words &= input_ids != self.config.sep_token_id if self.config.sep_token_id is not None else words
        weights = words.float() / words.float().sum(-1, keepdim=True).clamp(min=1)
        rows = F.embedding(input_ids, self.word_votes.weight)  # [B, T, d]
        picked = torch.einsum("bkd,btd->bkt", shown, rows) + self.word_votes.bias[input_ids][:, None, :]  # [B, 10, T]
        return (picked * weights[:, None, :]).sum(-1)


def _quiet_transformers() -> None:
    # Loading a 1 MB model should not draw progress bars into command output and worker logs.
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def register_with_auto_classes() -> None:
    from transformers import AutoConfig, AutoModel

    try:
        AutoConfig.register(MODEL_TYPE, ToggleListenerConfig)
        AutoModel.register(ToggleListenerConfig, ToggleListenerModel)
    except ValueError:  # already registered
        pass


register_with_auto_classes()


# ----------------------------------------------------------------------------- the action distribution


def action_log_probs(logits: torch.Tensor, toggles: torch.Tensor) -> torch.Tensor:
    """log p(toggles | non-empty) per row; ``toggles`` is a 0/1 tensor shaped like ``logits``. Never
    above 0 whatever the logits (it is logged as a probability, which the database keeps in [0, 1])."""
    logits = logits.float()
    on, off = F.logsigmoid(logits), F.logsigmoid(-logits)
    joint = (toggles * on + (1 - toggles) * off).sum(-1)
    return (joint - _log_non_empty(logits)).clamp(max=0.0)


def _log_non_empty(logits: torch.Tensor) -> torch.Tensor:
    """log P(at least one toggle) = log(1 - prod(1 - p_i)) per row, in float64: when every toggle is
    very unlikely, P(no toggle) is 1 - 1e-17 and must not round to 1 (in float32 it does from logits
    near -100, which made a near-impossible click look certain)."""
    wide = logits.double()
    log_empty = F.logsigmoid(-wide).sum(-1)
    # Past float64 too (logits below about -745), 1 - prod(1 - p_i) is sum(p_i) to first order.
    first_order = torch.logsumexp(F.logsigmoid(wide), -1)
    return torch.where(log_empty < 0, _log1mexp(log_empty), first_order).float()


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x < 0 (float64), stable at both ends; x = 0 is kept finite (-690.8)."""
    x = x.clamp(max=-1e-300)
    return torch.where(x > -math.log(2), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def sample_toggles(
    logits: torch.Tensor, temperature: float | torch.Tensor, generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One non-empty toggle set per row, from the Bernoulli toggles at ``temperature`` (a number, or
    one per row), conditioned on being non-empty (rejection sampling, exact; after 64 empty draws the
    most likely single toggle)."""
    if torch.is_tensor(temperature):
        temperature = temperature.float().view(-1, 1)
    probs = torch.sigmoid(logits.float() / temperature)
    out = torch.zeros_like(probs)
    pending = torch.ones(probs.shape[0], dtype=torch.bool)
    for _ in range(64):
        draw = (torch.rand(probs.shape, generator=generator) < probs).float()
        fresh = pending & (draw.sum(-1) > 0)
        out[fresh] = draw[fresh]
        pending &= ~fresh
        if not pending.any():
            return out
    rows = pending.nonzero().squeeze(-1)
    out[rows, logits[rows].argmax(-1)] = 1.0
    return out


def greedy_toggles(logits: torch.Tensor) -> torch.Tensor:
    """The single most likely non-empty toggle set: every p > 0.5, else the best single toggle."""
    out = (logits > 0).float()
    empty = out.sum(-1) == 0
    out[empty, logits[empty].argmax(-1)] = 1.0
    return out


# ----------------------------------------------------------------------------- tokenizer and inputs


def listener_corpus(seed: int, extra: Iterable[str] = ()) -> Iterable[str]:
    """Text the tokenizer learns from: the Idefics tiny model's game corpus plus any extra utterances
    (e.g. a simulated speaker's)."""
    from training.policies.tiny import game_corpus

    yield from game_corpus(seed, games=1500)
    yield from extra


def train_listener_tokenizer(texts: Iterable[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[PAD, CLS, SEP, UNK], min_frequency=2, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token=PAD, cls_token=CLS, sep_token=SEP, unk_token=UNK,
    )


@dataclass(frozen=True)
class EncodedRequest:
    """Model inputs of one request (no tensors yet: rows are stacked per batch)."""

    token_ids: list[int]
    segment_ids: list[int]
    turn: int
    images: tuple[str, ...]  # listener order
    flags: list[list[float]]


def image_flags(request: ActRequest) -> list[list[float]]:
    last = request.history[-1] if request.history else None
    ever_deselected: set[str] = set()
    for past in request.history:
        ever_deselected |= past.deselect
    return [
        [
            float(name in request.selection),
            float(last is not None and name in last.select),
            float(last is not None and name in last.deselect),
            float(name in ever_deselected),
        ]
        for name in request.listener_order
    ]


def encode_request(tokenizer, request: ActRequest, max_text_tokens: int) -> EncodedRequest:
    """[CLS] current utterance [SEP] previous utterance; each part cut to ``max_text_tokens``."""
    Lettering(request.listener_order)  # RuleError for a malformed order
    current = tokenizer(request.utterance, add_special_tokens=False)["input_ids"][:max_text_tokens]
    previous_text = request.history[-1].utterance if request.history else ""
    previous = tokenizer(previous_text, add_special_tokens=False)["input_ids"][:max_text_tokens] if previous_text else []
    ids = [tokenizer.cls_token_id, *current, tokenizer.sep_token_id, *previous]
    segments = [0] * (len(current) + 2) + [1] * len(previous)
    return EncodedRequest(ids, segments, len(request.history), tuple(request.listener_order), image_flags(request))


def png_to_pixels(png: bytes, size: int) -> torch.Tensor:
    """[1, S, S] in 0..1 with the figure bright on a dark background (from a dark-on-light PNG)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        grey = im.convert("L").resize((size, size), Image.Resampling.BILINEAR)
        data = torch.frombuffer(bytearray(grey.tobytes()), dtype=torch.uint8).float()
    return (1.0 - data / 255.0).view(1, size, size)


# ----------------------------------------------------------------------------- base + policy


class ListenerBase(AdapterHost):
    """One loaded compact-listener base model and its tokenizer, shared by every adapter on it."""

    def __init__(self, path: Path, model: ToggleListenerModel, tokenizer, device: str):
        self.path = path
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.config: ToggleListenerConfig = model.config
        self.model_type = MODEL_TYPE
        self._init_adapters()


def is_listener_folder(path: str | os.PathLike) -> bool:
    """Whether a model folder holds a compact listener (by its config's model_type)."""
    return folder_model_type(path) == MODEL_TYPE


def load_listener_base(path: str | os.PathLike, *, device: str = "cpu") -> ListenerBase:
    from transformers import PreTrainedTokenizerFast

    _quiet_transformers()
    folder = Path(path)
    require_folder(folder)
    if not is_listener_folder(folder):
        raise PolicyLoadError(f"base model {folder}: no config.json of a {MODEL_TYPE} model")
    try:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True)
    except Exception as exc:
        raise PolicyLoadError(f"base model {folder}: cannot load the tokenizer ({short_error(exc)})") from exc
    if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise PolicyLoadError(f"base model {folder}: the tokenizer has no {CLS}/{SEP} tokens")
    model = load_checked_weights(folder, ToggleListenerModel.from_pretrained)
    if len(tokenizer) > model.config.vocab_size:
        raise PolicyLoadError(f"base model {folder}: tokenizer ({len(tokenizer)}) larger than the model's vocabulary")
    model.to(device).eval()
    return ListenerBase(folder, model, tokenizer, device)


_bases: SharedBases[ListenerBase] = SharedBases(load_listener_base)


def shared_listener_base(path: str | os.PathLike) -> ListenerBase:
    """One loaded compact listener per folder in this process (on the CPU), shared by its adapters."""
    return _bases.get(path, "cpu")


@dataclass(frozen=True)
class ListenerDecoding:
    temperature: float = 1.0  # 0 = greedy (the single most likely action)

    def __post_init__(self) -> None:
        check_temperature(self.temperature, allow_zero=True)


class ListenerPolicy:
    """The compact listener as a ``Policy``: a shared ``ListenerBase`` plus an optional LoRA adapter."""

    def __init__(
        self,
        base: ListenerBase,
        images: ImageSource,
        *,
        adapter_path: str | os.PathLike | None = None,
        decoding: ListenerDecoding = ListenerDecoding(),
        name: str | None = None,
        image_cache_size: int = 8192,
        seed: int | None = None,
    ):
        self.base = base
        self.adapter, self.name = attach_adapter(base, adapter_path, name)
        self.decoding = decoding
        size = base.config.image_size
        self._pixels = DecodedImages(images, lambda png: png_to_pixels(png, size), image_cache_size)
        self._generator = torch.Generator().manual_seed(seed) if seed is not None else None

    # -- images --------------------------------------------------------------------------------

    def pixels(self, names: Sequence[str]) -> torch.Tensor:
        """[len(names), 1, S, S], decoded once per tangram (LRU cache); ImageError names the missing."""
        return torch.stack(self._pixels.get(names))

    def preflight(self, image_names: Sequence[str]) -> None:
        self.pixels(list(image_names))

    # -- tensors -------------------------------------------------------------------------------

    def batch_inputs(self, encoded: Sequence[EncodedRequest]) -> dict[str, torch.Tensor]:
        pad = self.base.tokenizer.pad_token_id
        width = max(len(e.token_ids) for e in encoded)
        ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        segments = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, e in enumerate(encoded):
            n = len(e.token_ids)
            ids[row, :n] = torch.tensor(e.token_ids)
            mask[row, :n] = 1
            segments[row, :n] = torch.tensor(e.segment_ids)
        distinct = list(dict.fromkeys(name for e in encoded for name in e.images))
        row_of = {name: k for k, name in enumerate(distinct)}
        device = self.base.device
        return {
            "input_ids": ids.to(device), "attention_mask": mask.to(device), "segment_ids": segments.to(device),
            "turn": torch.tensor([e.turn for e in encoded], device=device),
            "pixel_values": self.pixels(distinct).to(device),
            "image_index": torch.tensor([[row_of[n] for n in e.images] for e in encoded], device=device),
            "image_flags": torch.tensor([e.flags for e in encoded], dtype=torch.float, device=device),
        }

    def encode(self, request: ActRequest) -> EncodedRequest:
        return encode_request(self.base.tokenizer, request, self.base.config.max_text_tokens)

    @staticmethod
    def toggles_of(example: ScoreExample) -> list[float]:
        action = Action(deselect=example.deselect, select=example.select)
        Lettering(example.request.listener_order).to_letters(action)  # RuleError outside the context
        if action.is_empty:
            raise RuleError("an empty action has probability 0 under this policy")
        if action.select & example.request.selection or not action.deselect <= example.request.selection:
            raise RuleError("the action does not fit the selection it was taken on")
        return [float(name in action.toggled) for name in example.request.listener_order]

    def logits(self, model, encoded: Sequence[EncodedRequest]) -> torch.Tensor:
        return model(**self.batch_inputs(encoded))

    # -- acting ---------------------------------------------------------------------------------

    def act(self, requests: Sequence[ActRequest]) -> list[ActResult]:
        """Sample one action per request; a request that cannot be encoded (bad order, missing image)
        gets the recorded error fallback and the others are still answered."""
        return act_each(
            self.name, requests, self._prepare,
            lambda _, ready: self._sample([r for r, _ in ready], [e for _, e in ready]),
        )

    def _prepare(self, index: int, request: ActRequest) -> tuple[None, tuple[ActRequest, EncodedRequest]]:
        encoded = self.encode(request)
        self.pixels(encoded.images)  # ImageError now, for this request alone
        return None, (request, encoded)

    @torch.inference_mode()
    def _sample(self, requests: Sequence[ActRequest], encoded: Sequence[EncodedRequest]) -> list[ActResult]:
        with self.base.active(self.adapter) as model:
            logits = self.logits(model, encoded).float().cpu()
        # A system's decoding temperature (ActRequest.decoding) overrides the policy's default; 0 is
        # greedy. The mode needs no handling: every sample is a well-formed action.
        temps = [self.temperature_for(r) for r in requests]
        sampled = sample_toggles(logits, torch.tensor([t if t > 0 else 1.0 for t in temps]), self._generator)
        greedy = greedy_toggles(logits)
        toggles = torch.where(torch.tensor([t == 0 for t in temps]).view(-1, 1), greedy, sampled)
        logprobs = action_log_probs(logits, toggles)
        results = []
        for row, request in enumerate(requests):
            t = temps[row]
            picked = {name for name, on in zip(request.listener_order, toggles[row].tolist()) if on}
            action = Action(deselect=picked & request.selection, select=picked - request.selection)
            lettering = Lettering(request.listener_order)
            results.append(ActResult(
                select=action.select, deselect=action.deselect,
                raw_output=format_action(lettering.to_letters(action)),
                probability=math.exp(float(logprobs[row])), source="model",
                extra={
                    "mode": "toggle", "temperature": t, "adapter": self.adapter, "logprob": float(logprobs[row]),
                    "toggle_probabilities": [round(p, 4) for p in torch.sigmoid(logits[row]).tolist()],
                },
            ))
        return results

    def temperature_for(self, request: ActRequest) -> float:
        settings = getattr(request, "decoding", None)
        chosen = getattr(settings, "temperature", None)
        return float(chosen) if chosen is not None else float(self.decoding.temperature)

    @property
    def batch_lane(self):
        """Policies on one loaded base compute one batch at a time (see ``base.batch_lane``)."""
        return ("listener", id(self.base))

    # -- scoring ---------------------------------------------------------------------------------

    def train_terms(self, model, examples: Sequence[ScoreExample]) -> TrainTerms:
        """log p(action) per example (one exact distribution over actions: length 1), the smoothing
        term S, the cross-entropy of each image's select/keep against a fair coin, averaged over the
        images, and whether the action is the greedy one; differentiable (training passes the model in
        train mode)."""
        toggles = torch.tensor([self.toggles_of(ex) for ex in examples], device=self.base.device)
        logits = self.logits(model, [self.encode(ex.request) for ex in examples]).float()
        logp = action_log_probs(logits, toggles)
        smoothing = -0.5 * (F.logsigmoid(logits) + F.logsigmoid(-logits)).mean(-1)
        greedy = (greedy_toggles(logits.detach()) == toggles).all(-1)
        return TrainTerms(logp, torch.ones_like(logp), smoothing, greedy)

    def log_probs(self, model, examples: Sequence[ScoreExample]) -> torch.Tensor:
        """log p(action) per example, differentiable (training passes the model in train mode)."""
        return self.train_terms(model, examples).logp

    @torch.inference_mode()
    def score(self, examples: Sequence[ScoreExample], batch_size: int = 64) -> list[float]:
        scores: list[float] = []
        with self.base.active(self.adapter) as model:
            for start in range(0, len(examples), batch_size):
                scores += self.log_probs(model, examples[start: start + batch_size]).tolist()
        return scores


# ----------------------------------------------------------------------------- build


def build_listener(
    out: Path | str, *, seed: int = 0, corpus: Iterable[str] = (), overwrite: bool = False, **config: Any,
) -> Path:
    """Build an untrained compact listener (tokenizer trained on game text plus ``corpus``) and save it
    with ``save_pretrained`` (staged in a temporary folder, then moved into place)."""
    out = Path(out)
    check_output_folder(out, overwrite)
    vocab_size = config.pop("vocab_size", 1024)
    tokenizer = train_listener_tokenizer(listener_corpus(seed, corpus), vocab_size)
    cfg = ToggleListenerConfig(
        vocab_size=vocab_size, pad_token_id=tokenizer.pad_token_id, sep_token_id=tokenizer.sep_token_id, **config
    )
    random.seed(seed)
    torch.manual_seed(seed)
    model = ToggleListenerModel(cfg).eval()
    save_listener(model, tokenizer, out)
    return out


def save_listener(model: ToggleListenerModel, tokenizer, out: Path) -> None:
    """Save a listener and its tokenizer into ``out``, atomically (``loading.staged_folder``)."""
    _quiet_transformers()
    with staged_folder(Path(out), prefix=".listener-") as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)


def lora_config(**kwargs: Any):
    """The study's LoRA (``adapters.lora_config``) on this model's linear layers, plus a full copy of
    its word modules (``WORD_MODULES``) per adapter."""
    kwargs.setdefault("modules_to_save", list(WORD_MODULES))
    return adapters.lora_config(LORA_TARGETS, **kwargs)


__all__ = [
    "MODEL_TYPE", "LORA_TARGETS", "WORD_MODULES", "ToggleListenerConfig", "ToggleListenerModel", "ListenerBase", "ListenerPolicy",
    "ListenerDecoding", "ImageError", "action_log_probs", "sample_toggles", "greedy_toggles", "encode_request",
    "image_flags", "png_to_pixels", "is_listener_folder", "load_listener_base", "shared_listener_base",
    "build_listener", "save_listener", "lora_config", "train_listener_tokenizer",
]
