"""The ``people`` population: simulated speakers that talk like people playing MultiRef (pure).

Each speaker has an *idiolect* (``PeopleIdiolect``) drawn from a seeded distribution: how verbose and
polite it is, how often it makes typos, which of many naming habits it prefers (what a figure
resembles, its geometry, a letter, its parts, counts), which words it prefers for sizes, directions,
approval, negation and undo, and its feedback habits (how often it approves, asks to remove a wrong
pick first, refers back to earlier picks, counts the targets). Its descriptions are built from the
figure's facts (``geometry``): true things about its seven pieces, its silhouette and what it looks like,
chosen pragmatically (facts few other images of the context share are preferred) and said in many
ways. Within a game a speaker reuses its own name for a figure, shortened; rephrasing adds a fact of
another kind. Messages get shorter over a game.

The moves (and so the intended feedback recorded in ``SpeakerMove``) are those of ``SimulatedSpeaker``:
only the words differ. Rates are calibrated so that a few hundred games played with the simulated human
listener show people's cue mix (docs/simulation.md, "The people population"). A setting of the
``SpeakerStyle`` that differs from its default is kept as the centre of the speakers' rates instead.
"""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from types import SimpleNamespace

from games.domain.seeds import derive_seed
from games.simulation.agents import phrases
from games.simulation.agents import geometry
from games.simulation.agents.geometry import THINGS, figure_facts, poses_for, say_fact
from games.simulation.agents.speaker import SimulatedSpeaker, SpeakerContext, SpeakerMove, SpeakerStyle

STRATEGIES = ("thing", "geometry", "letter", "parts", "count")
HABITS = (3.2, 0.5, 0.9, 0.45, 0.15)  # shapes of the gamma draws of a speaker's weights of STRATEGIES
_TAIL_KINDS = {"thing": (), "geometry": ("tri", "at", "rel", "sq"), "letter": ("letter",), "parts": ("out",),
               "count": ("n",)}

# Centres of the people population's feedback rates (each speaker's own rates are drawn around them).
CALIBRATED = {
    "approve_rate": 0.5, "misleading_no_rate": 0.03, "misleading_yes_rate": 0.04, "correct_weight": 0.5,
    "undo_weight": 0.8, "rephrase_weight": 0.12, "try_again_weight": 0.12, "partial_rate": 0.2,
    "fix_first_rate": 0.9, "reset_rate": 0.3, "multi_target_rate": 0.05, "extra_attribute_rate": 0.2,
    "typo_rate": 0.05, "casual_rate": 0.7,
}

# Word families the grammar draws on (each speaker prefers a few of each).
APPROVALS = ("yes", "yes!", "yep", "yeah", "good", "good job", "great", "great job", "perfect", "nice", "nice one",
             "correct", "that's right", "right", "awesome", "excellent", "well done", "exactly", "ok good", "cool",
             "yay", "thanks", "thank you", "bingo", "you got it", "got it", "yes that's it", "good work", "sweet",
             "super", "wonderful", "fantastic", "amazing", "brilliant", "lovely", "terrific", "good one", "yess",
             "yup", "correct!", "very good", "great work", "nicely done", "that's the one", "yes, correct",
             "woohoo", "nailed it", "spot on", "bullseye", "indeed", "absolutely", "definitely", "totally right",
             "you're right", "good stuff", "nice work", "excellent work", "fabulous", "marvelous", "outstanding",
             "superb", "top notch", "way to go", "good going", "sure is", "yes indeed", "perfecto", "splendid")
APPROVALS_WITH_NO = ("no problem", "no worries", "not bad", "nothing wrong there", "no mistakes")
NEGATIVES = ("no", "no", "nope", "no no", "wrong", "not that one", "that's wrong", "incorrect", "nah", "not quite",
             "no, that's not it", "that's not right", "wrong one", "no sorry", "oops no", "hmm no", "not this one",
             "no, not that", "that's not the one", "nope, wrong one", "no that's incorrect", "not right",
             "uh oh, no", "that isn't it", "wrong choice", "no, bad pick", "nope, not that", "no, mistake",
             "not quite right", "no way", "no, unfortunately not", "nah, wrong")
NEGATIVES_WITH_YES = ("ok but not that one", "close, but no", "good try, but no", "right idea, wrong one",
                      "ok no, not that one")
UNDO_VERBS = ("deselect", "unselect", "remove", "uncheck", "unclick", "take off", "get rid of")
UNDO_OBJECTS = ("that", "that one", "this one", "the last one", "the one you just picked", "your last pick",
                "the one you just selected", "what you just clicked", "this")
SELECT_VERBS = ("click", "select", "pick", "choose", "find", "click on", "look for", "get", "grab", "tap")
FIRST_OPENERS = ("", "", "", "", "", "", "ok ", "ok so ", "hi ", "first ", "alright ", "so ", "first, ", "hello ")
NEXT_OPENERS = ("", "", "now ", "now ", "next ", "and ", "also ", "then ", "ok now ", "next one: ", "now the next one, ",
                "and now ", "next up, ")
SUFFIXES = ("", "", "", "", " please", " too", " as well")
FIRST_SUFFIXES = ("", "", "", "", "", "", " please", " first")
TRY_AGAIN = ("try again", "try again please", "the other one", "another one", "one more time", "nope, try again")
PARTIAL = ("half right", "almost", "partly right", "almost there", "one of them is right", "close, half of it")
RESET = ("clear all and start over", "reset", "let's start over", "deselect everything", "clear everything",
         "start from scratch")
KEEP = ("no, keep {the}", "{the} was right, put it back", "don't remove {the}", "leave {the}, it was right",
        "{the} was correct, select it again")
CORRECT_TAIL = ("{the}", "{the}", "I meant {the}", "it's {the}", "I said {the}", "look for {the}",
                "the one I want is {the}", "find {the}", "we need {the}")
REPHRASE = ("I meant {the}", "the other {name}", "look again, {the}", "it's {the}", "{the}", "try {the}",
            "no, the other {name}, {the}", "I mean {the}")
GEOMETRY_FRAMES = ("the one with {f}", "the shape with {f}", "the one that has {f}", "{f}", "{f}", "{f}",
                   "the figure with {f}", "the piece with {f}", "one with {f}")
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")
NUMBERS = ("zero", "one", "two", "three", "four", "five")
RESEMBLE = ("looks like", "resembles", "reminds me of", "is shaped like", "could be", "is like", "looks a bit like")
HEDGES = ("kind of ", "sort of ", "maybe ", "probably ", "i think ", "kinda ", "basically ", "what looks like ",
          "something like ", "a bit like ")
# Fillers by what the message says about the last pick (a filler never contradicts it).
CHAT = {"none": ("um ", "hmm ", "well ", "so ", "hi! ", "hey, "), "positive": ("oh ", "ah ", "haha ", "lol ", "well ", "ooh "),
        "neutral": ("hmm ", "um ", "well "), "negative": ("hmm ", "ugh, ", "oops, ", "wait, ", "sorry, ", "um ", "oh ")}
COUNT_OPENERS = ("{n} total. ", "there are {n}. ", "{n} of them. ", "{n} shapes to find. ", "{n} today: ")
REMAINING = ("{n} more. ", "{n} more to go, ", "{n} left: ", "still {n} to go. ")
LAST = ("last one: ", "last one, ", "and the last one is ", "final one: ")


@dataclass(frozen=True)
class PeopleIdiolect:
    """One speaker's way of talking (drawn by ``draw_idiolect``)."""

    verbosity: float  # how much it says beyond the name (0.3 .. 1.6)
    politeness: float  # probability of a "please" / "thanks"
    decay: float  # per-turn shrinking of its messages (people get shorter over a game)
    habits: tuple[float, ...]  # weights of STRATEGIES
    back_reference_rate: float  # refer to a pick by its order ("the first one you picked")
    count_rate: float  # count the targets ("3 total", "2 more", "last one")
    contrast_rate: float  # set a description against a look-alike ("..., not the other boat")
    terseness: float  # probability of saying just the description ("penguin", "big triangle pointing down")
    hedge_rate: float  # "the one that's kind of a monk"
    chattiness: float  # a filler first ("hmm", "oh", "ugh,")
    approvals: tuple[str, ...]
    negatives: tuple[str, ...]
    undo_verbs: tuple[str, ...]
    select_verbs: tuple[str, ...]
    prefs: Mapping[str, frozenset]  # word family -> preferred words (geometry.say_fact)
    rates: Mapping[str, float]  # SpeakerStyle settings for this speaker


def _subset(rng: random.Random, words: Sequence[str], low: int, high: int) -> tuple[str, ...]:
    return tuple(rng.sample(list(dict.fromkeys(words)), min(len(set(words)), rng.randint(low, high))))


def draw_idiolect(seed: int, style: SpeakerStyle | None = None) -> PeopleIdiolect:
    """A speaker's idiolect under ``seed``. Style settings that differ from the defaults are the centres of
    its rates instead of the calibrated ones."""
    rng = random.Random(seed)
    style = style or SpeakerStyle()
    default = SpeakerStyle()
    rates = {}
    for name, centre in CALIBRATED.items():
        given = getattr(style, name)
        if given != getattr(default, name):
            centre = given
        spread = rng.uniform(0.6, 1.4)
        value = centre * spread
        rates[name] = value if name.endswith("_weight") else min(1.0, max(0.0, value))
    habits = tuple(rng.gammavariate(a, 1.0) for a in HABITS)
    prefs = {
        "triangle": frozenset(_subset(rng, geometry.SHAPE_WORDS["triangle"], 1, 2)),
        "diamond": frozenset(_subset(rng, geometry.SHAPE_WORDS["diamond"], 1, 1)),
        "para": frozenset(_subset(rng, geometry.SHAPE_WORDS["para"], 1, 2)),
        "point": frozenset(_subset(rng, geometry.POINT_VERBS, 1, 2)),
        "dir": frozenset(w for words in geometry.DIRECTION_WORDS.values() for w in _subset(rng, words, 1, 2)),
        **{f"size_{k}": frozenset(_subset(rng, v, 1, 2)) for k, v in geometry.SIZE_WORDS.items()},
    }
    return PeopleIdiolect(
        verbosity=rng.betavariate(1.5, 3.0) * 1.3, politeness=rng.betavariate(1.0, 8.0),
        decay=rng.uniform(0.0, 0.12), habits=habits, back_reference_rate=rng.uniform(0.1, 0.6),
        count_rate=rng.uniform(0.1, 0.4), contrast_rate=rng.uniform(0.0, 0.7), terseness=rng.betavariate(1.5, 2.2),
        hedge_rate=rng.betavariate(1.0, 6.0), chattiness=rng.betavariate(1.0, 8.0),
        approvals=_subset(rng, APPROVALS, 2, 5), negatives=_subset(rng, NEGATIVES, 2, 4),
        undo_verbs=_subset(rng, UNDO_VERBS, 1, 2), select_verbs=_subset(rng, SELECT_VERBS, 1, 3),
        prefs=prefs, rates=rates,
    )


def _lines(voice: PeopleIdiolect) -> SimpleNamespace:
    """The speaker's tables (the shape of ``phrases``), composed from its preferred words."""
    sel = voice.select_verbs
    first = [f"{o}{v} {{the}}{s}".strip() for o in FIRST_OPENERS for v in ("",) + sel for s in FIRST_SUFFIXES
             if not (v and o.endswith("with "))]
    first = [t.replace("  ", " ") for t in first] + [f"{o}{v} {{a}}".strip() for o in ("", "it ", "this one ")
                                                      for v in RESEMBLE]
    nxt = [f"{o}{v} {{the}}{s}".replace("  ", " ").strip() for o in NEXT_OPENERS for v in ("",) + sel
           for s in SUFFIXES]
    undo = [f"{v} {o}" for v in voice.undo_verbs for o in UNDO_OBJECTS] + ["undo", "undo that", "undo please"]
    undo += ["undo", "nope", "wrong", "no", "undo"] * max(2, len(undo) // 6)  # one word will do
    remove = [f"{v} {{the}}" for v in voice.undo_verbs] + [f"now {v} {{the}}" for v in voice.undo_verbs] + [
        f"{{the}} is wrong, {_it(v)}" for v in voice.undo_verbs] + [f"but {v} {{the}}" for v in voice.undo_verbs] + [
        f"not {{the}}, {_it(v)}" for v in voice.undo_verbs] + ["{the} is wrong", "{the} is not right"]
    return SimpleNamespace(
        FIRST=tuple(first), NEXT=tuple(nxt), APPROVE=voice.approvals, APPROVE_WITH_NO=APPROVALS_WITH_NO,
        NEGATIVE=voice.negatives, NEGATIVE_WITH_YES=NEGATIVES_WITH_YES,
        CORRECT_TAIL=CORRECT_TAIL + tuple(f"{v} that, {t}" for v in voice.undo_verbs for t in CORRECT_TAIL[:5]) * 2,
        UNDO=tuple(undo), REMOVE=tuple(remove), FIX=tuple(remove), REPHRASE=REPHRASE, TRY_AGAIN=TRY_AGAIN,
        PARTIAL=PARTIAL, PARTIAL_TAIL=tuple(f"but {v} {{the}}" for v in voice.undo_verbs) + ("but {the} is wrong",),
        PARTIAL_KEEP_TAIL=("but keep {the}", "but put {the} back", "but don't remove {the}"), RESET=RESET, KEEP=KEEP,
        JOIN=(", ", ", ", ". ", "! ", " "),
    )


def _it(verb: str) -> str:
    """"remove it", "take it off", "get rid of it"."""
    return verb.replace(" off", " it off") if verb.endswith(" off") else f"{verb} it"


def _article(phrase: str) -> str:
    return ("an " if phrase[:1] in "aeiou" else "a ") + phrase


def _strip_article(phrase: str) -> str:
    for article in ("a ", "an ", "the ", "one ", "its "):
        if phrase.startswith(article):
            return phrase[len(article):]
    return phrase


class PeopleSpeaker(SimulatedSpeaker):
    """A speaker of the ``people`` population: ``SimulatedSpeaker``'s moves, said in its own idiolect."""

    def __init__(self, context: SpeakerContext, style: SpeakerStyle | None = None, seed: int = 0,
                 voice: PeopleIdiolect | None = None):
        style = style or SpeakerStyle()
        voice = voice or draw_idiolect(derive_seed(seed, "people"), style)
        known = {f.name for f in fields(SpeakerStyle)}
        super().__init__(context, replace(style, **{k: v for k, v in voice.rates.items() if k in known}), seed=seed)
        self.voice = voice
        self.lines = _lines(voice)
        self.facts = {image: figure_facts(context.figures[image]) for image in context.images}
        # image -> (the, a, name, facts said, (the, a) of its first fact only): its own name for the image
        self.names: dict[str, tuple[str, str, str, list[str], tuple[str, str]]] = {}
        self.nouns: dict[str, str] = {}
        self.picked: list[str] = []  # selected images in the order they were picked

    # --- describing ----------------------------------------------------------------------------------

    @property
    def _energy(self) -> float:
        """How much it still says beyond the name: its verbosity, shrinking over the game."""
        return self.voice.verbosity * (1.0 - self.voice.decay) ** self.turns

    def _distinct(self, image: str, said: Sequence[str]) -> list[str]:
        """Other images every fact said so far also fits."""
        return [o for o in self.context.images if o != image and all(f in self.facts[o] for f in said)]

    def _choose_fact(self, image: str, kinds: Sequence[str], said: Sequence[str]) -> str | None:
        rivals = self._distinct(image, said)
        options = [f for f in sorted(self.facts[image]) if f.split(":")[0] in kinds and f not in said
                   and not f.startswith(("class:", "prop:"))]
        if not options:
            return None
        weights = [1.0 / (1 + sum(f in self.facts[o] for o in rivals)) ** 2 for f in options]
        return self.rng.choices(options, weights=weights)[0]

    def _core(self, image: str, strategy: str) -> tuple[str, str, str, list[str]] | None:
        rng, figure = self.rng, self.context.figures[image]
        cls = next(f for f in self.facts[image] if f.startswith("class:"))[6:]
        if strategy == "thing":
            noun = self.nouns.get(cls) or rng.choice(THINGS[cls])
            self.nouns[cls] = noun  # one name per kind of figure in a game
            words = noun
            if rng.random() < 0.35 * self._energy:
                words = f"{rng.choice(poses_for(cls))} {noun}"
            if rng.random() < self.voice.hedge_rate:
                hedge = rng.choice(HEDGES)
                return f"the one that's {hedge}{_article(words)}", f"{hedge}{_article(words)}", noun.split()[-1], \
                    [f"class:{cls}"]
            the = words if rng.random() < 0.2 else f"the {words}"
            return the, _article(words), noun.split()[-1], [f"class:{cls}"]
        kinds = {"geometry": ("tri", "at", "rel", "sq"), "letter": ("letter",), "parts": ("out",),
                 "count": ("n",)}[strategy]
        fact = self._choose_fact(image, kinds, [])
        if fact is None:
            return None
        said = say_fact(fact, rng, figure, self.voice.prefs)
        if strategy == "letter" and rng.random() < 0.3:
            letter = fact.split(":")[1]
            the = rng.choice((f"the {letter} shaped one", f"the {letter} shape", f"the one {said}"))
            return the, f"an {letter} shape", "shape", [fact]
        name = rng.choice(("shape", "figure", "piece"))
        if strategy in ("letter",):
            return f"the one {said}", f"something {said}", name, [fact]
        frame = rng.choice(GEOMETRY_FRAMES)
        if frame == "{f}":
            core = _strip_article(said)
            return f"the {core}", _article(core), name, [fact]
        return frame.format(f=said), f"a shape with {said}", name, [fact]

    def _phrase(self, image: str, *, more: int = 0) -> tuple[str, str, str, dict]:
        if self._use_human.get(image):
            return super()._phrase(image, more=more)
        rng = self.rng
        if image in self.names and not more:
            the, a, name, said, short = self.names[image]
            if not self._distinct(image, said[:1]) and rng.random() < 0.7:
                # Its own name again, shortened to the first thing it said.
                the, a, said = short[0], short[1], said[:1]
                if said[0].startswith("class:") and rng.random() < 0.4:
                    the = self.nouns.get(said[0][6:], name)
            return the, a, name, {"human": False, "phrase": the, "facts": list(said), "reused": True, "image": image}
        weights = list(self.voice.habits)
        the = None
        while the is None:
            strategy = rng.choices(STRATEGIES, weights=weights)[0]
            core = self._core(image, strategy)
            if core is None:
                weights[STRATEGIES.index(strategy)] = 0.0
                continue
            the, a, name, said = core
        short = (the, a)
        # Pragmatics: add a fact while other images still fit (more when verbose), and ``more`` facts when
        # rephrasing.
        chance = (0.15 + 0.35 * self._energy) * (1.0 if strategy == "thing" else 0.4)
        extra = more + (1 if self._distinct(image, said) and rng.random() < chance else 0)
        if not extra and self.turns and rng.random() < self.style.extra_attribute_rate * self._energy:
            extra = 1
        tail_weights = [w if k != "thing" else 0.0 for k, w in zip(STRATEGIES, self.voice.habits)]
        for _ in range(min(extra, 2)):
            kind = rng.choices(STRATEGIES, weights=tail_weights)[0]
            fact = self._choose_fact(image, _TAIL_KINDS[kind], said) or self._choose_fact(
                image, ("tri", "at", "rel", "sq", "out", "n", "letter"), said)
            if fact is None:
                break
            tail = say_fact(fact, rng, self.context.figures[image], self.voice.prefs)
            joiner = " " if fact.startswith("letter:") else rng.choice((" with ", " with ", ", ", " that has "))
            the, a = f"{the}{joiner}{tail}", f"{a}{joiner}{tail}"
            said = [*said, fact]
        rivals = self._distinct(image, said)
        if rivals and rng.random() < self.voice.contrast_rate:
            contrast = rng.choice((f", not the other {name}", " (not the other)", f" and not the other {name}"))
            the, a = the + contrast, a + contrast
        self.names[image] = (the, a, name, list(said), short)
        return the, a, name, {"human": False, "phrase": the, "facts": list(said), "strategy": strategy,
                              "image": image}

    # --- people's extras: counting targets, back-references, politeness --------------------------------

    def react(self, selection_before: frozenset[str], selection_after: frozenset[str]) -> SpeakerMove:
        before, after = frozenset(selection_before), frozenset(selection_after)
        # Picked together: by image id (the listener's screen order is not the speaker's).
        self.picked = [i for i in self.picked if i in after] + sorted(after - before - set(self.picked))
        return super().react(before, after)

    def _back_reference(self, image: str) -> str | None:
        """"the second one you picked" for a selected image (its place in the order of picking)."""
        if image not in self.picked or self.rng.random() >= self.voice.back_reference_rate:
            return None
        k = self.picked.index(image)
        if k == len(self.picked) - 1 and self.rng.random() < 0.5:
            return self.rng.choice(("the one you just picked", "the last one you picked", "the one you just selected"))
        if k >= len(ORDINALS):
            return None
        return f"the {ORDINALS[k]} one you {self.rng.choice(('picked', 'selected', 'clicked'))}"

    def _finish(self, text: str, *, feedback: str, quality: str, move: str, target: str | None,
                details: dict) -> SpeakerMove:
        rng, voice = self.rng, self.voice
        # Refer back to a pick instead of describing it, when asking to remove or keep one.
        for key in ("remove", "keep"):
            for image in details.get(key, [])[:1]:
                ref = self._back_reference(image)
                the = self.names.get(image, (None,))[0]  # what it called the image when it first described it
                if ref and the and the in text:
                    text = text.replace(the, ref, 1)
                    details["back_reference"] = ref
        missing = len(self.context.targets) - len(self._green())
        terse = move in ("describe", "approve_next", "silent_next") and rng.random() < voice.terseness
        if terse and details.get("descriptions"):
            # Just the description(s), no frame: "penguin", "the big triangle pointing down".
            texts = [_strip_article(d["phrase"]) if rng.random() < 0.6 else d["phrase"] for d in details["descriptions"]]
            body = " and ".join(texts)
            if move == "approve_next" and self.lines.APPROVE:
                body = rng.choice(self.lines.APPROVE) + rng.choice(self.lines.JOIN) + body
            return super()._finish(body, feedback=feedback, quality=quality, move=move, target=target, details=details)
        if move == "describe" and rng.random() < voice.count_rate:
            text = rng.choice(COUNT_OPENERS).format(n=rng.choice((str(len(self.context.targets)),
                                                                   NUMBERS[len(self.context.targets)]))) + text
        elif move in ("approve_next", "silent_next") and rng.random() < voice.count_rate:
            if missing == 1:
                count = rng.choice(LAST)
            elif 1 < missing < len(NUMBERS):
                count = rng.choice(REMAINING).format(n=rng.choice((str(missing), NUMBERS[missing])))
            else:
                count = ""
            if move == "silent_next":
                text = count + text
            elif count:
                text = text + ", " + count.strip(" .,:").replace(" is", "")
        if rng.random() < voice.chattiness:
            text = rng.choice(CHAT[feedback]) + text
        if feedback != "none" and rng.random() < voice.politeness and "please" not in text:
            text = text + rng.choice((" please", ", please", " pls", " thanks", " thank you", " thx", " ty", " plz",
                                      ", thanks a lot", ", much appreciated", " cheers"))
        return super()._finish(text, feedback=feedback, quality=quality, move=move, target=target, details=details)

    def _green(self) -> list[str]:
        return [i for i in self.picked if i in self.context.targets]


def phrase_words() -> frozenset[str]:
    """Every word of the people population's fixed tables (for vocabulary checks)."""
    tables = (APPROVALS, APPROVALS_WITH_NO, NEGATIVES, NEGATIVES_WITH_YES, UNDO_VERBS, UNDO_OBJECTS, SELECT_VERBS,
              FIRST_OPENERS, NEXT_OPENERS, SUFFIXES, TRY_AGAIN, PARTIAL, RESET, KEEP, CORRECT_TAIL, REPHRASE,
              GEOMETRY_FRAMES, ORDINALS, NUMBERS, COUNT_OPENERS, REMAINING, LAST, phrases.JOIN)
    return frozenset(w for table in tables for t in table for w in t.replace("{", " ").replace("}", " ").split())


__all__ = ["PeopleIdiolect", "PeopleSpeaker", "draw_idiolect", "CALIBRATED", "STRATEGIES"]
