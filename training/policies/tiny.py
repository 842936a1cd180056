"""The platform's own tiny vision-language listener: an Idefics3 model small enough for CPU tests and
the demo, with a tokenizer trained here on game text. Built with random weights and saved with
``save_pretrained``, so it loads through exactly the code a real checkpoint uses (``hf_base.load_base``).

Why Idefics3 and not Idefics2: a randomly initialised Idefics2 perceiver resampler maps every image to
nearly the same tokens; the Idefics3 connector (pixel shuffle + linear) keeps images apart from step 0.
"""
from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from games.domain.rules import LETTERS, Action, format_action
from training.policies.loading import check_output_folder, staged_folder
from training.policies.prompts import CHAT_TEMPLATE, NONE_SELECTED, selection_line

BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"
IMAGE, FAKE_IMAGE, GLOBAL_IMAGE = "<image>", "<fake_token_around_image>", "<global-img>"
END_OF_UTTERANCE = "<end_of_utterance>"
# The Idefics3 processor looks these up even without image splitting; having them avoids unknown ids.
ROW_COL = [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
SPECIAL_TOKENS = [BOS, EOS, PAD, UNK, IMAGE, FAKE_IMAGE, GLOBAL_IMAGE, END_OF_UTTERANCE, *ROW_COL]

# Words that must be single tokens (with their leading space, as they follow "Assistant:" or a word).
ACTION_WORDS = ["select", "deselect", *LETTERS]


@dataclass(frozen=True)
class TinySpec:
    """Sizes of the tiny model. 64 px / 8 px patches / shuffle 2 -> 16 tokens per image."""

    image_size: int = 64
    patch_size: int = 8
    scale_factor: int = 2
    vision_hidden: int = 64
    vision_layers: int = 2
    vision_heads: int = 4
    text_hidden: int = 128
    text_layers: int = 4
    text_heads: int = 4
    text_kv_heads: int = 2
    text_intermediate: int = 384
    vocab_size: int = 1024
    max_positions: int = 2048

    @property
    def image_seq_len(self) -> int:
        return (self.image_size // self.patch_size) ** 2 // self.scale_factor**2


@dataclass(frozen=True)
class TinyInfo:
    path: Path
    parameters: int
    vocab_size: int
    image_seq_len: int


# ----------------------------------------------------------------------------- game text corpus

_THINGS = (
    "person boat dog bird cat fish house tree rabbit horse duck swan snake man woman child kid monk "
    "dancer runner skater robot rocket ship arrow hat crown chair table lamp bottle vase cup key kite "
    "mountain tower castle bridge bowl box shoe boot camel giraffe goose crane fox wolf bear deer seal "
    "whale shark turtle frog owl eagle chicken penguin angel ghost king queen knight soldier teacher"
).split()
_ADJECTIVES = (
    "big small tall short fat thin long wide narrow pointy flat round square sharp tilted upside down "
    "left right top bottom little huge skinny heavy light dark weird strange funny happy sad angry sleepy"
).split()
_PARTS = "head neck arm arms leg legs feet tail wing wings beak ear ears nose hat back body base top side corner".split()
_VERBS = (
    "sitting standing running jumping kneeling flying walking dancing bowing praying leaning looking pointing "
    "holding kicking"
).split()
_PLACES = "on the left,on the right,at the top,at the bottom,in a boat,on a chair,on one leg,in the middle".split(",")
_FEEDBACK = [
    "yes", "yes!", "good", "great", "nice", "perfect", "correct", "good job", "well done", "thanks",
    "no", "nope", "no, not that one", "wrong one", "not quite", "almost", "try again", "the other one",
    "undo that", "deselect that", "unselect the last one", "remove the", "keep going", "now", "next",
    "also", "and", "then", "one more", "last one", "we are done", "you got it", "close", "oops",
]
_FILLER = [
    "the", "a", "one", "that", "this", "looks like", "like a", "with", "its", "his", "her", "has", "is", "kind of",
    "sort of",
]


def _utterance(rng: random.Random) -> str:
    """One plausible speaker message: a description, feedback, or both."""
    def description() -> str:
        bits = [rng.choice(["the", "a", "", "one", "find the", "pick the", "click the"])]
        if rng.random() < 0.6:
            bits.append(rng.choice(_ADJECTIVES))
        bits.append(rng.choice(_THINGS))
        r = rng.random()
        if r < 0.3:
            bits += [rng.choice(_VERBS)]
        elif r < 0.6:
            bits += ["with", rng.choice(["a", "the", "two", "no", "long", "big"]), rng.choice(_PARTS)]
        elif r < 0.7:
            bits += [rng.choice(_PLACES)]
        if rng.random() < 0.2:
            bits += [rng.choice(_FILLER), rng.choice(_THINGS)]
        return " ".join(b for b in bits if b)

    kind = rng.random()
    if kind < 0.5:
        text = description()
    elif kind < 0.85:
        text = f"{rng.choice(_FEEDBACK)}{rng.choice(['', ',', '.', '!'])} {description()}"
    else:
        text = rng.choice(_FEEDBACK)
    if rng.random() < 0.3:
        text = text.capitalize()
    return text


def _random_action(rng: random.Random, selected: frozenset[str]) -> Action:
    unselected = [x for x in LETTERS if x not in selected]
    deselect: frozenset[str] = frozenset()
    if selected and rng.random() < 0.4:
        deselect = frozenset(rng.sample(sorted(selected), rng.randint(1, len(selected))))
    select: frozenset[str] = frozenset()
    if unselected and (not deselect or rng.random() < 0.5):
        select = frozenset(rng.sample(unselected, rng.randint(1, min(3, len(unselected)))))
    return Action(deselect=deselect, select=select)


def game_corpus(seed: int, games: int = 3000) -> Iterator[str]:
    """Lines of rendered game chats: context lines, selection lines, utterances, actions."""
    rng = random.Random(seed)
    context = "System:" + "".join(f"{IMAGE}{x}" for x in LETTERS) + END_OF_UTTERANCE
    for _ in range(games):
        lines = [context]
        selected: frozenset[str] = frozenset()
        for _turn in range(rng.randint(1, 6)):
            action = _random_action(rng, selected)
            lines += [
                f"System: {selection_line(selected)}{END_OF_UTTERANCE}",
                f"User: {_utterance(rng)}{END_OF_UTTERANCE}",
                f"Assistant: {format_action(action)}{END_OF_UTTERANCE}",
            ]
            selected = (selected - action.deselect) | action.select
        yield "\n".join(lines)
    yield f"System: {NONE_SELECTED}"
    yield "Assistant: nothing"


# ----------------------------------------------------------------------------- build and save


def train_tokenizer(seed: int, vocab_size: int):
    """A byte-level BPE (any text a person types maps to known tokens) with the special tokens first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=2, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(game_corpus(seed), trainer=trainer)
    bos_id = tokenizer.token_to_id(BOS)
    # Like the original's Llama tokenizer: <s> before every text.
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    for word in ACTION_WORDS:
        ids = tokenizer.encode(" " + word, add_special_tokens=False).ids
        if len(ids) != 1:
            raise RuntimeError(f"tokenizer did not learn ' {word}' as one token: {ids}")
    return tokenizer


def build_tiny(
    out: Path | str, *, seed: int = 0, spec: TinySpec = TinySpec(), overwrite: bool = False,
    architecture: str = "idefics3",
) -> TinyInfo:
    """Build the tiny model, tokenizer and processor and save them to ``out`` (written to a temporary
    folder first, then moved into place: a failed build leaves nothing behind).

    ``architecture="idefics2"`` builds the same thing around an Idefics2 perceiver, only to exercise
    the Idefics2 code path in tests (randomly initialised, it cannot tell images apart)."""
    import torch
    from transformers import PreTrainedTokenizerFast

    if architecture not in ("idefics3", "idefics2"):
        raise ValueError(f"unknown architecture {architecture!r}")
    out = Path(out)
    check_output_folder(out, overwrite)

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_tokenizer(seed, spec.vocab_size),
        bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK,
        extra_special_tokens=[IMAGE, FAKE_IMAGE, GLOBAL_IMAGE, END_OF_UTTERANCE, *ROW_COL],
        padding_side="left",  # generation pads on the left
        model_max_length=spec.max_positions,
    )
    vocab = len(tokenizer)
    ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in (BOS, EOS, PAD, IMAGE, END_OF_UTTERANCE)}
    vision_config = dict(
        hidden_size=spec.vision_hidden, intermediate_size=spec.vision_hidden * 2,
        num_hidden_layers=spec.vision_layers, num_attention_heads=spec.vision_heads,
        image_size=spec.image_size, patch_size=spec.patch_size,
    )
    text_config = dict(
        model_type="llama", vocab_size=vocab, hidden_size=spec.text_hidden,
        intermediate_size=spec.text_intermediate, num_hidden_layers=spec.text_layers,
        num_attention_heads=spec.text_heads, num_key_value_heads=spec.text_kv_heads,
        max_position_embeddings=spec.max_positions, rms_norm_eps=1e-5, tie_word_embeddings=False,
        bos_token_id=ids[BOS], eos_token_id=ids[EOS], pad_token_id=ids[PAD],
    )
    if architecture == "idefics3":
        from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
        from transformers.models.idefics3 import Idefics3ImageProcessorPil

        image_seq_len = spec.image_seq_len
        image_processor = Idefics3ImageProcessorPil(
            do_resize=True, size={"longest_edge": spec.image_size}, max_image_size={"longest_edge": spec.image_size},
            do_image_splitting=False, do_pad=True,
        )
        processor = Idefics3Processor(
            image_processor=image_processor, tokenizer=tokenizer, image_seq_len=image_seq_len, chat_template=CHAT_TEMPLATE,
        )
        config = Idefics3Config(
            image_token_id=ids[IMAGE], scale_factor=spec.scale_factor, tie_word_embeddings=False,
            vision_config=vision_config, text_config=text_config, pad_token_id=ids[PAD],
        )
        model_class = Idefics3ForConditionalGeneration
    else:
        from transformers import Idefics2Config, Idefics2ForConditionalGeneration, Idefics2Processor
        from transformers.models.idefics2 import Idefics2ImageProcessorPil

        image_seq_len = spec.image_seq_len
        image_processor = Idefics2ImageProcessorPil(
            do_resize=True, size={"shortest_edge": spec.image_size, "longest_edge": spec.image_size},
            do_image_splitting=False, do_pad=True,
        )
        processor = Idefics2Processor(
            image_processor=image_processor, tokenizer=tokenizer, image_seq_len=image_seq_len, chat_template=CHAT_TEMPLATE,
        )
        config = Idefics2Config(
            image_token_id=ids[IMAGE], tie_word_embeddings=False, vision_config=vision_config, text_config=text_config,
            perceiver_config=dict(
                hidden_size=spec.text_hidden, resampler_n_latents=image_seq_len, resampler_depth=1,
                resampler_n_heads=spec.text_heads, resampler_head_dim=spec.text_hidden // spec.text_heads,
                num_key_value_heads=spec.text_kv_heads,
            ),
        )
        model_class = Idefics2ForConditionalGeneration
    torch.manual_seed(seed)
    model = model_class(config).eval()
    model.generation_config.bos_token_id = ids[BOS]
    model.generation_config.eos_token_id = [ids[END_OF_UTTERANCE], ids[EOS]]
    model.generation_config.pad_token_id = ids[PAD]

    with staged_folder(out, prefix=".tiny-") as staging:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        (staging / "respect_tiny.json").write_text(
            json.dumps({"architecture": architecture, "seed": seed, **asdict(spec)}, indent=2) + "\n"
        )
    return TinyInfo(
        path=out, parameters=sum(p.numel() for p in model.parameters()), vocab_size=vocab,
        image_seq_len=image_seq_len,
    )


__all__ = ["TinySpec", "TinyInfo", "SPECIAL_TOKENS", "ACTION_WORDS", "game_corpus", "train_tokenizer", "build_tiny"]
