"""What people say about a tangram figure's geometry, and how to read it back (pure; no Django).

People name the same figure in many ways, mostly by its *parts*: "a big triangle pointing down",
"a diamond on top of a parallelogram", "two triangles pointing up", "like a letter L", or by what it
resembles ("a kneeling monk"). This module turns a figure's seven polygons into *facts* — short keys
that are true of the figure — and says each fact in many ways from a small grammar (synonyms for sizes,
shapes, directions, verbs; word classes for the parts of things), and reads such words back into facts.

Fact keys (all true of the figure they come from):

* ``tri:<size>:<dir>`` / ``tri:any:<dir>`` — a (big / medium / small) triangle pointing ``dir`` (a compass
  word of ``shape_features.DIRECTIONS``: the way from the middle of its long side to its right-angle corner);
* ``at:<piece>:<region>`` — a piece (``bigtri``, ``medtri``, ``smalltri``, ``square``, ``para``) sits in a
  region of the figure (``top``, ``bottom left``, ``middle``... and the coarse ``top`` / ``left`` of a corner);
* ``sq:diamond`` — the square stands on a corner;
* ``rel:<a>:<above|below|left|right>:<b>`` — piece ``a`` is above / below / left / right of piece ``b``;
* ``n:tri:<dir>:<k>`` — ``k`` (>= 2) triangles point ``dir``; ``n:out:<k>`` — ``k`` parts stick out;
* ``out:<dir>`` — a part sticks out at ``dir`` (``shape_features`` protrusions);
* ``class:<name>`` — the figurative class (``shape_features.shape_name``), said with one of many nouns;
* ``letter:<L>`` — the silhouette resembles a letter (rules over proportions and protrusions);
* ``prop:tall`` / ``prop:wide``.

``figure_facts`` gives a figure's facts, ``read_facts`` the facts an utterance states. The simulated
human listener scores its images by the facts it reads (true: plus, false: minus), as a person checks
a description against the pictures. Nouns that another speaker population already uses for a class
(``populations.ALTERNATIVES``) keep their meaning; every other word of the vocabulary avoids them.
"""
from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from games.domain.tangrams import TangramError, TangramFigure, classify_pieces
from games.simulation.agents.populations import ALTERNATIVES
from games.simulation.agents.shape_features import SHAPE_NAMES, compass_direction, shape_features

# --------------------------------------------------------------------------- pieces

PIECE_TOKENS = {"large_triangle": "bigtri", "medium_triangle": "medtri", "small_triangle": "smalltri",
                "square": "square", "parallelogram": "para"}
SIZES = {"bigtri": "big", "medtri": "medium", "smalltri": "small"}


@dataclass(frozen=True)
class PieceView:
    token: str  # bigtri, medtri, smalltri, square, para
    x: float  # centroid in the figure's box, 0 (left) .. 1 (right)
    y: float  # 0 (top) .. 1 (bottom)
    ux: float  # centroid in units of the figure's longer side (for relations)
    uy: float
    region: str  # "top left", "top", ..., "middle"
    points: str | None  # triangles: compass direction of the right-angle corner
    diamond: bool = False  # squares: standing on a corner


def _region(x: float, y: float) -> str:
    vertical = "top" if y < 0.38 else "bottom" if y > 0.62 else ""
    horizontal = "left" if x < 0.38 else "right" if x > 0.62 else ""
    return f"{vertical} {horizontal}".strip() or "middle"


def _centroid(poly) -> tuple[float, float]:
    return sum(p[0] for p in poly) / len(poly), sum(p[1] for p in poly) / len(poly)


@lru_cache(maxsize=4096)
def pieces_of(figure: TangramFigure) -> tuple[PieceView, ...]:
    """The seven pieces as a viewer sees them (empty when the pieces are not a standard tan set)."""
    try:
        kinds = classify_pieces(figure)
    except TangramError:
        return ()
    minx, miny, maxx, maxy = figure.bounds()
    w, h = max(maxx - minx, 1e-9), max(maxy - miny, 1e-9)
    side = max(w, h)
    views = []
    for kind, poly in zip(kinds, figure.pieces):
        cx, cy = _centroid(poly)
        x, y = (cx - minx) / w, (cy - miny) / h
        points, diamond = None, False
        if len(poly) == 3:
            edges = [(poly[i], poly[(i + 1) % 3], poly[(i + 2) % 3]) for i in range(3)]
            a, b, corner = max(edges, key=lambda e: math.dist(e[0], e[1]))
            mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
            points = compass_direction(corner[0] - mx, corner[1] - my)
        elif kind == "square":
            angle = math.degrees(math.atan2(poly[1][1] - poly[0][1], poly[1][0] - poly[0][0])) % 90
            diamond = 22.5 <= angle <= 67.5
        views.append(PieceView(PIECE_TOKENS[kind], round(x, 3), round(y, 3), (cx - minx) / side, (cy - miny) / side,
                               _region(x, y), points, diamond))
    return tuple(views)


def _relation(a: PieceView, b: PieceView) -> str | None:
    dx, dy = a.ux - b.ux, a.uy - b.uy
    if max(abs(dx), abs(dy)) < 0.2:
        return None
    if abs(dy) >= 1.5 * abs(dx):
        return "above" if dy < 0 else "below"
    if abs(dx) >= 1.5 * abs(dy):
        return "left" if dx < 0 else "right"
    return None


# --------------------------------------------------------------------------- letters and things


def letters_of(figure: TangramFigure) -> tuple[str, ...]:
    """Letters the silhouette resembles, from general rules over its proportions and what sticks out."""
    f = shape_features(figure)
    out = set(f.sticking_out())
    ups = {d for d in out if d.startswith("top")}
    downs = {d for d in out if d.startswith("bottom")}
    tall, wide = f.proportion == "tall", f.proportion == "wide"
    found: list[str] = []
    if tall and not out:
        found.append("I")
    if tall and downs == {"bottom right"} and not ups:
        found.append("L")
    if tall and downs == {"bottom left"} and not ups:
        found.append("J")
    if tall and ups & {"top right", "right"} and not downs:
        found += ["F", "P"]
    if tall and ups & {"top left"} and not downs:
        found.append("q")
    if {"top left", "top right"} <= ups:
        found.append("Y" if tall else "V" if f.is_pointy_top else "U")
    if {"bottom left", "bottom right"} <= downs:
        found.append("A" if f.is_pointy_top else "n" if wide else "M")
    if {"left", "right"} <= out:
        found.append("T" if f.heavy_side == "top" else "H")
    if f.is_pointy_top and f.is_symmetric and not out:
        found.append("A")
    if f.holes:
        found.append("O")
    if wide and downs == {"bottom left"} and not ups:
        found.append("r")
    if tall and ups == {"top"} and downs == {"bottom"}:
        found.append("I")
    if tall and ups == {"top"} and not downs:
        found.append("T")
    if tall and "right" in out:
        found.append("K")
    if tall and "left" in out:
        found.append("d")
    if wide and ups == {"top right"} and not downs:
        found.append("J")
    if wide and ups == {"top left"} and not downs:
        found.append("L")
    if wide and downs == {"bottom"} and not ups:
        found.append("T")
    if {"top right", "bottom left"} <= out or {"top left", "bottom right"} <= out:
        found.append("Z" if "top left" in out else "N")
    if {"top left", "top right", "bottom left", "bottom right"} <= out:
        found.append("X")
    if not tall and not wide and ups == {"top"} and downs and not f.is_solid:
        found.append("Y" if len(downs) == 1 else "K")
    if f.shape_name == "snake":
        found += ["S", "Z"]
    if not tall and not wide and len(out) == 1 and out <= {"right", "left"}:
        found.append("C" if out == {"right"} else "D")
    seen: list[str] = []
    for letter in found:
        if letter not in seen:
            seen.append(letter)
    return tuple(seen)


# Nouns for each figurative class: the plain name, the speaker populations' alternatives for it, and many
# more. Words another class (or an attribute) already owns are dropped below, so each noun means one class.
_THINGS = {
    "person": "person man woman guy lady kid child boy girl someone monk nun priest ghost soldier king queen "
              "statue robot chef wizard knight ninja farmer sailor pilgrim grandpa grandma old man old lady "
              "teacher student waiter butler genie ghoul zombie alien mummy scarecrow snowman human",
    "dancer": "dancer ballerina gymnast jumper skater skier acrobat runner athlete cheerleader karate kid "
              "kickboxer yoga pose ninja kick jester clown juggler surfer diver sprinter hurdler goalie",
    "rocket": "rocket spaceship missile shuttle jet bullet firework torpedo space shuttle lighthouse pen "
              "pencil crayon syringe carrot icicle candle bottle vase",
    "tree": "tree pine bush fir palm tree christmas tree oak plant flower tulip cactus shrub broccoli "
            "torch ice cream cone lollipop feather",
    "tower": "tower building skyscraper column pillar chimney totem pole obelisk monument door wall "
             "fridge closet locker post pole",
    "snake": "snake worm eel zigzag lightning bolt ribbon river caterpillar slinky dragon noodle scarf "
             "squiggle wave staircase stairs",
    "horse": "horse pony camel donkey cow moose deer reindeer giraffe zebra goat sheep bull llama elephant "
             "rhino buffalo antelope unicorn",
    "dog": "dog puppy wolf fox hound poodle terrier bulldog beagle dachshund squirrel rabbit bunny hare "
           "mouse rat pig bear lamb",
    "swan": "swan goose heron flamingo ostrich emu stork crane pelican peacock rooster hen chicken turkey "
            "dinosaur sea horse seal",
    "boat": "boat ship sailboat canoe yacht raft kayak sub submarine ferry steamboat pirate ship barge "
            "gondola sled sleigh bathtub tray",
    "fish": "fish whale shark dolphin goldfish salmon tuna stingray manta ray squid octopus tadpole "
            "minnow trout fly kite plane airplane helicopter",
    "arrow": "arrow pointer signpost spear sign road sign knife sword axe hammer wedge dart flashlight "
             "megaphone trumpet horn funnel",
    "crab": "crab spider bug lobster beetle ant scorpion insect frog toad turtle tortoise lizard gecko "
            "starfish bat butterfly moth",
    "bird": "bird crow eagle pigeon parrot owl hawk falcon robin sparrow seagull bluejay hummingbird "
            "vulture raven dove angel phoenix",
    "house": "house hut barn cabin cottage tent temple church castle pyramid igloo shed garage mountain "
             "hill volcano roof triangle hat",
    "cat": "cat kitten kitty lion tiger panther leopard cheetah fox head owl face bear cub koala raccoon "
           "monster devil gargoyle batman",
    "duck": "duck duckling penguin chick gull pelican puffin kiwi dodo teapot kettle watering can "
            "jug pitcher",
    "table": "table bench desk stool chair couch sofa bed piano table lamp coffee table bridge gate "
             "arch stand cart wagon",
    "mushroom": "mushroom umbrella lamp toadstool jellyfish parachute bell lampshade cupcake muffin "
                "trophy goblet chalice wine glass martini glass",
    "boot": "boot shoe sock foot high heel slipper sneaker skate ice skate cowboy boot stocking leg "
            "hockey stick golf club",
    "block": "block brick box chunk rock stone gem crystal envelope book bag suitcase purse present "
             "gift box cheese slice sandwich pie slice",
}
# Parts of things that stick out, by where they stick out.
PARTS = {
    "top": ("head", "hat", "ear", "neck", "crown", "peak", "tip", "horn", "antenna", "flag", "chimney", "sail",
            "spike", "hand"),
    "bottom": ("leg", "feet", "base", "stand", "root", "paw", "stem", "wheel", "knee", "toe", "heel"),
    "side": ("arm", "tail", "wing", "nose", "beak", "handle", "trunk", "hand", "flipper", "snout", "spout",
             "blade", "elbow", "fin"),
}
_PART_WORDS = frozenset(w for words in PARTS.values() for w in words) | {"legs", "arms", "ears", "wings", "hands",
                                                                        "horns", "spikes", "toes"}
_GEOMETRY_NOUNS = frozenset({"triangle", "triangles", "tri", "square", "squares", "diamond", "parallelogram",
                             "rhombus", "trapezoid", "rectangle"})
# More of the same kinds of things (underscores join the words of one noun).
_MORE_THINGS = {
    "person": "monkey caveman pharaoh sumo_wrestler referee conductor magician hiker beggar prisoner fisherman "
              "gardener nurse doctor baby toddler preacher professor shepherd cowboy samurai viking astronaut",
    "dancer": "ballet_dancer figure_skater jumping_jack high_jumper pole_vaulter tap_dancer breakdancer "
              "rock_climber swimmer boxer fencer",
    "rocket": "spacecraft satellite needle skewer popsicle chess_piece bishop pawn",
    "tree": "willow maple cedar evergreen fern sapling sunflower daisy rose bouquet leaf",
    "tower": "watchtower clock_tower tall_building elevator",
    "snake": "cobra python serpent centipede millipede earthworm slug",
    "horse": "stallion mule ox yak bison alpaca stag elk mare foal",
    "dog": "hyena coyote jackal weasel ferret badger otter chipmunk hamster kangaroo",
    "swan": "ibis egret",
    "boat": "battleship cruise_ship tugboat rowboat lifeboat speedboat dinghy catamaran ark",
    "fish": "carp cod guppy piranha catfish swordfish flounder jet_plane glider",
    "arrow": "harpoon javelin lance trident pickaxe shovel spatula wrench screwdriver",
    "crab": "tick flea mantis cricket grasshopper cockroach hermit_crab crawfish",
    "bird": "magpie cardinal finch wren toucan kingfisher woodpecker cockatoo",
    "house": "shack mansion chapel pagoda teepee birdhouse doghouse",
    "cat": "bobcat lynx cougar jaguar puma ocelot wildcat",
    "duck": "mallard rubber_duck songbird",
    "table": "workbench counter shelf bunk_bed stretcher ladder",
    "mushroom": "fountain candle_holder chandelier tree_stump ice_cream_cup",
    "boot": "wellington rain_boot clog loafer sandal ski_boot roller_skate",
    "block": "cube dice tile slab boulder pebble ring chest treasure_chest crate package parcel",
}
_EVEN_MORE_THINGS = {
    "person": "dad mom grandma aunt uncle waitress bride groom singer guitarist drummer painter sculptor builder plumber janitor mailman cop detective spy pirate thief vampire witch elf dwarf troll giant fairy angel_statue saint buddha pope emperor prince princess",
    "dancer": "ballerino tumbler stuntman martial_artist karate_man kung_fu_fighter parkour_guy discus_thrower baseball_pitcher tennis_player soccer_player goalkeeper",
    "rocket": "spire steeple arrowhead_tower test_tube thermometer microphone lipstick paintbrush",
    "tree": "oak_tree bonsai hedge vine weed corn_stalk wheat pineapple palm_frond",
    "tower": "stack chimney_stack tall_box cupboard wardrobe bookcase vending_machine phone_booth",
    "snake": "rope chain vine_tendril hose cable string_of_beads dragon_tail",
    "horse": "ram calf heifer mammoth hippo warthog boar",
    "dog": "retriever husky corgi greyhound mutt bloodhound skunk raccoon_dog possum",
    "swan": "loon cormorant albatross grebe",
    "boat": "dhow junk_boat galleon schooner houseboat paddle_boat",
    "fish": "barracuda grouper halibut herring mackerel perch pike sardine snapper",
    "arrow": "dagger blade scalpel scissors hatchet machete chisel",
    "crab": "tarantula wasp bee hornet dragonfly ladybug",
    "bird": "budgie canary swallow starling lark nightingale hornbill",
    "house": "hostel inn bungalow lodge hangar stable",
    "cat": "tomcat siamese kitty_cat housecat alley_cat",
    "duck": "gosling teal grouse quail",
    "table": "nightstand dresser footstool ottoman easel tripod",
    "mushroom": "tulip_glass bell_jar torch_lamp desk_lamp",
    "boot": "stiletto moccasin flipflop slipper_sock",
    "block": "brick_wall tablet phone laptop wallet briefcase",
}
# Words the other populations read as an attribute (``populations.ALTERNATIVES`` of non-names).
_ATTRIBUTE_WORDS = {w for plain, alts in ALTERNATIVES.items() if plain not in SHAPE_NAMES for w in (plain, *alts)}


def _things() -> dict[str, tuple[str, ...]]:
    # Multi-word nouns are written with the words of the lists above; split them back by known pairs.
    pairs = ("old man", "old lady", "karate kid", "yoga pose", "ninja kick", "space shuttle", "palm tree",
             "christmas tree", "ice cream cone", "totem pole", "lightning bolt", "sea horse", "pirate ship",
             "manta ray", "road sign", "watering can", "table lamp", "coffee table", "wine glass", "martini glass",
             "high heel", "ice skate", "cowboy boot", "hockey stick", "golf club", "gift box", "cheese slice",
             "pie slice", "fox head", "owl face")
    owner: dict[str, str] = {}
    for plain, alts in ALTERNATIVES.items():
        if plain in SHAPE_NAMES:
            for word in (plain, *alts):
                owner[word] = plain
    result: dict[str, list[str]] = {}
    for name, text in _THINGS.items():
        for pair in pairs:
            text = text.replace(pair, pair.replace(" ", "_"))
        text += " " + _MORE_THINGS.get(name, "") + " " + _EVEN_MORE_THINGS.get(name, "")
        for word in text.split():
            word = word.replace("_", " ")
            if owner.setdefault(word, name) != name:
                continue  # owned by another class
            if set(word.split()) & (_ATTRIBUTE_WORDS | set(SHAPE_NAMES) - {name} | _GEOMETRY_NOUNS | _PART_WORDS):
                continue
            if word not in result.setdefault(name, []):
                result[name].append(word)
    return {name: tuple(words) for name, words in result.items()}


THINGS: dict[str, tuple[str, ...]] = _things()
_THING_CLASS = {noun: name for name, nouns in THINGS.items() for noun in nouns}

# Poses and manners by kind of thing: said with a thing of that kind ("a kneeling monk").
_LIVING = {"person", "dancer", "horse", "dog", "swan", "crab", "bird", "cat", "duck", "fish", "snake"}
POSES = {
    "person": ("sitting", "kneeling", "standing", "walking", "waving", "praying", "bowing", "leaning", "resting",
               "crouching", "squatting", "marching", "thinking", "reading", "sleeping", "hiding", "begging",
               "shouting", "singing", "old", "sad", "happy", "angry", "proud", "fancy", "scared", "lonely", "tired",
               "hunched", "slouching", "pointing", "climbing", "crawling", "stumbling", "tripping", "meditating",
               "stretching", "yelling", "laughing", "crying", "dizzy", "grumpy", "sneaky", "confused", "bored"),
    "dancer": ("dancing", "jumping", "running", "kicking", "skipping", "stretching", "spinning", "twirling",
               "leaping", "hopping", "falling", "flying", "sprinting", "balancing", "cartwheeling", "excited",
               "celebrating", "cheering", "bouncing", "diving", "swinging", "lunging", "wobbly", "graceful"),
    "animal": ("sitting", "lying", "running", "sleeping", "standing", "walking", "grazing", "jumping", "hungry",
               "baby", "angry", "chubby", "lazy", "cute", "scared", "sleepy", "curious", "hunting", "prowling",
               "sniffing", "howling", "stalking", "playful", "wild", "wounded", "grumpy", "friendly", "young"),
    "bird": ("flying", "perched", "soaring", "landing", "swimming", "pecking", "diving", "nesting", "baby",
             "flapping", "gliding", "singing", "chirping", "hopping", "waddling", "preening", "fluffy"),
    "thing": ("old", "broken", "fancy", "tiny", "weird", "simple", "little", "giant", "crooked", "wooden",
              "shiny", "plain", "funny", "odd", "strange", "cute", "lopsided", "bent", "sideways", "tipped over",
              "abstract", "modern", "ancient", "rusty", "wobbly", "hollow", "solid", "chipped",
              "cracked", "jagged", "boxy", "oddly shaped", "misshapen", "fallen", "leaning"),
}


def poses_for(shape_name: str) -> tuple[str, ...]:
    if shape_name in ("person",):
        return POSES["person"]
    if shape_name == "dancer":
        return POSES["dancer"]
    if shape_name in ("bird", "swan", "duck"):
        return POSES["bird"]
    if shape_name in _LIVING:
        return POSES["animal"]
    return POSES["thing"]


def parts_for(direction: str) -> tuple[str, ...]:
    if direction.startswith("top"):
        return PARTS["top"] + (PARTS["side"] if direction != "top" else ())
    if direction.startswith("bottom"):
        return PARTS["bottom"] + (PARTS["side"] if direction != "bottom" else ())
    return PARTS["side"]


# --------------------------------------------------------------------------- facts


@lru_cache(maxsize=4096)
def figure_facts(figure: TangramFigure) -> frozenset[str]:
    """Every fact key (see the module docstring) true of ``figure``."""
    f = shape_features(figure)
    facts: set[str] = {f"class:{f.shape_name}"}
    if f.proportion in ("tall", "wide"):
        facts.add(f"prop:{f.proportion}")
    out = f.sticking_out()
    facts.update(f"out:{d}" for d in out)
    if len(out) >= 2:
        facts.add(f"n:out:{len(out)}")
    facts.update(f"letter:{letter}" for letter in letters_of(figure))
    pieces = pieces_of(figure)
    pointing: dict[str, int] = {}
    for p in pieces:
        if p.points:
            facts.add(f"tri:{SIZES[p.token]}:{p.points}")
            facts.add(f"tri:any:{p.points}")
            pointing[p.points] = pointing.get(p.points, 0) + 1
        for region in _regions(p.region):
            facts.add(f"at:{p.token}:{region}")
            if p.points:
                facts.add(f"at:tri:{region}")
        if p.diamond:
            facts.add("sq:diamond")
    for direction, count in pointing.items():
        if count >= 2:
            facts.add(f"n:tri:{direction}:{count}")
    for a in pieces:
        for b in pieces:
            if a.token != b.token and a.token in RELATED and b.token in RELATED and not (a.points and b.points):
                rel = _relation(a, b)
                if rel:
                    ta = "tri" if a.points else a.token
                    tb = "tri" if b.points else b.token
                    facts.update(f"rel:{x}:{rel}:{y}" for x in {a.token, ta} for y in {b.token, tb} if x != y)
    return frozenset(facts)


RELATED = ("bigtri", "medtri", "square", "para", "tri")


def _regions(region: str) -> tuple[str, ...]:
    return (region, *region.split()) if " " in region else (region,)


# --------------------------------------------------------------------------- saying facts

# Word families (each a tuple of ways to say one thing).
SIZE_WORDS = {"big": ("big", "large", "huge", "giant", "biggest", "larger"),
              "medium": ("medium", "medium sized", "mid sized", "average sized", "normal sized"),
              "small": ("small", "little", "tiny", "smaller", "smallest", "mini")}
SHAPE_WORDS = {"triangle": ("triangle", "triangle", "triangle", "tri"), "square": ("square",),
               "diamond": ("diamond", "diamond shape"), "para": ("parallelogram", "rhombus", "slanted rectangle",
                                                             "trapezoid", "lopsided rectangle")}
POINT_VERBS = ("pointing", "pointing", "facing", "aiming", "that points", "which points", "with its tip pointing")
DIRECTION_WORDS = {
    "top": ("up", "upward", "upwards", "straight up", "to the sky", "to the ceiling"),
    "bottom": ("down", "downward", "downwards", "straight down", "to the ground", "to the floor"),
    "left": ("left", "to the left", "leftward", "west"),
    "right": ("right", "to the right", "rightward", "east"),
    "top left": ("up and left", "up and to the left", "diagonally up left", "to the upper left", "northwest"),
    "top right": ("up and right", "up and to the right", "diagonally up right", "to the upper right", "northeast"),
    "bottom left": ("down and left", "down and to the left", "diagonally down left", "to the lower left",
                    "southwest"),
    "bottom right": ("down and right", "down and to the right", "diagonally down right", "to the lower right",
                     "southeast"),
}
REGION_WORDS = {
    "top": ("at the top", "on top", "up top", "at the very top", "in the upper part", "along the top"),
    "bottom": ("at the bottom", "on the bottom", "down at the bottom", "at the base", "in the lower part"),
    "left": ("on the left", "on the left side", "to the left", "at the left"),
    "right": ("on the right", "on the right side", "to the right", "at the right"),
    "middle": ("in the middle", "in the center", "in the centre", "right in the middle"),
    "top left": ("at the top left", "in the upper left", "in the top left corner", "up in the left corner"),
    "top right": ("at the top right", "in the upper right", "in the top right corner", "up in the right corner"),
    "bottom left": ("at the bottom left", "in the lower left", "in the bottom left corner"),
    "bottom right": ("at the bottom right", "in the lower right", "in the bottom right corner"),
}
RELATION_WORDS = {"above": ("on top of", "above", "over", "sitting on", "resting on", "stacked on",
                            "perched on", "sitting atop", "placed on"),
                  "below": ("below", "under", "underneath", "beneath", "holding up", "supporting", "propping up"),
                  "left": ("to the left of", "left of", "beside", "on the left of", "next to", "touching"),
                  "right": ("to the right of", "right of", "beside", "on the right of", "next to", "touching")}
NUMBER_WORDS = {2: ("two", "2"), 3: ("three", "3"), 4: ("four", "4"), 5: ("five", "5"), 6: ("six", "6"),
                7: ("seven", "7")}
LETTER_FRAMES = ("like a letter {L}", "like the letter {L}", "like an {L}", "shaped like an {L}", "an {L} shape",
                 "kind of like an {L}", "looks like a capital {L}", "like a backwards {L}", "sort of an {L} shape",
                 "like a lowercase {l}")


def _pick(rng: random.Random, words: Sequence[str], prefs: dict | None, family: str) -> str:
    """A word of ``words``: mostly the speaker's preferred one for ``family`` (an idiolect), else any."""
    preferred = (prefs or {}).get(family)
    if preferred is not None and rng.random() < 0.8:
        options = [w for w in words if w in preferred]
        if options:
            return rng.choice(options)
    return rng.choice(words)


def piece_words(token: str, rng: random.Random, prefs: dict | None = None, *, diamond: bool = False) -> str:
    """A noun phrase naming one piece: "big triangle", "tiny triangle", "diamond", "rhombus"."""
    if token in SIZES:
        size = SIZES[token]
        noun = _pick(rng, SHAPE_WORDS["triangle"], prefs, "triangle")
        return f"{_pick(rng, SIZE_WORDS[size], prefs, 'size_' + size)} {noun}"
    if token == "tri":
        return _pick(rng, SHAPE_WORDS["triangle"], prefs, "triangle")
    if token == "square":
        return _pick(rng, SHAPE_WORDS["diamond"], prefs, "diamond") if diamond and rng.random() < 0.7 else "square"
    return _pick(rng, SHAPE_WORDS["para"], prefs, "para")


def say_fact(fact: str, rng: random.Random, figure: TangramFigure, prefs: dict | None = None) -> str:
    """One way to say ``fact`` (a key of ``figure_facts(figure)``), as a phrase that can follow a noun
    ("... with a big triangle pointing down") or stand alone ("a big triangle pointing down")."""
    kind, _, rest = fact.partition(":")
    diamond = "sq:diamond" in figure_facts(figure)
    if kind == "tri":
        size, direction = rest.split(":")
        token = {"big": "bigtri", "medium": "medtri", "small": "smalltri"}.get(size)
        noun = piece_words(token, rng, prefs) if token else _pick(rng, SHAPE_WORDS["triangle"], prefs, "triangle")
        if direction == "bottom" and rng.random() < 0.3:
            return f"an upside down {noun}"
        verb = _pick(rng, POINT_VERBS, prefs, "point")
        return f"{_article(noun)} {noun} {verb} {_pick(rng, DIRECTION_WORDS[direction], prefs, 'dir')}"
    if kind == "at":
        token, region = rest.split(":")
        noun = piece_words(token, rng, prefs, diamond=diamond)
        return f"{_article(noun)} {noun} {rng.choice(REGION_WORDS[region])}"
    if kind == "sq":
        return rng.choice(("a diamond", "a square turned into a diamond", "a diamond shape",
                           "a diamond, like a tilted square"))
    if kind == "rel":
        a, rel, b = rest.split(":")
        first = piece_words(a, rng, prefs, diamond=diamond)
        return f"{_article(first)} {first} {rng.choice(RELATION_WORDS[rel])} {_article_word(rng)} " \
               f"{piece_words(b, rng, prefs, diamond=diamond)}"
    if kind == "n":
        what, *more = rest.split(":")
        count = int(more[-1])
        number = rng.choice(NUMBER_WORDS.get(count, (str(count),)))
        if what == "tri":
            verb = _pick(rng, POINT_VERBS[:4], prefs, "point")
            return f"{number} triangles {verb} {_pick(rng, DIRECTION_WORDS[more[0]], prefs, 'dir')}"
        return rng.choice((f"{number} points", f"{number} things sticking out", f"{number} bits poking out",
                           f"{number} pointy parts"))
    if kind == "out":
        part = rng.choice(parts_for(rest))
        where = rng.choice(("on the", "at the", "to the", "on the", "at the", "sticking out to the", "poking out on the",
                            "jutting out to the", "hanging off the", "protruding on the", "extending to the",
                            "coming off the", "near the", "toward the"))
        size = rng.choice(("a", "its", "a", "its", "one", "a little", "a big", "a tiny", "a pointy", "a sharp",
                           "a short", "a thick", "a thin", "a bent", "a crooked", "a stubby", "a small", "a narrow"))
        return f"{size} {part} {where} {_side(rest)}"
    if kind == "letter":
        frame = rng.choice(LETTER_FRAMES)
        return frame.format(L=rest, l=rest.lower())
    if kind == "prop":
        return rng.choice({"tall": ("tall", "skinny", "thin", "narrow", "slim", "lanky"),
                           "wide": ("wide", "squat", "broad", "stubby", "fat")}[rest])
    if kind == "class":
        return rng.choice(THINGS[rest])
    raise ValueError(f"unknown fact {fact!r}")


def _side(direction: str) -> str:
    return {"top left": "upper left", "top right": "upper right", "bottom left": "lower left",
            "bottom right": "lower right"}.get(direction, direction)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _article_word(rng: random.Random) -> str:
    return rng.choice(("a", "the", "the"))


# --------------------------------------------------------------------------- reading facts

_SIZE_OF = {w: size for size, words in SIZE_WORDS.items() for phrase in words for w in [phrase.split()[0]]}
_SIZE_OF.update({"medium": "medium", "mid": "medium", "average": "medium", "normal": "medium"})
_VERTICAL = {"up": "top", "upward": "top", "upwards": "top", "top": "top", "upper": "top", "north": "top",
             "sky": "top", "ceiling": "top", "northwest": "top", "northeast": "top",
             "down": "bottom", "downward": "bottom", "downwards": "bottom", "bottom": "bottom", "lower": "bottom",
             "south": "bottom", "ground": "bottom", "floor": "bottom", "base": "bottom", "southwest": "bottom",
             "southeast": "bottom"}
_HORIZONTAL = {"left": "left", "leftward": "left", "west": "left", "northwest": "left", "southwest": "left",
               "right": "right", "rightward": "right", "east": "right", "northeast": "right", "southeast": "right"}
_SHAPE_OF = {"triangle": "tri", "triangles": "tri", "tri": "tri", "square": "square", "squares": "square",
             "diamond": "square", "parallelogram": "para", "rhombus": "para", "trapezoid": "para",
             "rectangle": "para"}
_POINT_WORDS = frozenset({"pointing", "points", "point", "facing", "aiming", "aimed", "faces"})
_NUMBERS = {w: n for n, words in NUMBER_WORDS.items() for w in words}
_REL_WORDS = {w: rel for rel, words in RELATION_WORDS.items() for w in words
              if w not in ("beside", "next to", "touching")}  # these do not say which side
_REL_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _REL_WORDS), key=len, reverse=True)) + r")\b")
_LETTER_RE = re.compile(
    r"\b(?:letter|capital|lowercase|backwards|like an?|an|shaped like an?) ([a-z])\b(?! (?:bit|lot|little|few))"
    r"|\b(?:an?|the) ([b-hj-z]) shape")
_THING_RE = re.compile(r"\b(" + "|".join(sorted((re.escape(n) for n in _THING_CLASS), key=len, reverse=True))
                       + r")s?\b")
_CANONICAL_NOUNS = frozenset(w for plain, alts in ALTERNATIVES.items() if plain in SHAPE_NAMES
                             for w in (plain, *alts))


def _direction_after(words: Sequence[str], start: int, span: int = 6) -> str | None:
    vertical = horizontal = None
    for w in words[start:start + span]:
        if w in (",", "and", "with") and (vertical or horizontal) and w != "and":
            break
        vertical = vertical or _VERTICAL.get(w)
        horizontal = horizontal or _HORIZONTAL.get(w)
        if w in ("middle", "center", "centre") and not (vertical or horizontal):
            return "middle"
    if vertical and horizontal:
        return f"{vertical} {horizontal}"
    return vertical or horizontal


def _piece_at(words: Sequence[str], i: int) -> str | None:
    """The piece token of the shape noun at ``i`` (with the size word before it)."""
    shape = _SHAPE_OF.get(words[i])
    if shape != "tri":
        return shape
    for w in words[max(0, i - 2):i]:
        if w in _SIZE_OF:
            return {"big": "bigtri", "medium": "medtri", "small": "smalltri"}[_SIZE_OF[w]]
    return "tri"


def read_facts(text: str) -> set[str]:
    """The fact keys an utterance states (lower case words; see ``figure_facts``). Plain and shifted
    population phrases (names, "sticking out at the top") state none: they are read by ``describe``."""
    low = text.lower()
    words = re.findall(r"[a-z0-9]+", low)
    joined = " ".join(words)
    facts: set[str] = set()
    for i, w in enumerate(words):
        token = _SHAPE_OF.get(w)
        if token is None:
            continue
        piece = _piece_at(words, i)
        if w == "diamond":
            facts.add("sq:diamond")
        count = _NUMBERS.get(words[i - 1]) if i and w.endswith("s") else None
        if token == "tri":
            upside = "upside" in words[max(0, i - 5):i]
            if upside:
                size = SIZES.get(piece, "any")
                facts.update({f"tri:{size}:bottom", "tri:any:bottom"})
            after = words[i + 1:i + 5]
            verb = next((k for k, x in enumerate(after) if x in _POINT_WORDS), None)
            if verb is not None:
                direction = _direction_after(words, i + 2 + verb)
                if direction and direction != "middle":
                    if count:
                        facts.add(f"n:tri:{direction}:{count}")
                    else:
                        facts.add(f"tri:{SIZES.get(piece, 'any')}:{direction}")
                        facts.add(f"tri:any:{direction}")
        # "<piece> (is|sits) at/on/in the <region>", "<piece> on top"
        k = i + 1
        while k < len(words) and words[k] in ("is", "sits", "that", "which", "sitting", "right", "shape", "piece", "one", "down"):
            k += 1
        if k < len(words) and words[k] in ("at", "on", "in", "to", "along", "up"):
            if words[k:k + 2] in (["on", "top"], ["up", "top"]) and words[k + 2:k + 3] != ["of"]:
                facts.add(f"at:{piece}:top")
            elif words[k + 1:k + 2] in (["the"], ["its"]) and " ".join(words[k:k + 4]) not in _REL_WORDS \
                    and " ".join(words[k:k + 3]) not in _REL_WORDS:
                region = _direction_after(words, k + 2, 3)
                if region:
                    facts.update(f"at:{piece}:{r}" for r in _regions(region))
    for match in _REL_RE.finditer(joined):
        before = joined[:match.start()].split()
        after = joined[match.end():].split()
        a = next((i for i in range(len(before) - 1, max(-1, len(before) - 4), -1) if before[i] in _SHAPE_OF), None)
        b = next((i for i in range(min(4, len(after))) if after[i] in _SHAPE_OF), None)
        if a is not None and b is not None:
            pa, pb = _piece_at(before, a), _piece_at(after, b)
            if pa in RELATED and pb in RELATED and pa != pb:
                facts.add(f"rel:{pa}:{_REL_WORDS[match.group(1)]}:{pb}")
    for match in _LETTER_RE.finditer(low):
        letter = match.group(1) or match.group(2)
        if letter not in ("a", "i") or "letter" in match.group(0) or "capital" in match.group(0):
            facts.add(f"letter:{letter.upper()}")
            facts.add(f"letter:{letter.lower()}")
    for match in _THING_RE.finditer(joined):
        if match.group(1) not in _CANONICAL_NOUNS:
            facts.add(f"class:{_THING_CLASS[match.group(1)]}")
    for i, w in enumerate(words):
        if w in _PART_WORDS and not _POINT_WORDS & set(words[i + 1:i + 3]):
            direction = _direction_after(words, i + 1, 6)
            if direction and direction != "middle":
                facts.add(f"out:{direction}")
        if w in _NUMBERS and words[i + 1:i + 2] and words[i + 1] in ("points", "things", "bits", "pointy"):
            facts.add(f"n:out:{_NUMBERS[w]}")
    return facts


def fact_score(facts: set[str], true_facts: frozenset[str]) -> float:
    """How well an image's facts fit what was read: +1.5 per true fact (letters: any case), -1 per false one."""
    score = 0.0
    for fact in facts:
        if fact.startswith("letter:"):
            true = fact in true_facts or fact.upper() in {t.upper() for t in true_facts}
            if fact[7:].islower():
                continue  # both cases are read; score a letter once
        elif fact.startswith("tri:tri"):
            continue
        else:
            true = fact in true_facts
        score += 1.5 if true else -1.0
    return score


__all__ = ["PieceView", "pieces_of", "letters_of", "figure_facts", "say_fact", "read_facts", "fact_score",
           "THINGS", "POSES", "PARTS", "poses_for", "parts_for", "piece_words"]
