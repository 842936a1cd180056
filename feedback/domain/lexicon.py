"""The lexicon feedback decoder's rules: phrases, negation, and moving on (pure, CPU-only, transparent).

How a label is reached, in order (``classify``):

1. The speaker's next message is normalised (case, curly quotes, contractions such as ``don't`` ->
   ``do not``, stretched letters ``yesss`` / ``nooo``, a few emoji) and split into words and clause
   boundaries.
2. Cue phrases are matched longest first, each with a *scope*: ``lead`` phrases count only in the
   opening run of cue words and fillers ("yes!! now ...", "hmm no, ..."), ``clause`` phrases also
   at the start of a later clause, ``any`` phrases anywhere. So "no" opens a correction but "the
   one with no head" is a description, and "perfect" approves but "a perfect square" describes.
   Idioms are phrases too, matched before their parts: "no problem", "not bad", "nothing wrong",
   "nice try" (a consolation, i.e. negative), "next to".
3. An approval preceded in its clause by a negator ("not correct", "never good") turns negative.
4. Decision: a negative opening wins; an explicit partial verdict ("half right", "one of them") is
   neutral; approval and correction together are neutral ("yes but remove the cat") unless the
   correction is clearly the next step ("good, now remove the boat"); a lone approval is positive,
   a lone correction negative; weak corrections ("the other one", "i meant", "instead") are
   negative unless the speaker has just said "now" / "next"; moving on ("now", "next", "and",
   "also", "one more") and plain acknowledgements ("ok", "alright") are positive.
5. No cue at all: a message that re-uses the content words of the previous description is a
   rephrase (negative); a fresh description is moving on (positive); no content words at all
   ("hmm?") is neutral.

The ternary decoder returns positive / neutral / negative; the binary one maps neutral to negative
(the study's "lean negative when unsure").

The phrase lists were written from general English and the reference transcripts, independently
of the simulated speaker (see docs/feedback.md). Any change to the tables must come with a new
``LEXICON_VERSION``; a test pins the tables' fingerprint to the version.
"""
from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from feedback.domain.labels import NEGATIVE, NEUTRAL, POSITIVE, to_binary

LEXICON_VERSION = "lex-v4"

# Cue categories.
POS = "pos"  # approval
NEG = "neg"  # correction, undo, reset, "try again", disapproval
WPOS = "wpos"  # plain acknowledgement ("ok", "no problem")
WNEG = "wneg"  # weak correction ("the other one", "i meant", "instead")
MOVE = "move"  # moving on ("now", "next", "also", "one more")
PART = "part"  # explicit partial verdict ("half right", "one of them")
SKIP = "skip"  # content phrases that must not be read as cues ("next to", "close to")

# Scopes.
LEAD = "lead"  # only in the opening run of cues and fillers
CLAUSE = "clause"  # also at the start of a later clause
ANY = "any"  # anywhere

END = "$"  # pattern element: a clause boundary or the end of the text (not consumed)

# Stretched or informal spellings -> one canonical word.
ALIASES = {
    "yea": "yes", "yeah": "yes", "yep": "yes", "yup": "yes", "ya": "yes", "yah": "yes", "yas": "yes",
    "yass": "yes", "yess": "yes", "yesh": "yes", "ye": "yes", "yeh": "yes", "aye": "yes",
    "okay": "ok", "okey": "ok", "okie": "ok", "k": "ok", "kk": "ok", "okk": "ok", "oki": "ok",
    "nah": "no", "naw": "no", "noo": "no", "nop": "nope", "nay": "no",
    "thx": "thanks", "thnx": "thanks", "thanx": "thanks", "ty": "thanks", "tysm": "thanks",
    "alright": "alright", "allright": "alright",
    "gj": "goodjob", "nvm": "nevermind",
    "uhoh": "uhoh", "whoops": "oops", "woops": "oops", "oopsie": "oops", "ooops": "oops",
    "yay": "yay", "yaay": "yay", "woo": "woohoo", "whoo": "woohoo", "wooo": "woohoo", "hooray": "woohoo",
    "hurray": "woohoo", "yippee": "woohoo", "yahoo": "woohoo",
    "hm": "hmm", "hmmm": "hmm", "mm": "hmm", "mmm": "hmm", "um": "um", "umm": "um", "uhm": "um", "erm": "um",
    "er": "um", "ehm": "um", "eh": "um", "uhh": "uh",
    "unselect": "deselect", "deselct": "deselect", "unclick": "deselect", "unpick": "deselect",
    "uncheck": "deselect", "unmark": "deselect", "unchoose": "deselect", "unhighlight": "deselect",
    "incorect": "incorrect", "wrnog": "wrong", "worng": "wrong", "corect": "correct", "perfec": "perfect",
}

# Apostrophe-less contractions people type.
_BARE_CONTRACTIONS = {
    "dont": "do not", "doesnt": "does not", "didnt": "did not", "isnt": "is not", "wasnt": "was not",
    "arent": "are not", "werent": "were not", "cant": "can not", "cannot": "can not", "wont": "will not",
    "shouldnt": "should not", "havent": "have not", "hasnt": "has not", "thats": "that is", "whats": "what is",
    "theres": "there is", "youre": "you are", "youve": "you have", "ive": "i have", "im": "i am",
    "heres": "here is", "hes": "he is", "shes": "she is", "lets": "let us", "aint": "is not",
}

EMOJI = {
    "\U0001F44D": " yes ", "\u2705": " yes ", "\u2714": " yes ", "\U0001F44C": " yes ", "\U0001F642": " yes ",
    "\U0001F600": " yes ", "\U0001F60A": " yes ", "\U0001F389": " yes ", "\U0001F973": " yes ",
    "\U0001F44E": " no ", "\u274C": " no ", "\u2716": " no ", "\U0001F641": " no ", "\u2639": " no ",
    "\U0001F61E": " no ", "\U0001F620": " ugh ",
    ":)": " yes ", ":-)": " yes ", ":d": " yes ", ":(": " no ", ":-(": " no ",
}

FILLERS = frozenset(
    "oh ah aha um uh hmm well so wow please pls plz lol haha hah ha hehe hey hi hello alrighty ooh whoa gosh"
    " just".split()
)
NEGATORS = frozenset({"not", "never", "no", "hardly", "barely"})
CONTRAST = frozenset({"but", "though", "although", "however", "except", "yet"})
CONJUNCTIONS = frozenset({"but", "though", "although", "however", "except", "and", "so", "or", "because"})

# (pattern, category, scope). Words separated by spaces; "a|b" = either; END = boundary/end lookahead.
PHRASES: list[tuple[str, str, str]] = [
    # --- content phrases that look like cues
    ("next to", SKIP, ANY), ("close to", SKIP, ANY), ("closer to", SKIP, ANY), ("right side", SKIP, ANY),
    ("right hand", SKIP, ANY), ("right arm|leg|foot|wing|ear", SKIP, ANY), ("good shape|condition", SKIP, ANY),
    ("no head|arms|legs|tail|feet|hat|neck", SKIP, ANY), ("last week", SKIP, ANY),
    # --- idioms (before their parts)
    ("no problem|problemo|prob|probs|worries|worry|biggie|sweat", WPOS, CLAUSE),
    ("do not worry", WPOS, CLAUSE), ("not a problem", WPOS, CLAUSE),
    ("not bad", POS, ANY), ("not too|so bad", POS, ANY), ("not wrong", POS, ANY), ("nothing wrong", POS, ANY),
    ("no doubt", POS, ANY), ("no mistake|mistakes|error|errors", POS, ANY),
    ("nice|good|great|decent|valiant try|guess|attempt|effort", NEG, ANY),
    ("not so|too|very|really|quite good|great|right|correct", NEG, ANY),
    ("not quite|exactly|really", NEG, ANY),
    ("not all|both", PART, ANY),
    # --- approval
    ("yes", POS, ANY), ("yay", POS, ANY), ("woohoo", POS, ANY), ("bingo", POS, ANY), ("goodjob", POS, ANY),
    ("correct", POS, ANY), ("correctly", POS, ANY), ("exactly", POS, ANY), ("precisely", POS, ANY),
    ("awesome", POS, ANY), ("excellent", POS, ANY), ("brilliant", POS, ANY), ("fantastic", POS, ANY),
    ("wonderful", POS, ANY), ("terrific", POS, ANY), ("superb", POS, ANY), ("splendid", POS, ANY),
    ("thanks", POS, ANY), ("thank you|u", POS, ANY), ("nailed it", POS, ANY), ("spot on", POS, ANY),
    ("good|great|nice|excellent|awesome|amazing|perfect job|work|stuff|going|one|choice|pick|call", POS, ANY),
    ("well|nicely|perfectly done", POS, ANY), ("way to go", POS, ANY), ("there you|we go", POS, ANY),
    ("you got|found it|them|that|this|those|both|all|him|her|one", POS, ANY),
    ("got it|them|him|her|both|all|one", POS, ANY), ("gotcha", POS, LEAD),
    ("that|this|it is|was it", POS, ANY), ("that|this|it is|was the one $", POS, ANY),
    ("is|was the one $", POS, ANY), ("that|it|this|you|those|these is|was|are|were correct", POS, ANY),
    ("that|it|this|you|those|these is|was|are|were right $", POS, ANY),
    ("is|are|was|were correct|good|perfect", POS, ANY), ("is|are|was|were right $", POS, ANY),
    ("all good", POS, ANY), ("looks|looking good|great|right", POS, ANY), ("all right", WPOS, LEAD),
    ("very|so|really good", POS, ANY), ("keep it|that|this|them|those|these|both|the", POS, ANY),
    ("right on", POS, LEAD), ("right one|ones", POS, LEAD), ("right $", POS, CLAUSE),
    ("good|great|nice|perfect|cool|sweet|super|amazing|lovely|beautiful|fab|fabulous|outstanding|great", POS, CLAUSE),
    ("indeed", POS, LEAD), ("absolutely", POS, LEAD), ("definitely", POS, LEAD), ("true", POS, LEAD),
    # --- acknowledgement
    ("ok|alright|fine|sure", WPOS, CLAUSE),
    # --- moving on
    ("now|next|then|also|plus|lastly|finally|and|another|afterwards|second|third|fourth|fifth|last", MOVE, CLAUSE),
    ("one more|other", MOVE, LEAD), ("the next|last|final|second|third|fourth|fifth", MOVE, LEAD),
    ("next one", MOVE, CLAUSE), ("moving|move on", MOVE, CLAUSE), ("after that", MOVE, CLAUSE),
    ("on to|onto", MOVE, LEAD), ("let us move|continue", MOVE, CLAUSE),
    # counting what is left ("still three to go", "2 more", "one left") moves on (lex-v4)
    ("still one|two|three|four|five|1|2|3|4|5", MOVE, CLAUSE),
    ("one|two|three|four|five|1|2|3|4|5 more|left", MOVE, CLAUSE), ("to go", MOVE, ANY),
    # --- partial verdicts
    ("half right|correct|there|done|of", PART, ANY), ("partly|partially|partial|halfway", PART, ANY),
    ("one|two|some|three of them|those|these", PART, ANY), ("one|two|some of the two|three", PART, ANY),
    ("missed|forgot|forgotten", PART, ANY), ("you are|still missing", PART, ANY), ("one missing", PART, ANY),
    # --- corrections, undo, reset, try again
    ("no", NEG, LEAD), ("no", NEG, CLAUSE), ("nope", NEG, ANY), ("not", NEG, LEAD), ("not", NEG, CLAUSE),
    ("not", NEG, ANY),
    ("wrong", NEG, ANY), ("wrongly", NEG, ANY), ("incorrect", NEG, ANY), ("incorrectly", NEG, ANY),
    ("mistake|mistaken|mistakes|error|oops|uhoh|whoopsie", NEG, ANY), ("uh|oh oh|no|dear", NEG, LEAD),
    ("undo|undone|redo|revert|deselect|deselected|remove|removed|delete|cancel|erase", NEG, ANY),
    ("get rid", NEG, ANY), ("take|put|move it|that|this|them|those|these|one away|off|back|out", NEG, ANY),
    ("take|put|move away|off|back|out", NEG, ANY), ("drop", NEG, CLAUSE),
    ("drop it|that|this|them|those|these|all|everything|one|the", NEG, ANY),
    ("clear", NEG, CLAUSE), ("clear all|everything|it|them|that|those|selection|out|the|your", NEG, ANY),
    ("reset|restart|restarting|resetting", NEG, ANY), ("start|begin|starting over|again|fresh|afresh", NEG, ANY),
    ("from scratch", NEG, ANY), ("all over", NEG, ANY), ("try|trying again|harder", NEG, ANY),
    ("try one more time", NEG, ANY), ("one more try|time|go|shot", NEG, ANY), ("once more", NEG, ANY),
    ("keep trying|looking|searching|guessing", NEG, ANY), ("try something|another|a", NEG, ANY),
    ("look|guess|pick|choose|click|select|check again", NEG, ANY),
    ("another go|try|shot|guess|attempt|look", NEG, ANY),
    ("something else", NEG, ANY), ("try", WNEG, CLAUSE), ("again", WNEG, ANY),
    ("go|going back", NEG, ANY), ("too many|much", NEG, ANY), ("switch|swap|change", NEG, CLAUSE),
    ("almost|nearly|close|closer", NEG, LEAD), ("so close", NEG, ANY), ("almost|nearly|close|closer", NEG, CLAUSE),
    ("do|did not", NEG, ANY),
    ("that|it|this|those|these is|was|are|were not", NEG, CLAUSE),
    ("ugh|argh|sigh|geez|jeez|omg|smh|wtf|damn|dang|seriously|stop|ouch|yikes|bruh|gah", NEG, LEAD),
    ("come on", NEG, LEAD), ("what are you", NEG, ANY),
    ("why|huh|what|wait|sorry|actually|again|still|nevermind|hold", WNEG, LEAD), ("never mind", WNEG, ANY),
    ("other one|ones", WNEG, ANY), ("the other|different", WNEG, CLAUSE), ("instead", WNEG, ANY),
    ("i meant|mean|said|asked|wanted|told|described", WNEG, ANY), ("i have said|asked|told|described", WNEG, ANY),
    ("are you sure", WNEG, ANY), ("should be", WNEG, ANY), ("supposed to", WNEG, ANY), ("rather", WNEG, ANY),
    ("that|this is|was a|an", WNEG, CLAUSE),
]

# "take the last two away": a verb and its particle with a few words between, within one clause.
GAPPED = [
    (frozenset({"take", "put", "move", "get"}), frozenset({"away", "off", "back", "out"}), 4, NEG),
    (frozenset({"clear", "drop", "remove"}), frozenset({"all", "everything"}), 3, NEG),
    # "select it again", "click the boat again": a pick taken back was right (lex-v4)
    (frozenset({"select", "pick", "click", "choose", "add"}), frozenset({"again", "back"}), 3, NEG),
]

# Word classes of the lex-v4 rules (people's language, issue P10).
# Verbs that ask for a selection: an imperative that opens a new description ("click the only piece that...").
SELECT_VERBS = frozenset("click choose select pick find tap grab get take look".split())
# Words that open a relative clause or a property inside a description: a negator after them describes
# ("the one that is not a bird", "the one with no legs").
RELATIVES = frozenset("that which who whose with without has have having is are".split())
# Determiners that start a description: "not the one with a tail" after a description contrasts, it does
# not judge.
DETERMINERS = frozenset("the a an one".split())
# An earlier pick: ordinals and words that point back ("remove the first one", "the one you picked before").
EARLIER = frozenset("first second third fourth fifth sixth earlier previous previously before other original "
                    "originally".split())
PICK_VERBS = frozenset("picked selected chose chosen clicked took got had".split())
# What a negated imperative can restrict instead of judging ("do not touch anything else").
ELSE = frozenset("anything else others other any more".split())

# Parts of a figure: "another piece", "another bit" describe rather than move on.
PARTS = frozenset("piece pieces bit bits part parts side corner point edge triangle square arm leg wing".split())

# Words that say nothing about which picture is meant, for the rephrase test.
GENERIC = frozenset(
    """a an the this that these those it its is are was were be been being am with of on in at to for from by and
    or but so as if then than one ones has have had having look looks looking looked like kind sort some any thing
    things something shape shapes figure figures picture pictures image images pic pics tangram tangrams piece
    pieces please i you me my your he she him her his they them their we us our what which who whose where there
    here very really just also too more less much bit little kinda sorta maybe sure person people man men woman
    women guy guys lady someone somebody left right top bottom up down side sides facing pointing towards toward
    big small large tiny tall short long thin fat wide narrow middle center centre corner triangle triangles square
    squares parallelogram diamond rectangle block blocks point pointy edge base select selected pick stick sticks
    sticking out
    choose click find get grab target targets other another same first second third fourth fifth last next now
    two three four five all both each every no not yes do does did can could would should will shall let go
    going see seen think want need it's im ok well oh um hmm
    tri tris rhombus trapezoid diamond diamonds parallelograms rectangles biggest smallest bigger smaller larger huge
    giant mini medium sized mid upper lower north south east west upward upwards downward downwards diagonal
    diagonally pointing points pointed aiming aimed facing faces center centre middle shaped shape""".split()
)


# ----------------------------------------------------------------------------- normalising


def _expand_contractions(text: str) -> str:
    text = re.sub(r"\bwon't\b", "will not", text)
    text = re.sub(r"\bcan't\b", "can not", text)
    text = re.sub(r"n't\b", " not", text)
    text = re.sub(r"\blet's\b", "let us", text)
    text = re.sub(r"'re\b", " are", text)
    text = re.sub(r"'m\b", " am", text)
    text = re.sub(r"'ve\b", " have", text)
    text = re.sub(r"'ll\b", " will", text)
    text = re.sub(r"'d\b", " would", text)
    text = re.sub(r"\b(that|it|what|there|here|he|she|who|where|this)'s\b", r"\1 is", text)
    return text.replace("'s", "").replace("'", "")


def _canon(word: str) -> str:
    """Collapse stretched letters (yesss, nooo, goood) when that gives a known word."""
    if word in _BARE_CONTRACTIONS or word in ALIASES:
        return ALIASES.get(word, word)
    two = re.sub(r"(.)\1{2,}", r"\1\1", word)
    one = re.sub(r"(.)\1+", r"\1", word)
    for candidate in (two, one):
        if candidate in ALIASES:
            return ALIASES[candidate]
        if candidate in _KNOWN:
            return candidate
    return two


BOUNDARY = "."
QUESTION = "?"


def tokenize(text: object) -> list[str]:
    """Lower-case words, with clause boundaries as ``.`` (and ``?`` for a question mark)."""
    raw = unicodedata.normalize("NFKC", str(text or "")).lower()
    raw = raw.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    for mark, word in EMOJI.items():
        raw = raw.replace(mark, word)
    raw = _expand_contractions(raw)
    raw = re.sub(r"(?<=[a-z])-(?=[a-z])", "", raw)  # un-select, uh-oh, de-select
    tokens: list[str] = []
    for piece in re.findall(r"[a-z0-9]+|\?+|[.,;:!\u2026]+|\s-+\s|\(|\)", raw):
        if piece[0].isalnum():
            expanded = _BARE_CONTRACTIONS.get(piece)
            if expanded:
                tokens += expanded.split()
            else:
                tokens.append(_canon(piece))
        else:
            mark = QUESTION if "?" in piece else BOUNDARY
            if tokens and tokens[-1] in (BOUNDARY, QUESTION):
                tokens[-1] = QUESTION if QUESTION in (mark, tokens[-1]) else BOUNDARY
            elif tokens:
                tokens.append(mark)
    return tokens


def is_boundary(token: str) -> bool:
    return token in (BOUNDARY, QUESTION)


# ----------------------------------------------------------------------------- phrase tables


@dataclass(frozen=True)
class Phrase:
    words: tuple[frozenset[str], ...]
    needs_end: bool
    category: str
    scope: str
    text: str


def _compile(table: Iterable[tuple]) -> list[Phrase]:
    phrases = []
    for row in table:
        pattern, category, scope = row[:3]
        parts = pattern.split()
        needs_end = parts[-1] == END
        if needs_end:
            parts = parts[:-1]
        words = tuple(frozenset(p.split("|")) for p in parts)
        phrases.append(Phrase(words, needs_end, category, scope, pattern))
    # Longest first; among equal lengths, table order.
    return sorted(phrases, key=lambda p: -len(p.words))


_PHRASES = _compile(PHRASES)
_FIRST_WORDS: dict[str, list[Phrase]] = {}
for _phrase in _PHRASES:
    for _w in _phrase.words[0]:
        _FIRST_WORDS.setdefault(_w, []).append(_phrase)
_CUE_WORDS = frozenset(w for p in _PHRASES if p.category != SKIP for part in p.words for w in part)
_KNOWN = frozenset(
    itertools.chain(
        (w for p in _PHRASES for part in p.words for w in part), FILLERS, NEGATORS, CONJUNCTIONS, GENERIC,
        ALIASES.values(),
    )
)
_NOT_CONTENT = _CUE_WORDS | FILLERS | NEGATORS | CONJUNCTIONS | GENERIC | frozenset(ALIASES.values())


def fingerprint() -> str:
    """Hash of every table the rules read: pinned to LEXICON_VERSION by a test."""
    blob = repr((PHRASES, sorted(ALIASES.items()), sorted(_BARE_CONTRACTIONS.items()), sorted(EMOJI.items()),
                 sorted(FILLERS), sorted(NEGATORS), sorted(CONTRAST), sorted(CONJUNCTIONS),
                 [(sorted(a), sorted(b), g, c) for a, b, g, c in GAPPED], sorted(GENERIC), sorted(PARTS),
                 sorted(SELECT_VERBS), sorted(RELATIVES), sorted(DETERMINERS), sorted(EARLIER), sorted(PICK_VERBS),
                 sorted(ELSE)))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class Cue:
    category: str
    text: str  # the words matched
    start: int
    end: int  # exclusive
    lead: bool
    negated: bool = False


def _match_at(tokens: list[str], i: int, *, lead: bool, clause_start: bool) -> Phrase | None:
    for phrase in _FIRST_WORDS.get(tokens[i], ()):
        if phrase.scope == LEAD and not lead:
            continue
        if phrase.scope == CLAUSE and not (lead or clause_start):
            continue
        n = len(phrase.words)
        if i + n > len(tokens):
            continue
        if all(tokens[i + k] in phrase.words[k] for k in range(n)):
            if phrase.needs_end and i + n < len(tokens) and not is_boundary(tokens[i + n]):
                continue
            return phrase
    return None


def _negated(tokens: list[str], start: int) -> bool:
    """A negator among the (up to) three words before ``start``, in the same clause."""
    for k in range(start - 1, max(-1, start - 4), -1):
        if is_boundary(tokens[k]) or tokens[k] in CONTRAST:
            return False
        if tokens[k] in NEGATORS:
            return True
    return False


def find_cues(tokens: list[str]) -> list[Cue]:
    cues: list[Cue] = []
    lead = True  # still in the opening run of cues and fillers
    clause_start = True
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if is_boundary(token):
            clause_start = True
            i += 1
            continue
        phrase = _match_at(tokens, i, lead=lead, clause_start=clause_start)
        if phrase is not None and phrase.category != SKIP:
            n = len(phrase.words)
            category = phrase.category
            negated = False
            if category in (POS, WPOS) and _negated(tokens, i):
                category, negated = NEG, True
            cues.append(Cue(category, " ".join(tokens[i:i + n]), i, i + n, lead, negated))
            i += n
            # The opening run goes on through cue words ("yes!! now ...", "ok good, next ...").
            clause_start = lead and category != MOVE
            if category == MOVE:
                lead = False
            continue
        if phrase is not None:  # SKIP: content
            lead = clause_start = False
            i += len(phrase.words)
            continue
        gapped = _gapped_at(tokens, i)
        if gapped is not None:
            cues.append(gapped)
        if token in FILLERS:
            i += 1
            continue
        if token in CONJUNCTIONS:
            clause_start = True
            i += 1
            continue
        lead = clause_start = False
        i += 1
    return cues


def _gapped_at(tokens: list[str], i: int) -> Cue | None:
    for first, second, gap, category in GAPPED:
        if tokens[i] not in first:
            continue
        for k in range(i + 1, min(len(tokens), i + gap + 2)):
            if is_boundary(tokens[k]):
                break
            if tokens[k] in second:
                return Cue(category, " ".join(tokens[i:k + 1]), i, k + 1, False)
    return None


# ----------------------------------------------------------------------------- content words


def _stem(word: str) -> str:
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
        if len(word) > 3 and word[-1] == word[-2]:
            word = word[:-1]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    elif len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word


def content_words(tokens: list[str]) -> frozenset[str]:
    """Words that name or describe a picture: not generic, not a cue, not a filler, not a number."""
    return frozenset(
        _stem(t) for t in tokens
        if not is_boundary(t) and t not in _NOT_CONTENT and not t.isdigit() and len(t) > 1
    )


# ----------------------------------------------------------------------------- deciding


@dataclass(frozen=True)
class LexiconResult:
    label: str  # positive | neutral | negative
    rule: str
    cues: tuple[Cue, ...]
    shared_words: tuple[str, ...] = ()

    def trace(self) -> str:
        cues = ", ".join(
            f"{c.text}({c.category}{',lead' if c.lead else ''}{',negated' if c.negated else ''})" for c in self.cues
        )
        shared = f"; shared={' '.join(self.shared_words)}" if self.shared_words else ""
        return f"{self.label}: {self.rule}; cues=[{cues}]{shared}"


def _between(tokens: list[str], start: int, end: int) -> list[str]:
    return tokens[start:end]


def classify(next_utterance: object, utterance: object = "", *, binary: bool = False) -> LexiconResult:
    """Label the listener's action from the speaker's next message (and the message before it)."""
    result = _classify(tokenize(next_utterance), tokenize(utterance))
    if binary and result.label == NEUTRAL:
        return LexiconResult(to_binary(result.label), result.rule + " (binary: neutral -> negative)", result.cues,
                             result.shared_words)
    return result


def _clause_of(tokens: list[str], start: int) -> tuple[int, int]:
    """The clause (between boundaries) around ``start``."""
    lo = start
    while lo > 0 and not is_boundary(tokens[lo - 1]):
        lo -= 1
    hi = start
    while hi < len(tokens) and not is_boundary(tokens[hi]):
        hi += 1
    return lo, hi


_NEGATOR_CUES = frozenset({"no", "not", "do not", "does not", "did not"})


def _descriptive(tokens: list[str], cue: Cue, opens_description: bool) -> bool:
    """A negation that describes a picture rather than judging the action (lex-v4):

    * inside a relative clause or property of a description: a determiner, then a relative word, then the
      negator, in one clause ("the one that is not a bird", "the one that does not have a head");
    * a contrast after a description the message opened with: "not" + a determiner ("pick the one
      without legs, not the one with a tail");
    * a negated imperative that restricts what else to click ("do not touch anything else").
    """
    if cue.category != NEG or cue.text not in _NEGATOR_CUES:
        return False
    lo, _ = _clause_of(tokens, cue.start)
    before = tokens[lo:cue.start]
    if any(t in DETERMINERS for t in before):
        first_det = next(i for i, t in enumerate(before) if t in DETERMINERS)
        if any(t in RELATIVES for t in before[first_det + 1:]):
            return True
    after = [t for t in tokens[cue.end:cue.end + 4] if not is_boundary(t)]
    if opens_description and not cue.lead and after[:1] and after[0] in DETERMINERS:
        return True
    if cue.text in ("do not", "not") and cue.lead and len(after) >= 2 and any(t in ELSE for t in after[1:4]):
        return True
    return False


def _about_earlier_pick(tokens: list[str], cue: Cue, *, ordinal: bool = False) -> bool:
    """Whether a correction's clause is about an earlier pick: an ordinal or a word pointing back
    ("remove the first one", "the one you picked before is wrong"), not the pick just made ("just")."""
    lo, hi = _clause_of(tokens, cue.start)
    clause = tokens[lo:hi]
    if lo > 0 and set(clause) & {"it", "them", "that"} and not set(clause) & EARLIER:
        # "the first one you picked is wrong, remove it": the pronoun points to the clause before.
        lo, _ = _clause_of(tokens, lo - 2) if lo >= 2 else (lo, hi)
        clause = tokens[lo:hi]
    if "just" in clause or "last" in clause:
        return False
    if any(t in EARLIER for t in clause):
        return True
    # Without an approval first, only an ordinal or "earlier" word is enough ("you chose the wrong one" judges).
    return not ordinal and any(a == "you" and b in PICK_VERBS for a, b in zip(clause, clause[1:]))


def _classify(tokens: list[str], previous: list[str]) -> LexiconResult:
    cues = tuple(find_cues(tokens))
    # People's language (lex-v4): negations inside a description are not verdicts.
    words = [t for t in tokens if not is_boundary(t) and t not in FILLERS]
    opens_description = bool(words) and (words[0] in SELECT_VERBS or words[0] in DETERMINERS
                                         or words[0] not in _CUE_WORDS)
    descriptive = [c for c in cues if _descriptive(tokens, c, opens_description)]
    if descriptive:
        # A restricting imperative ("do not click any other ones") takes its whole clause with it.
        spans = [_clause_of(tokens, c.start) for c in descriptive if c.lead and c.text in ("do not", "not")]
        cues = tuple(c for c in cues if c not in descriptive and not any(lo <= c.start < hi for lo, hi in spans))
    cats = {c.category for c in cues}
    polar = [c for c in cues if c.category in (POS, NEG)]
    lead_polar = [c for c in polar if c.lead]

    def result(label: str, rule: str, shared: Iterable[str] = ()) -> LexiconResult:
        return LexiconResult(label, rule, cues, tuple(sorted(shared)))

    lead_verdicts = [c for c in cues if c.lead and c.category in (POS, NEG, PART)]
    if lead_verdicts and lead_verdicts[0].category == NEG and not any(c.category == POS for c in lead_polar):
        return result(NEGATIVE, "opens with a correction")
    if PART in cats:
        return result(NEUTRAL, "partial verdict")
    if POS in cats and NEG in cats:
        first = polar[0]
        if first.category == NEG:
            return result(NEGATIVE, "correction before approval")
        negs = [c for c in polar if c.category == NEG]
        if first.lead and all(_about_earlier_pick(tokens, c) for c in negs):
            # "correct, but remove the first one": the action judged was right; an earlier pick is fixed.
            return result(POSITIVE, "approval, then fixing an earlier pick")
        neg = next(c for c in polar if c.category == NEG and c.start > first.start)
        between = _between(tokens, first.end, neg.start)
        if any(t in CONTRAST for t in between):
            return result(NEUTRAL, "approval with a correction")
        moves = [c for c in cues if c.category == MOVE and first.end <= c.start < neg.start]
        if moves:
            return result(POSITIVE, "approval, then the next step")
        return result(NEUTRAL, "approval and correction")
    if POS in cats:
        return result(POSITIVE, "approval")
    if NEG in cats:
        negs = [c for c in cues if c.category == NEG]
        if all(_about_earlier_pick(tokens, c, ordinal=True) for c in negs) and not any(
                c.lead and c.text in _NEGATOR_CUES for c in negs):
            # "now remove the second one you picked": fixing an earlier pick, not the one just made.
            return result(POSITIVE, "fixing an earlier pick")
        return result(NEGATIVE, "correction")
    if WNEG in cats:
        first_weak = next(c for c in cues if c.category == WNEG)
        if any(c.category == MOVE and c.start < first_weak.start for c in cues):
            return result(POSITIVE, "moving on")
        return result(NEGATIVE, "weak correction")
    # "... and another piece sticking out": "another" before a part of the figure describes, it does
    # not move on.
    moves = [
        c for c in cues
        if c.category == MOVE and not (c.text.lower() == "another" and tokens[c.end: c.end + 1] and tokens[c.end] in PARTS)
    ]
    if moves:
        # A bare "another one" names no next target: it asks for a different picture.
        if not content_words(tokens) and all(c.text.lower() == "another" for c in moves):
            return result(NEGATIVE, "asks for a different one")
        return result(POSITIVE, "moving on")
    now = content_words(tokens)
    shared = now & content_words(previous)
    if shared:
        return result(NEGATIVE, "rephrases the previous description", shared)
    if WPOS in cats:
        return result(POSITIVE, "acknowledgement")
    if not now:
        return result(NEUTRAL, "no cue and no description")
    return result(POSITIVE, "new description (moving on)")


__all__ = [
    "LEXICON_VERSION", "PHRASES", "ALIASES", "EMOJI", "GENERIC", "Cue", "LexiconResult", "tokenize", "find_cues",
    "content_words", "classify", "fingerprint",
]
