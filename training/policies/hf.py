"""Hugging Face backend for Idefics-family listeners (Idefics2, Idefics3 / SmolVLM, our tiny model):
the policy, on a base loaded by ``training.policies.hf_base``.

* ``HFPolicy`` is the ``Policy``: ``act`` samples actions (vocabulary-restricted, or grammar-constrained
  through ``games.domain.action_grammar``), ``score`` gives teacher-forced log-probabilities,
  ``training_batch`` gives the tensors training uses.

Probabilities follow original-system.md §2.2: the sum of log-softmax of the *raw* logits (full
vocabulary, before any restriction or temperature) over the generated tokens through the end token.
"""
from __future__ import annotations

import dataclasses
import io
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import LogitsProcessor

from games.domain.action_grammar import grammar_complete, grammar_prefix_ok
from games.domain.rules import (
    LETTERS, PROBABILITY_ERROR, PROBABILITY_FALLBACK, PROBABILITY_NOT_COMPUTED, SOURCE_CLEANED, SOURCE_FALLBACK,
    SOURCE_OK, Action, Lettering, parse_model_output,
)
from training.policies.base import ActRequest, ActResult, DecodingSettings, ScoreExample, TrainTerms, check_temperature
from training.policies.caches import LRUCache
from training.policies.common import DecodedImages, ImageSource, act_each, attach_adapter
from training.policies.hf_base import ActionVocabulary, HFBase, completion_ids
from training.policies.prompts import request_messages

log = logging.getLogger(__name__)

# rules.parse_model_output source -> Turn.ActionSource value.
_SOURCES = {SOURCE_OK: "model", SOURCE_CLEANED: "cleaned", SOURCE_FALLBACK: "fallback"}

# ----------------------------------------------------------------------------- logits processors


class RestrictToVocabulary(LogitsProcessor):
    """Vocabulary-restricted sampling (the study's ``suppress_tokens``): every other id gets -inf.
    Out of place, so the raw logits generate() records stay untouched."""

    def __init__(self, token_ids: Sequence[int]):
        self._ids = torch.tensor(sorted(token_ids), dtype=torch.long)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        keep = torch.zeros(scores.shape[-1], dtype=torch.bool, device=scores.device)
        keep[self._ids.to(scores.device)] = True
        return scores.masked_fill(~keep, float("-inf"))


class ActionGrammarProcessor(LogitsProcessor):
    """Grammar-constrained decoding: only tokens that keep the text a prefix of a well-formed action
    consistent with the row's selection; the end token only once the action is complete (and forced
    at the last step). Finished rows are left alone (generate() pads them)."""

    def __init__(
        self, tokenizer, vocab: ActionVocabulary, selections: Sequence[frozenset[str]], prompt_length: int,
        max_new_tokens: int,
    ):
        # Decoding whole prefixes (not per-token strings) handles SentencePiece and byte-level alike.
        self._decode = lambda ids: tokenizer.decode(
            list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False
        )
        self._vocab = vocab
        self._candidates = [t for t in vocab.token_ids if t not in vocab.end_ids]
        self._selections = list(selections)
        self._prompt_length = prompt_length
        self._max_new_tokens = max_new_tokens

    def allowed(self, generated: Sequence[int], selected: frozenset[str], steps_left: int) -> list[int]:
        text = self._decode(generated)
        complete = grammar_complete(text, selected)
        if complete and steps_left <= 1:
            return list(self._vocab.end_ids)
        ids = list(self._vocab.end_ids) if complete else []
        ids += [t for t in self._candidates if grammar_prefix_ok(self._decode([*generated, t]), selected)]
        return ids

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        keep = torch.ones_like(scores, dtype=torch.bool)
        generated = input_ids[:, self._prompt_length:].tolist()
        steps_left = self._max_new_tokens - input_ids.shape[1] + self._prompt_length
        ends = set(self._vocab.end_ids)
        for row, ids in enumerate(generated):
            if ends.intersection(ids):
                continue
            allowed = self.allowed(ids, self._selections[row], steps_left)
            if allowed:  # never empty by construction; an empty row would make sampling fail
                keep[row] = False
                keep[row, allowed] = True
        return scores.masked_fill(~keep, float("-inf"))


# ----------------------------------------------------------------------------- the policy


@dataclass(frozen=True)
class DecodingConfig:
    temperature: float = 1.0
    constrained: bool = False  # grammar-constrained instead of vocabulary-restricted sampling
    max_new_tokens: int = 16  # the longest action ("deselect A B C D E select F G H I J") takes 14 here
    compute_probability: bool = True  # False records PROBABILITY_NOT_COMPUTED

    def __post_init__(self) -> None:
        check_temperature(self.temperature)
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be positive")

    def with_settings(self, settings: DecodingSettings) -> DecodingConfig:
        """This config with a system's decoding settings (``ActRequest.decoding``) applied."""
        temperature = self.temperature if settings.temperature is None else settings.temperature
        constrained = self.constrained if settings.mode is None else settings.mode == "constrained"
        if (temperature, constrained) == (self.temperature, self.constrained):
            return self
        return dataclasses.replace(self, temperature=temperature, constrained=constrained)


@dataclass
class _Prepared:
    index: int
    request: ActRequest
    lettering: Lettering
    selection: frozenset[str]  # letters
    prompt: str
    images: list[_PixelEntry]


# ----------------------------------------------------------------------------- prepared image cache


@dataclass(frozen=True)
class _PixelEntry:
    """One image as the processor prepares it (resized, split, normalised), cached per tangram."""

    pixel_values: torch.Tensor  # [tiles, 3, H, W]
    pixel_attention_mask: torch.Tensor | None  # [tiles, H, W]
    replacement: str | None  # the image's placeholder text (Idefics3: depends on its tiles); None: fixed
    nbytes: int


def _image_kwargs(processor) -> dict:
    """The keyword arguments the processor itself passes to its image processor."""
    try:
        kwargs = processor._merge_kwargs(tokenizer_init_kwargs=processor.tokenizer.init_kwargs, return_tensors="pt")
        return dict(kwargs["images_kwargs"])
    except Exception:  # a processor without the merge helper: the image processor's own defaults
        return {"return_tensors": "pt"}


def _expands_per_image(processor) -> bool:
    """Whether the processor's placeholder text depends on each image (``replace_image_token``)."""
    from transformers import ProcessorMixin

    return type(processor).replace_image_token is not ProcessorMixin.replace_image_token


def _pixel_entry(processor, image, image_kwargs: dict) -> _PixelEntry:
    out = processor.image_processor([[image]], **image_kwargs)
    pixels = torch.as_tensor(out["pixel_values"])[0].contiguous()
    mask = out.get("pixel_attention_mask")
    mask = torch.as_tensor(mask)[0].contiguous() if mask is not None else None
    replacement = processor.replace_image_token(out, image_idx=0) if _expands_per_image(processor) else None
    nbytes = pixels.nbytes + (mask.nbytes if mask is not None else 0) + len(replacement or "")
    return _PixelEntry(pixels, mask, replacement, nbytes)


def _assemble_inputs(
    processor, texts: list[str], rows: list[list[_PixelEntry]], *, pixels: bool = True
) -> dict[str, Any]:
    """What ``processor(text=texts, images=..., padding=True)`` returns, from cached per-image
    entries: the placeholders expanded and tokenized, pixel tensors stacked and zero-padded as the
    image processor pads them (checked against the processor on each policy's first batch).
    ``pixels=False``: the text inputs only (the image features come from a cache)."""
    if _expands_per_image(processor):
        flat = [entry.replacement for row in rows for entry in row]
        expanded, _ = processor.get_text_with_replacements(list(texts), images_replacements=flat)
        inputs = dict(processor.tokenizer(expanded, padding=True, return_tensors="pt"))
    else:
        inputs = dict(processor(text=list(texts), padding=True, return_tensors="pt"))
    if pixels and any(rows):
        inputs.update(_stack_pixels(rows))
    return inputs


def _stack_pixels(rows: list[list[_PixelEntry]]) -> dict[str, torch.Tensor]:
    """``pixel_values`` [rows, tiles, 3, H, W] (and ``pixel_attention_mask``), zero-padded."""
    entries = [entry for row in rows for entry in row]
    inputs: dict[str, torch.Tensor] = {}
    first = entries[0]
    tiles = max(sum(e.pixel_values.shape[0] for e in row) for row in rows)
    height = max(e.pixel_values.shape[-2] for e in entries)
    width = max(e.pixel_values.shape[-1] for e in entries)
    pixels = first.pixel_values.new_zeros((len(rows), tiles, first.pixel_values.shape[1], height, width))
    with_mask = first.pixel_attention_mask is not None
    mask = first.pixel_attention_mask.new_zeros((len(rows), tiles, height, width)) if with_mask else None
    for r, row in enumerate(rows):
        k = 0
        for entry in row:
            n, _, h, w = entry.pixel_values.shape
            pixels[r, k:k + n, :, :h, :w] = entry.pixel_values
            if mask is not None:
                mask[r, k:k + n, :h, :w] = entry.pixel_attention_mask
            k += n
    inputs["pixel_values"] = pixels
    if mask is not None:
        inputs["pixel_attention_mask"] = mask
    return inputs


def length_groups(lengths: Sequence[int], overhead: int) -> list[list[int]]:
    """Split rows (indices into ``lengths``, prompt lengths in tokens) into groups of similar length
    that minimise the sum over groups of ``overhead + rows * longest`` (the padded tokens a
    generate call computes, plus its fixed cost), by dynamic programming over the rows sorted by
    length. Each group lists its rows in their original order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    n = len(order)
    best = [0.0] + [math.inf] * n
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        longest = lengths[order[j - 1]]
        for i in range(j):
            cost = best[i] + overhead + (j - i) * longest
            if cost < best[j]:
                best[j], cut[j] = cost, i
    groups = []
    j = n
    while j > 0:
        groups.append(sorted(order[cut[j]:j]))
        j = cut[j]
    return groups[::-1]


def _same_inputs(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if set(a) != set(b):
        return False
    return all(
        torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k])) if torch.is_tensor(a[k]) or torch.is_tensor(b[k])
        else a[k] == b[k]
        for k in a
    )


def _rgb_image(png: bytes):
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return im.convert("RGB")


class HFPolicy:
    """A listener policy: a shared ``HFBase`` plus an optional adapter, images from ``images``."""

    def __init__(
        self,
        base: HFBase,
        images: ImageSource,
        *,
        adapter_path: str | os.PathLike | None = None,
        decoding: DecodingConfig = DecodingConfig(),
        name: str | None = None,
        image_cache_size: int = 4096,
        pixel_cache_bytes: int = 256 * 2**20,
        feature_cache_bytes: int = 256 * 2**20,
        split_overhead_tokens: int | None = None,
    ):
        self.base = base
        self.adapter, self.name = attach_adapter(base, adapter_path, name)
        self.decoding = decoding
        self._images = DecodedImages(images, _rgb_image, image_cache_size)
        # Processor-prepared pixels per tangram (tangram PNGs never change: no invalidation), bounded
        # by size; None until the first batch has checked them against the processor itself.
        self._pixels: LRUCache[str, _PixelEntry] = LRUCache(pixel_cache_bytes, lambda entry: entry.nbytes)
        self._pixel_cache_ok: bool | None = None
        # What the language model gets for each image (vision encoder + connector output, with this
        # policy's adapter, which never changes once loaded), for ``act``; 0 bytes turns it off.
        self._features: LRUCache[str, torch.Tensor] = LRUCache(feature_cache_bytes, lambda features: features.nbytes)
        self._features_ok: bool | None = None
        # What one more generate call costs, in padded prompt tokens (see ``length_groups``): small on
        # a CPU (compute-bound at any batch size), large on a GPU (each decoding step costs about the
        # same for 1 row or 32).
        if split_overhead_tokens is None:
            split_overhead_tokens = 256 if str(base.device) == "cpu" else 4096
        self.split_overhead_tokens = split_overhead_tokens

    # How often each cache answered (hits) or had to compute (misses), per image.
    pixel_cache_hits = property(lambda self: self._pixels.hits)
    pixel_cache_misses = property(lambda self: self._pixels.misses)
    feature_cache_hits = property(lambda self: self._features.hits)
    feature_cache_misses = property(lambda self: self._features.misses)

    @property
    def batch_lane(self) -> tuple[str, str, str]:
        """Every policy on one loaded base computes on the same lane (see ``base.Policy``)."""
        return ("hf", str(self.base.path), str(self.base.device))

    # -- images ------------------------------------------------------------------------------

    def images(self, names: Sequence[str]) -> list:
        """Decoded RGB images in the given order (cached); ImageError names every missing one."""
        return self._images.get(names)

    def pixels(self, names: Sequence[str]) -> list[_PixelEntry]:
        """The processor-prepared pixels of each named image (LRU cache bounded in bytes);
        ImageError names every missing one."""
        return self._pixels.get_many(names, self._prepare_pixels)

    def _prepare_pixels(self, names: list[str]) -> list[_PixelEntry]:
        kwargs = _image_kwargs(self.base.processor)
        return [_pixel_entry(self.base.processor, image, kwargs) for image in self.images(names)]

    def preflight(self, image_names: Sequence[str]) -> None:
        """Check (and cache) every image a round will show, before any game starts."""
        self.pixels(list(image_names))

    # -- acting ------------------------------------------------------------------------------

    def _prepare(self, index: int, request: ActRequest) -> _Prepared:
        lettering = Lettering(request.listener_order)
        selection = lettering.to_letters(request.selection)
        prompt = self.base.prompt_text(request_messages(request))
        return _Prepared(index, request, lettering, selection, prompt, self.pixels(request.listener_order))

    def act(self, requests: Sequence[ActRequest]) -> list[ActResult]:
        """Sample one action per request, each with its system's decoding settings
        (``request.decoding`` over this policy's ``decoding``; one generate call per distinct
        setting). A request that cannot be prepared (bad order, missing image, bad settings) gets
        the recorded error fallback; the others are still answered."""
        return act_each(
            self.name, requests,
            lambda i, request: (self.decoding.with_settings(request.decoding), self._prepare(i, request)),
            lambda cfg, ready: self._generate(ready, cfg),
        )

    def _inputs(
        self, texts: list[str], rows: list[list[_PixelEntry]], names: list[Sequence[str]], *, pixels: bool = True
    ):
        """Model inputs from cached pixels. On this policy's first batch they are compared with
        the processor's own output; if they differ (another processor), the cache is bypassed.
        ``pixels=False`` leaves the pixel tensors out when it can (image features are cached)."""
        processor = self.base.processor
        if self._pixel_cache_ok is False:
            inputs = processor(text=texts, images=[self.images(n) for n in names], padding=True, return_tensors="pt")
        else:
            inputs = _assemble_inputs(processor, texts, rows, pixels=pixels or self._pixel_cache_ok is None)
            if self._pixel_cache_ok is None:
                direct = processor(text=texts, images=[self.images(n) for n in names], padding=True, return_tensors="pt")
                self._pixel_cache_ok = _same_inputs(inputs, direct)
                if not self._pixel_cache_ok:
                    log.warning("policy %s: cached image inputs differ from the processor's; cache bypassed", self.name)
                    inputs = direct
        return {k: (v.to(self.base.device) if torch.is_tensor(v) else v) for k, v in inputs.items()}

    def _image_features(self, model, batch: list[_Prepared], inputs: dict[str, Any]) -> list[torch.Tensor] | None:
        """Per row, the image features the language model gets (``get_image_features``'s pooled
        output), from the per-image cache; images not in it are encoded now, in chunks. On the
        first batch they are compared with encoding the batch's pixels; if they differ, or the cache
        is off, None (the model encodes the pixels itself)."""
        if self._features.max_size <= 0 or self._features_ok is False:
            return None
        entries: dict[str, _PixelEntry] = {}
        for p in batch:
            entries.update(zip(p.request.listener_order, p.images))
        device = self.base.device

        def encode(missing: list[str]) -> list[torch.Tensor]:
            out: list[torch.Tensor] = []
            for start in range(0, len(missing), 32):
                chunk = missing[start: start + 32]
                stacked = {k: v.to(device) for k, v in _stack_pixels([[entries[n]] for n in chunk]).items()}
                encoded = model.get_image_features(**stacked).pooler_output
                if len(encoded) != len(chunk):
                    raise RuntimeError("the image encoder dropped an image (all-zero pixels?)")
                out += list(encoded)
            return out

        names = [n for p in batch for n in p.request.listener_order]
        found = iter(self._features.get_many(names, encode))
        rows = [torch.cat([next(found) for _ in p.request.listener_order]) for p in batch]
        if self._features_ok is None:
            direct = model.get_image_features(
                pixel_values=inputs["pixel_values"], pixel_attention_mask=inputs.get("pixel_attention_mask")
            ).pooler_output
            tolerance = 1e-4 if rows[0].dtype == torch.float32 else 5e-2
            self._features_ok = len(direct) == len(rows) and all(
                d.shape == r.shape and torch.allclose(d.float(), r.float(), rtol=tolerance, atol=tolerance)
                for d, r in zip(direct, rows)
            )
            if not self._features_ok:
                log.warning("policy %s: cached image features differ from the model's; cache bypassed", self.name)
                return None
        return rows

    @torch.inference_mode()
    def _generate(self, batch: list[_Prepared], cfg: DecodingConfig | None = None) -> list[ActResult]:
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        cfg = cfg or self.decoding
        cached_features = self._features.max_size > 0 and self._features_ok is True
        inputs = self._inputs(
            [p.prompt for p in batch], [p.images for p in batch], [p.request.listener_order for p in batch],
            pixels=not cached_features,
        )
        results: list[ActResult | None] = [None] * len(batch)
        with self.base.active(self.adapter) as model:
            features = self._image_features(model, batch, inputs)
            # Rows of similar prompt length are sampled together: left padding costs compute on
            # every padded position (and attention quadratically), a separate call costs its fixed
            # overhead; ``length_groups`` weighs the two. Left padding keeps each row's tokens in
            # the last columns, so a group takes the last ``longest`` columns.
            lengths = inputs["attention_mask"].sum(-1).tolist()
            for rows in length_groups(lengths, self.split_overhead_tokens):
                longest = max(lengths[r] for r in rows)
                index = torch.tensor(rows, dtype=torch.long, device=inputs["input_ids"].device)
                part = {
                    "input_ids": inputs["input_ids"][index, -longest:],
                    "attention_mask": inputs["attention_mask"][index, -longest:],
                }
                if features is not None:  # the vision encoder is skipped for cached images
                    part["mm_encoder_outputs"] = {
                        "image": BaseModelOutputWithPooling(pooler_output=[features[r] for r in rows])
                    }
                else:
                    part.update({k: inputs[k][index] for k in ("pixel_values", "pixel_attention_mask") if k in inputs})
                sub = [batch[r] for r in rows]
                for r, result in zip(rows, self._sample(model, sub, part, cfg)):
                    results[r] = result
        return results

    def _sample(self, model, batch: list[_Prepared], inputs: dict[str, Any], cfg: DecodingConfig) -> list[ActResult]:
        vocab = self.base.vocab
        prompt_length = inputs["input_ids"].shape[1]
        if cfg.constrained:
            processor = ActionGrammarProcessor(
                self.base.tokenizer, vocab, [p.selection for p in batch], prompt_length, cfg.max_new_tokens
            )
        else:
            processor = RestrictToVocabulary(vocab.token_ids)
        out = model.generate(
            **inputs, do_sample=True, temperature=float(cfg.temperature), top_k=0, top_p=1.0,
            max_new_tokens=cfg.max_new_tokens, logits_processor=[processor],
            eos_token_id=list(vocab.end_ids), pad_token_id=vocab.pad_id,
            return_dict_in_generate=True, output_logits=True, output_scores=True,
        )
        tokens = out.sequences[:, prompt_length:].tolist()
        # [batch, steps, vocab]: raw logits come before any processor; scores are what was sampled from.
        raw = torch.stack(out.logits, dim=1).float().log_softmax(-1).cpu()
        sampled = torch.stack(out.scores, dim=1).float().log_softmax(-1).cpu()
        results = []
        for row, prepared in enumerate(batch):
            ids = tokens[row]
            ends = [k for k, t in enumerate(ids) if t in vocab.end_ids]
            n = ends[0] + 1 if ends else len(ids)
            ids = ids[:n]
            steps = torch.arange(n)
            picked = torch.tensor(ids, dtype=torch.long)
            logprob = float(raw[row, steps, picked].sum()) if n else float("nan")
            sampling_logprob = float(sampled[row, steps, picked].sum()) if n else float("nan")
            text = self.base.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
            results.append(self._result(prepared, text, ids, bool(ends), logprob, sampling_logprob, cfg))
        return results

    def _result(
        self, p: _Prepared, text: str, ids: list[int], finished: bool, logprob: float, sampling_logprob: float,
        cfg: DecodingConfig,
    ) -> ActResult:
        parsed = parse_model_output(text, p.selection, fallback_letter=LETTERS[0])
        action = p.lettering.to_images(parsed.action)
        if parsed.source == SOURCE_FALLBACK:
            probability = PROBABILITY_FALLBACK
        elif not cfg.compute_probability:
            probability = PROBABILITY_NOT_COMPUTED
        elif not math.isfinite(logprob):
            probability = PROBABILITY_ERROR
        else:
            probability = math.exp(logprob)
        extra = {
            "mode": "constrained" if cfg.constrained else "restricted",
            "temperature": cfg.temperature,
            "adapter": self.adapter,
            "logprob": logprob if math.isfinite(logprob) else None,
            "sampling_logprob": sampling_logprob if math.isfinite(sampling_logprob) else None,
            "finished": finished,
            "token_ids": ids,
            "reason": parsed.reason,
        }
        return ActResult(
            select=action.select, deselect=action.deselect, raw_output=text, probability=probability,
            source=_SOURCES[parsed.source], extra=extra,
        )

    # -- scoring and training tensors -----------------------------------------------------------

    def training_batch(self, examples: Sequence[ScoreExample]) -> dict[str, Any]:
        """Model inputs for teacher forcing plus ``labels`` (-100 except on the answer tokens,
        end token included) and ``position_ids`` matching generation's. Raises on bad examples."""
        texts, rows, answers = [], [], []
        for ex in examples:
            action = Action(deselect=ex.deselect, select=ex.select)
            lettering = Lettering(ex.request.listener_order)
            lettering.to_letters(action)  # RuleError for images outside the context
            prompt, completion = self.base.completion_text(request_messages(ex.request, action=action))
            texts.append(prompt + completion)
            rows.append(self.pixels(ex.request.listener_order))
            answers.append(completion_ids(self.base.tokenizer, prompt, completion))
        inputs = self._inputs(texts, rows, [ex.request.listener_order for ex in examples])
        ids = inputs["input_ids"]
        labels = torch.full_like(ids, -100)
        for row, answer in enumerate(answers):
            k = len(answer)
            # Left padding: every answer sits in the last k columns.
            if ids[row, -k:].tolist() != answer:
                raise ValueError("the answer's tokens change inside the full prompt (merged across the boundary)")
            labels[row, -k:] = ids[row, -k:]
        mask = inputs["attention_mask"]
        inputs["position_ids"] = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
        inputs["labels"] = labels
        return inputs

    def train_terms(self, model, examples: Sequence[ScoreExample]) -> TrainTerms:
        """Per example: the summed log-probability of the answer tokens (end token included), their
        number, S, the mean over those tokens of the cross-entropy against a uniform vocabulary
        (what label smoothing adds), and whether greedy decoding gives the answer; differentiable
        under ``model``."""
        batch = self.training_batch(examples)
        labels = batch.pop("labels")
        logp_all = model(**batch, use_cache=False).logits.float()[:, :-1].log_softmax(-1)
        target = labels[:, 1:]
        mask = target != -100
        picked = logp_all.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        length = mask.sum(-1).clamp(min=1)
        smoothing = (-logp_all.mean(-1) * mask).sum(-1) / length
        # Greedy decoding writes the answer exactly when every answer token is the most likely one
        # after the answer's own prefix: one teacher-forced pass tells it (full vocabulary, no grammar).
        greedy = ((logp_all.detach().argmax(-1) == target) | ~mask).all(-1)
        return TrainTerms((picked * mask).sum(-1), length, smoothing, greedy)

    @torch.inference_mode()
    def score(self, examples: Sequence[ScoreExample], batch_size: int = 16) -> list[float]:
        """Log-probability of each given action (full vocabulary, temperature 1, end token included)."""
        scores: list[float] = []
        for start in range(0, len(examples), batch_size):
            with self.base.active(self.adapter) as model:
                scores += self.train_terms(model, examples[start: start + batch_size]).logp.tolist()
        return scores


__all__ = [
    "RestrictToVocabulary", "ActionGrammarProcessor", "DecodingConfig", "HFPolicy", "length_groups",
]
