"""Generate tests/data/assistant_questions.jsonl, the shopping-assistant evaluation set.

The questions are written by hand below; what this script computes is the ground truth:

* ``need`` questions carry a ``relevant`` rule over lowercased catalog titles. A title is
  relevant when it contains every string in ``all``, at least one string in ``any`` (when
  ``any`` is non-empty) and none of the strings in ``none`` (plain substring matching).
  ``answer_ids`` lists the ASINs of every matching item, in catalog (``item_idx``) order.
  A rule must match between 3 and 150 items, so that the catalog really answers the need
  and the need is not so broad that half the catalog would do.
* ``product`` questions name one real item. ``key`` (kept here, not written out) is the list
  of distinctive title fragments the question uses; every fragment must appear in the
  question, and the target must be the only title containing all of them.
* ``order`` questions are about orders and after-sales; they have no catalog answer.

Data: ``amazon_beauty/items.csv`` under ``$SHOPREC_DATA_DIR`` if set, else the default data
folder (docs/settings.md), relative to the repository root. The data itself is never copied
into the repository: the output holds only questions, rules and ASINs.

Usage::

    python tests/data/make_assistant_questions.py           # write the jsonl
    python tests/data/make_assistant_questions.py --check   # verify the jsonl is up to date
    python tests/data/make_assistant_questions.py --audit   # print matching titles per rule
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT_PATH = Path(__file__).resolve().parent / "assistant_questions.jsonl"
MIN_RELEVANT = 3
MAX_RELEVANT = 150


def data_dir() -> Path:
    env = os.environ.get("SHOPREC_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def need(question, all=(), any=(), none=()):  # noqa: A002 - mirrors the jsonl keys
    return {
        "kind": "need",
        "question": question,
        "relevant": {"all": list(all), "any": list(any), "none": list(none)},
    }


def product(question, target_id, key):
    return {"kind": "product", "question": question, "target_id": target_id, "key": list(key)}


def order(question):
    return {"kind": "order", "question": question}


# Rule strings are matched against lowercased titles. Leading/trailing spaces are deliberate
# where a short word would otherwise hit inside longer words (" oil" vs "foil", "opi" vs
# "tropic").
NEEDS = [
    # ---- skin care ---------------------------------------------------------------------
    need("Do you have a vitamin C serum for my face?", all=["vitamin c"], any=["serum"]),
    need(
        "I'd like a serum with hyaluronic acid, my skin feels so dehydrated lately",
        all=["hyaluronic"],
        any=["serum"],
    ),
    need(
        "what do you have for dark circles under my eyes?",
        any=["dark circle", "under eye", "under-eye"],
    ),
    need("Is there a retinol cream I can put on at night?", all=["retinol"], any=["night"]),
    need(
        "My eyes look so puffy in the mornings. Anything that helps with puffiness?",
        all=["eye"],
        any=["puff"],
    ),
    need(
        "I have oily, breakout-prone skin and need a face wash that fights acne",
        all=["acne"],
        any=["cleanser", " wash"],
        none=["brush head", "mask", "crystals", "sea salts", "remover"],
    ),
    need("something to fade acne scars", any=["acne scar"]),
    need(
        "I want a really high protection sunscreen, SPF 50 or more",
        any=["spf 50", "spf 55", "spf 60", "spf 70", "spf 85", "spf 100", "spf50"],
    ),
    need(
        "Looking for a zinc oxide sunscreen, the mineral kind",
        all=["zinc"],
        any=["sunscreen", "spf", "sunblock"],
    ),
    need(
        "Can you suggest a gentle facial cleanser for sensitive skin?",
        all=["sensitive"],
        any=["cleanser", "face wash", "cleansing bar"],
        none=["brush head", "clay mask", "body wash"],
    ),
    need("a clay face mask to draw out impurities", all=["clay"], any=["mask", "masque"]),
    need("Do you sell Dead Sea mud?", all=["dead sea"], any=["mud"]),
    need("how do I get rid of blackheads on my nose? what products do you have", any=["blackhead"]),
    need(
        "Do you sell those strips you stick on your nose to pull out the gunk?", any=["pore strip"]
    ),
    need(
        "I'm in my 40s and want a collagen cream to firm things up a bit",
        all=["collagen"],
        any=["cream", "creme"],
    ),
    need("recommend me a good night cream", any=["night cream", "night creme"]),
    need(
        "I need a toner but it has to be alcohol-free, alcohol dries me out",
        all=["toner"],
        any=["alcohol free", "alcohol-free", "alcoholfree"],
    ),
    need(
        "a refreshing face mist I can spray on during the day",
        any=["facial mist", "face mist", "facial spray", "toner mist", "hydrating mist"],
    ),
    need(
        "I've heard about microneedling. Do you carry derma rollers?",
        any=["derma roller", "dermaroller", "microneedle", "micro needle"],
        none=["serum", "hair extension"],
    ),
    need(
        "looking for an electric facial cleansing brush, like a Clarisonic",
        any=["cleansing brush", "clarisonic"],
        none=["cleanser", "polish", "brush head"],
    ),
    need(
        "What can I use to even out dark spots and age spots on my cheeks?",
        any=["dark spot", "age spot", "melasma", "hyperpigmentation", "brown spot"],
    ),
    need(
        "My complexion looks dull, is there anything brightening?",
        all=["brightening"],
        none=["shampoo", "conditioner"],
    ),
    need(
        "tinted moisturizer that also has sunscreen in it", all=["tinted moisturizer"], any=["spf"]
    ),
    need(
        "I got burnt at the beach - got any aloe vera gel?",
        all=["aloe"],
        any=[" gel"],
        none=["eye", "hand", "peel", "serum", "hair"],
    ),
    need(
        "Do you have pure tea tree oil?",
        all=["tea tree"],
        any=[" oil"],
        none=[
            "remover",
            "peel",
            "soap",
            "shampoo",
            "cleanser",
            "buffer",
            "conditioner",
            "lavender",
        ],
    ),
    need(
        "wipes to take my makeup off at night when I'm too tired to wash my face",
        all=["wipe"],
        any=["makeup", "make-up", "make up", "cleansing"],
        none=["washcloth"],
    ),
    need(
        "My hands are cracked from washing them all day. Need a hand cream",
        any=["hand cream", "hand creme", "hand lotion", "hand repair"],
    ),
    need(
        "a pumice stone or something to get calluses off my feet",
        any=["pumice", "callus"],
        none=["drill", "facial brush", "replacement heads"],
    ),
    need(
        "I need a glycolic acid peel to do at home", all=["glycolic"], any=["peel"], none=["brush"]
    ),
    need("salicylic acid products for breakouts", all=["salicylic"]),
    need("Pure rosehip seed oil for my face?", any=["rosehip", "rose hip"]),
    need(
        "I'm looking for plain jojoba oil, nothing added, to use as a moisturizer",
        all=["jojoba oil"],
        none=["serum", "cocoa", "argan", "creme", "cream", "vanilla", "moisturizer"],
    ),
    need("anything that helps with stretch marks after pregnancy?", any=["stretch mark"]),
    need("What do you recommend for cellulite on my thighs", any=["cellulite"]),
    need(
        "I want a tan without the sun - self tanner suggestions?",
        any=["self tanner", "self-tanner", "self tanning", "self-tanning", "sunless"],
    ),
    need(
        "need a fragrance-free moisturizer, perfumes in skincare irritate me",
        all=["moisturizer"],
        any=["fragrance free", "fragrance-free", "unscented"],
    ),
    need("Something from Cetaphil for my face", all=["cetaphil"]),
    need(
        "I like Olay Regenerist, what do you have from that line?", all=["olay"], any=["regenerist"]
    ),
    need(
        "which Neutrogena products have SPF? I'm loyal to the brand",
        all=["neutrogena"],
        any=["sunscreen", "spf", "sunblock"],
    ),
    need("Anything from Burt's Bees for lips?", all=["burt's bees"], any=["lip"]),
    need(
        "blemish spot treatment for the odd pimple",
        any=["spot treatment", "blemish treatment", "spot gel"],
    ),
    need(
        "I'd like an anti-wrinkle eye cream",
        all=["eye cream"],
        any=["wrinkle", "fine line", "aging", "ageing"],
    ),
    need(
        "Looking for an exfoliating scrub for my face - not a body scrub",
        all=["scrub"],
        any=["face", "facial"],
        none=["body", "scrubber", "scrubbies", "mask"],
    ),
    # ---- makeup ------------------------------------------------------------------------
    need(
        "I need a mascara that won't run when I cry at weddings",
        all=["mascara"],
        any=["waterproof", "water proof", "water-proof"],
    ),
    need(
        "Show me lipsticks with a matte finish, I hate shiny lips", all=["lipstick"], any=["matte"]
    ),
    need(
        "a mineral powder foundation",
        all=["mineral"],
        any=["foundation"],
        none=["brush", "primer", "mist"],
    ),
    need("I need a concealer to cover up a couple of blemishes", all=["concealer"], none=["brush"]),
    need(
        "bronzer for a sun-kissed look",
        all=["bronzer"],
        none=[
            "brush",
            "tanning",
            "lotion",
            "spray",
            "designer skin",
            "supre",
            "australian gold",
            "snooki",
            "body bronzer",
            "tanner",
            "13.5",
            "kit",
            "intensifier",
            "sublime bronze",
        ],
    ),
    need(
        "I need a blush for my cheeks, powder or cream",
        all=["blush"],
        none=["brush", "lip", "shampoo", "sigma f"],
    ),
    need(
        "I want an eyeshadow palette with neutral, nude shades",
        all=["palette"],
        any=["neutral", "nude", "naked"],
    ),
    need(
        "an eyeliner pencil, I find liquid liner too hard",
        any=["eyeliner", "eye liner"],
        all=["pencil"],
    ),
    need(
        "I'm after a liquid eyeliner for a sharp wing",
        all=["liquid"],
        any=["eyeliner", "eye liner"],
    ),
    need(
        "What do you have to fill in my eyebrows?",
        any=[
            "brow pencil",
            "brow powder",
            "brow gel",
            "brow kit",
            "eyebrow cake",
            "eyebrow pen",
            "eyebrow marker",
            "eyebrow filler",
            "ultra-brow",
            "auto eyebrow",
            "professional eyebrow",
            "eyebrow kit",
            "brow pomade",
        ],
        none=["eyeliner"],
    ),
    need(
        "setting spray so my makeup lasts all day",
        any=["setting spray", "makeup setting", "setting mist", "mist and fix", "makeup mist"],
    ),
    need(
        "a primer for my face before foundation, something for pores",
        all=["primer"],
        any=["face", "pore", "makeup", "foundation"],
        none=["nail", "eye"],
    ),
    need(
        "Do you have a highlighter for cheekbones?",
        any=["highlighter", "illuminator"],
        none=["sigma f"],
    ),
    need(
        "I want to learn contouring - is there a kit or palette for beginners?",
        all=["contour"],
        any=["kit", "palette", "powder", "contouring blush"],
        none=["brush", "cream", "clip", "cleansing"],
    ),
    need("a shiny lip gloss for everyday", any=["lip gloss", "lipgloss"], none=["lip brush"]),
    need(
        "lip liner to stop my lipstick bleeding",
        any=["lip liner", "lip pencil", "lipliner"],
        none=["sharpener", "brush"],
    ),
    need(
        "I want to try false eyelashes for a party",
        any=["false eyelash", "false lash", "fake lash", "fake eyelash", "strip lash"],
        none=["mascara", "applicator", "lashgrip", "eyelashes glue", "eyelashes makeup glue"],
    ),
    need(
        "what glue should I use for my fake lashes",
        any=["lash adhesive", "lash glue", "eyelash adhesive", "eyelash glue"],
        none=["remover"],
    ),
    need(
        "I'm starting out with makeup and need a whole set of brushes",
        all=["brush set"],
        none=["nail", "hair", "conair", "dye", "mascara", "facial", "macadamia", "cushion"],
    ),
    need(
        "What kabuki brushes do you have? I use loose powder",
        all=["kabuki"],
        none=["tokyo milk", "brush guard"],
    ),
    need(
        "makeup sponge like a beauty blender",
        any=[
            "makeup sponge",
            "blender sponge",
            "beauty blender",
            "beautyblender",
            "blending sponge",
        ],
        none=["solid blendercleanser"],
    ),
    need("my lashes are totally straight, need an eyelash curler", all=["eyelash curler"]),
    need("Maybelline mascara?", all=["maybelline"], any=["mascara"]),
    need("I love Revlon, what lipsticks do you carry from them?", all=["revlon"], any=["lipstick"]),
    need("anything from NYX for lips", all=["nyx"], any=["lip"]),
    need(
        "e.l.f. brushes, the cheap ones",
        all=["e.l.f"],
        any=["brush"],
        none=["shampoo", "cleaner", "holder", "powder with brush", "kit"],
    ),
    need(
        "Urban Decay eyeshadows, like the Naked palettes",
        all=["urban decay"],
        any=["eyeshadow", "shadow", "palette", "naked"],
    ),
    need(
        "Something to carry my makeup in when I travel",
        any=[
            "makeup bag",
            "cosmetic bag",
            "train case",
            "makeup case",
            "cosmetic case",
            "makeup organizer",
            "cosmetic organizer",
        ],
        none=[
            "display",
            "lattices",
            "drawer",
            "makeup set",
            "brushes set",
            "lip gloss",
            "packing cubes",
        ],
    ),
    need(
        "a makeup mirror with lights around it",
        all=["mirror"],
        any=["lighted", "light", "led"],
        none=["fog"],
    ),
    need("Is there a BB cream? I want light coverage, not a full foundation", all=["bb cream"]),
    need("What do you carry from Physicians Formula?", all=["physicians formula"]),
    # ---- nails ---------------------------------------------------------------------------
    need(
        "need a gift set of nail polish for my daughter",
        any=["nail polish", "nail lacquer", "polish set"],
        all=["set"],
        none=["sunset"],
    ),
    need(
        "anything from OPI in red?",
        all=["opi", "red"],
        none=["tropic", "topica", "micro", "utopia", "gelish"],
    ),
    need(
        "a quick-dry top coat, I never have time to wait",
        all=["top coat"],
        any=["fast dry", "quick dry", "quick-dry", "fast-dry", "dry"],
    ),
    need("my polish keeps chipping after a day, what base coat would help?", all=["base coat"]),
    need(
        "soak-off gel polish I can cure under a lamp",
        any=["gel polish", "gel nail polish", "soak off", "soak-off"],
        none=["remover", "lamp", "dryer", "wraps"],
    ),
    need(
        "a UV or LED lamp to dry gel nails",
        all=["nail"],
        any=[
            "lamp",
            "gel light",
            "uv light",
            "led light",
            "uv nail dryer",
            "uv curing",
            "nail dryer",
        ],
        none=[
            "drill",
            "spray",
            "enamel",
            "quicken",
            "anti-uv gloves for",
            "bulb",
            "tube",
            "polish set",
            "manicure collection",
            "lightening",
            "shellac top",
            "lighted",
            "pen",
            "display",
            "fan",
            "blower",
            "portable drying",
            "spa single hand",
        ],
    ),
    need("My cuticles are so dry and ragged. Do you sell cuticle oil?", any=["cuticle oil"]),
    need(
        "I need a cuticle pusher or nippers",
        any=["cuticle pusher", "cuticle nipper", "cuticle cutter", "cuticle trimmer"],
    ),
    need("emery boards / nail files", any=["nail file", "emery"], none=["drill"]),
    need(
        "I'd like to try nail stamping, which plates do you have?",
        any=["stamping plate", "image plate", "stamping kit", "stamping nail art"],
    ),
    need("little rhinestones to glue onto my nails", all=["nail"], any=["rhinestone"]),
    need(
        "an acrylic nail kit for beginners",
        all=["acrylic", "kit"],
        any=["powder", "liquid", "sculpture", "sassi"],
        none=["drill", "display"],
    ),
    need(
        "fake nails I can just glue on",
        any=["false nail", "fake nail", "artificial nail", "fake fingernail"],
        none=[
            "remover",
            "clipper",
            "cutter",
            "display",
            "practice",
            "fan",
            "board",
            "monomer",
            "polymer",
        ],
    ),
    need(
        "I need pure acetone to soak off my gel manicure",
        all=["acetone"],
        none=["proof", "none acetone"],
    ),
    need(
        "Which Gelish colors do you have?",
        all=["gelish"],
        any=["soak off", "soak-off"],
        none=["remover", "dryer"],
    ),
    need(
        "a manicure and pedicure kit as a gift for my husband",
        any=["manicure set", "pedicure set", "manicure kit", "pedicure kit", "grooming kit"],
        none=["polish", "french", "drill", "nail files", "gel"],
    ),
    need(
        "I'm missing the Shellac base coat and top coat, can I buy those separately?",
        all=["shellac"],
        any=["top", "base"],
        none=["lamp", "dryer", "drill", "light"],
    ),
    need(
        "China Glaze polish with sparkles or glitter",
        all=["china glaze"],
        any=["glitter", "sparkle"],
    ),
    need(
        "Do you sell crackle / shatter nail polish",
        any=["crackle", "shatter"],
        none=["shatterproof"],
    ),
    need(
        "nail strengthener, my nails keep breaking",
        all=["nail"],
        any=["strengthener", "hardener", "nail envy"],
        none=["argan"],
    ),
    # ---- hair care -----------------------------------------------------------------------
    need(
        "I'm looking for a sulfate-free shampoo",
        all=["shampoo"],
        any=["sulfate free", "sulfate-free", "sulphate free", "no sulfate"],
    ),
    need("shampoo that's made for curly hair", all=["shampoo"], any=["curl"]),
    need(
        "any argan oil hair treatments?",
        all=["argan"],
        any=["hair"],
        none=["flat iron", "straightener", "comb"],
    ),
    need("dry shampoo for second-day hair when I don't have time to wash", all=["dry shampoo"]),
    need("I've got flakes on my shoulders. Something for dandruff?", any=["dandruff"]),
    need(
        "my hair is thinning, what can help it grow back",
        any=["hair loss", "thinning hair", "hair regrowth", "hair growth", "thinning"],
        none=["roller", "needle", "bronzer", "inhibitor", "shears", "scissors"],
    ),
    need("frizz control serum for humid days", all=["frizz"], any=["serum", "oil", "cream"]),
    need(
        "leave-in conditioner for detangling my daughter's hair",
        all=["conditioner"],
        any=["leave-in", "leave in"],
    ),
    need(
        "What should I spray on before I flat iron so I don't fry my hair?",
        any=["heat protect", "thermal protect", "heat protectant", "heat defense", "thermal spray"],
    ),
    need(
        "a deep conditioning hair mask for bleached, dry ends",
        any=["hair mask", "hair masque", "deep condition"],
    ),
    need("keratin treatment to smooth my hair", all=["keratin"], any=["treatment"]),
    need(
        "Shampoo that protects colored hair? I just got highlights",
        all=["shampoo"],
        any=[
            "color protect",
            "colour protect",
            "color-treated",
            "color treated",
            "color care",
            "color safe",
            "colour care",
        ],
        none=["dry shampoo"],
    ),
    need(
        "box hair dye to color my hair at home",
        any=["hair dye", "hair color", "haircolor", "hair colour"],
        none=["brush", "bowl"],
    ),
    need("Do you have natural henna to dye my hair red?", all=["henna"]),
    need(
        "pure coconut oil for my hair and skin",
        all=["coconut oil"],
        none=["argan", "anti-aging", "mask", "capsule", "hair milk", "hair shine"],
    ),
    need(
        "hairspray with a strong hold that lasts through a wedding",
        any=["hairspray", "hair spray"],
        all=["hold"],
    ),
    need(
        "A sea salt spray for beachy waves",
        any=["sea salt spray", "texturizing spray", "salt spray", "beach spray"],
    ),
    need(
        "My hair is fine and flat, I need a mousse that gives volume",
        all=["mousse"],
        any=["volum", "hair mousse", "styling mousse", "volume"],
    ),
    need(
        "my husband wants a pomade or hair wax",
        any=["pomade", "hair wax", "styling wax"],
        none=["brow"],
    ),
    need("John Frieda Frizz-Ease products?", all=["john frieda"], any=["frizz"]),
    need(
        "Paul Mitchell shampoo - the tea tree one or any other",
        all=["paul mitchell"],
        any=["shampoo"],
    ),
    need("I want to try Moroccanoil, what do you stock?", all=["moroccanoil"]),
    need(
        "Gentle shampoo for my toddler, tear-free",
        all=["shampoo"],
        any=["baby", "kids", "children", "tear free", "tear-free"],
    ),
    need(
        "clip-in hair extensions to add length for prom",
        all=["clip"],
        any=["extension"],
        none=["eyelash"],
    ),
    need("Do you have lace front wigs?", any=["lace front"]),
    need(
        "hair ties that don't snag or pull my hair out",
        any=["ponytail", "scrunchie", "hair tie", "elastics"],
        none=["hairpiece", "wig", "maker", "hair design"],
    ),
    need(
        "Anything with macadamia oil for dry, damaged hair?",
        all=["macadamia"],
        none=["shampoo", "conditioner", "brush", "comb", "travel set"],
    ),
    need("Something from Redken for my hair", all=["redken"]),
    # ---- hair tools ----------------------------------------------------------------------
    need(
        "a ceramic flat iron that won't damage my hair",
        all=["ceramic"],
        any=["flat iron", "straightener", "straightening iron"],
    ),
    need(
        "I want to curl my hair - do you have a curling wand or a regular curling iron?",
        any=["curling iron", "curling wand"],
        none=["holder"],
    ),
    need(
        "an ionic hair dryer that doesn't fry my hair", all=["dryer"], any=["ionic"], none=["nail"]
    ),
    need("hot rollers for big bouncy curls", any=["hot roller", "heated roller", "hot sticks"]),
    need(
        "a proper boar bristle hairbrush to distribute oils",
        all=["boar"],
        none=["board", "bath", "long handle", "emery"],
    ),
    need(
        "a detangling brush or comb that works on wet hair",
        all=["detangl"],
        any=["brush", "comb", "teezer"],
        none=["spray", "conditioner", "lotion", "shampoo"],
    ),
    need(
        "I have curly hair - is there a diffuser attachment for my blow dryer?",
        all=["diffuser"],
        none=["aroma"],
    ),
    need("Does Conair make a curling iron you carry?", all=["conair"], any=["curling"]),
    need(
        "hair scissors / shears for trimming bangs at home",
        any=["shears", "scissors"],
        none=["nail", "cuticle", "brow"],
    ),
    # ---- fragrance -----------------------------------------------------------------------
    need(
        "a nice eau de parfum for women, the full size not a sample",
        all=["for women"],
        any=["eau de parfum"],
        none=["tester", "mini"],
    ),
    need(
        "Father's Day is coming - a cologne for my dad?",
        all=["for men"],
        any=["cologne", "eau de toilette", "edt"],
    ),
    need(
        "I love vanilla scents - anything vanilla for the body? lotion, body wash, whatever",
        all=["vanilla"],
        any=[
            "body lotion",
            "body butter",
            "body wash",
            "body cream",
            "body scrub",
            "perfume",
            "body spray",
            "body mist",
            "shower gel",
        ],
    ),
    need(
        "a little roll-on perfume I can keep in my purse",
        any=["rollerball", "roll-on", "roll on"],
        none=["deodorant", "wax", "adhesive", "bottle", "tea tree", "peel"],
    ),
    need(
        "a light body mist to spritz on after the gym",
        any=["body mist", "body spray"],
        none=["sunblock", "acne", "body clear"],
    ),
    need("Calvin Klein fragrance - what do you have?", all=["calvin klein"]),
    need("Do you have a musk perfume?", all=["musk"]),
    need(
        "pure essential oils for my diffuser",
        any=["essential oil"],
        none=["bath soak", "soap", "body wash", "shea butter", "carrier oil", "keracare"],
    ),
    need("Versace perfume as a birthday present", all=["versace"]),
    # ---- bath & body ---------------------------------------------------------------------
    need("bath bombs or bath salts for a relaxing soak", any=["bath salt", "bath bomb", "epsom"]),
    need("My legs get super dry - do you have a rich body butter?", any=["body butter"]),
    need(
        "a sugar or salt scrub for my body",
        any=["body scrub", "sugar scrub", "salt scrub"],
        none=["scrubber", "tool", "mitten"],
    ),
    need(
        "loofah or bath sponge",
        any=[
            "loofah",
            "bath sponge",
            "shower puff",
            "bath puff",
            "luffa",
            "loofa",
            "mesh pouf",
            "ecopouf",
        ],
        none=["brush", "pony"],
    ),
    need("goat milk soap, my eczema likes it", all=["soap"], any=["goat milk", "goat's milk"]),
    need(
        "bubble bath for a long soak after work", any=["bubble bath", "bath foam"], none=["lacquer"]
    ),
    need(
        "cocoa butter lotion, the big bottle kind",
        all=["cocoa butter"],
        any=["lotion"],
        none=["hair remover"],
    ),
    need(
        "body wash that moisturizes, my skin gets dry in winter",
        any=["body wash", "shower gel"],
        all=["moistur"],
    ),
    need(
        "a long-handled back brush for the shower",
        any=["back brush", "bath brush", "body brush"],
        none=["facial"],
    ),
    need(
        "old-fashioned talcum or dusting powder",
        any=["dusting powder", "body powder", "talc"],
        none=["talc-free"],
    ),
    need(
        "I need a new deodorant",
        any=["deodorant", "antiperspirant"],
        none=["caplet", "powder", "soap", "gift set"],
    ),
    need("What Dr. Bronner's products do you carry?", all=["dr. bronner"]),
    # ---- men's grooming ------------------------------------------------------------------
    need(
        "shaving cream or gel, whatever gives a close shave",
        any=[
            "shaving cream",
            "shave cream",
            "shave gel",
            "shaving gel",
            "shaving soap",
            "shave soap",
        ],
        none=["bowl", "post shave", "aftershave"],
    ),
    need("anything for my beard?", any=["beard", "mustache", "moustache"]),
    need(
        "which razors do you have?",
        any=["razor"],
        none=["bump", "eyebrow", "mirror", "shears", "pre-shave"],
    ),
    need(
        "my boyfriend needs a face wash, something made for men",
        all=["for men"],
        any=["face wash", "cleanser", "facial", "scrub"],
        none=["mask", "body", "moisturizer", "serum", "argan", "phytoceramides"],
    ),
    need("a moisturizer made for men", any=["for men", "men's"], all=["moistur"], none=["women"]),
    need(
        "My teenage son only uses Axe. Which Axe shower gels do you have?",
        all=["axe"],
        any=["shower gel", "body wash", "bodywash"],
    ),
    # ---- tools ---------------------------------------------------------------------------
    need("I trust Tweezerman - what tools do you have from them?", all=["tweezerman"]),
    need(
        "something to remove unwanted hair at home",
        any=["hair remov", "epilator", "wax strip", "waxing", "threading"],
    ),
    need("one of those metal tools for pushing out blackheads", any=["extractor", "comedone"]),
    need(
        "how do I clean my makeup brushes? got a brush cleaner?",
        any=["brush clean"],
        none=["hair brush", "nail", "airbrush", "supernail"],
    ),
    need("Satin pillowcase so my hair doesn't frizz overnight", all=["pillowcase"]),
    need("a facial steamer for at-home facials", all=["steamer"], any=["facial", "face"]),
    need("supplies for doing eyelash extensions", any=["lash extension", "eyelash extension"]),
]

PRODUCTS = [
    product(
        "Tell me about the OPI Nail Lacquer Big Apple Red", "B000O1DHL4", ["opi", "big apple red"]
    ),
    product(
        "Is the Maybelline Great Lash Waterproof Mascara in Very Black any good?",
        "B00008MOQN",
        ["great lash waterproof"],
    ),
    product(
        "What's the Nivea Touch of Renewal body scrub like? Does it lather?",
        "B0075J4TDI",
        ["touch of renewal"],
    ),
    product("How does Anais Anais by Cacharel smell?", "B00021PDN6", ["anais anais"]),
    product(
        "Is Jovan White Musk for women a cologne or a perfume?", "B000VON818", ["jovan white musk"]
    ),
    product(
        "Which brushes come in the Sigma Sigmax Essential Kit?", "B008K2EG50", ["sigmax essential"]
    ),
    product(
        "Does the Aveda Smooth Infusion Glossing Straightener actually straighten hair?",
        "B002UBF2YG",
        ["smooth infusion glossing"],
    ),
    product(
        "tell me more about the 7 Second Eye Lift cream, does it work on dark circles",
        "B008R1JSKW",
        ["7 second eye lift"],
    ),
    product(
        "What colour is the L'Oreal Telescopic Precision Liquid Eyeliner?",
        "B004BCXAHI",
        ["telescopic precision liquid eyeliner"],
    ),
    product(
        "Is the L'Oreal Age Perfect Glow Renewal Facial Oil OK for really dry skin?",
        "B00DQG0PJQ",
        ["age perfect glow renewal facial oil"],
    ),
    product(
        "How big is the jar of Tree Hut Shea Sugar Scrub in Tropical Mango?",
        "B007DGRT3K",
        ["tree hut", "sugar scrub", "tropical mango"],
    ),
    product(
        "What shade is CND Shellac Dark Lava, more red or brown?",
        "B007EZ2HI2",
        ["shellac", "dark lava"],
    ),
    product(
        "Does the OPI Red Shatter crackle polish need a base color under it?",
        "B004ZT0SSG",
        ["red shatter"],
    ),
    product(
        "Can the Conair Xtreme Instant Heat Multisized Hot Rollers handle long thick hair?",
        "B00007M0CP",
        ["xtreme instant heat multisized"],
    ),
    product("what is the Spark Innovators Hair Bean?", "B006J2I65Y", ["hair bean"]),
    product(
        "Is the Betty Dain Satin Pillowcase in King Size sold as a pair?",
        "B004GTIUBC",
        ["betty dain satin pillowcase", "king size"],
    ),
]

ORDERS = [
    order("Where is my order?"),
    order("How do I return a lipstick I bought? The shade is totally wrong."),
    order("Can I cancel my purchase? I ordered it by mistake an hour ago."),
    order("my package arrived damaged, the bottle leaked everywhere"),
    order("It's been two weeks and my shampoo still hasn't shown up. Can you check the tracking?"),
    order("I was charged twice for the same order"),
    order("How long does shipping usually take?"),
    order("Can I change the delivery address on an order I already placed?"),
    order("I got the wrong item - I ordered the 8 oz and received the travel size"),
    order("when will I get my refund?"),
    order("Do you ship internationally? I'm in Canada"),
    order("One of the items in my box was missing"),
    order("can I exchange a foundation for a lighter shade?"),
]


def load_items() -> pd.DataFrame:
    path = data_dir() / "amazon_beauty" / "items.csv"
    items = pd.read_csv(path, dtype={"item_id": str})
    items = items.sort_values("item_idx").reset_index(drop=True)
    items["t"] = items["title"].fillna("").str.lower()
    return items


def match(items: pd.DataFrame, rule: dict) -> pd.DataFrame:
    mask = pd.Series(True, index=items.index)
    for s in rule["all"]:
        mask &= items["t"].str.contains(s, regex=False)
    if rule["any"]:
        hit = pd.Series(False, index=items.index)
        for s in rule["any"]:
            hit |= items["t"].str.contains(s, regex=False)
        mask &= hit
    for s in rule["none"]:
        mask &= ~items["t"].str.contains(s, regex=False)
    return items[mask]


def build(items: pd.DataFrame) -> list[dict]:
    errors = []
    rows = []
    questions = NEEDS + PRODUCTS + ORDERS
    seen = set()
    for i, q in enumerate(questions, start=1):
        qid = f"q{i:03d}"
        text = q["question"].strip()
        if text.lower() in seen:
            errors.append(f"{qid}: duplicate question {text!r}")
        seen.add(text.lower())
        if q["kind"] == "need":
            rule = q["relevant"]
            for s in rule["all"] + rule["any"] + rule["none"]:
                if not s or s != s.lower():
                    errors.append(f"{qid}: rule string {s!r} must be non-empty lowercase")
            ids = match(items, rule)["item_id"].tolist()
            if not MIN_RELEVANT <= len(ids) <= MAX_RELEVANT:
                errors.append(f"{qid}: {len(ids)} relevant items for {text!r}")
            rows.append(
                {"id": qid, "kind": "need", "question": text, "relevant": rule, "answer_ids": ids}
            )
        elif q["kind"] == "product":
            key = [k.lower() for k in q["key"]]
            for k in key:
                if k not in text.lower():
                    errors.append(f"{qid}: key {k!r} not in question {text!r}")
            hits = match(items, {"all": key, "any": [], "none": []})["item_id"].tolist()
            if hits != [q["target_id"]]:
                errors.append(f"{qid}: key {key} matches {hits}, expected {q['target_id']}")
            rows.append(
                {"id": qid, "kind": "product", "question": text, "target_id": q["target_id"]}
            )
        else:
            rows.append({"id": qid, "kind": "order", "question": text})
    if errors:
        raise SystemExit("invalid question set:\n  " + "\n  ".join(errors))
    return rows


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def summary(rows: list[dict]) -> str:
    kinds = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    sizes = [len(r["answer_ids"]) for r in rows if r["kind"] == "need"]
    return (
        f"{len(rows)} questions {kinds}; relevant-set sizes min {min(sizes)} "
        f"median {statistics.median(sizes)} max {max(sizes)}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the jsonl is out of date")
    ap.add_argument("--audit", action="store_true", help="print the titles each rule matches")
    ap.add_argument("--out", type=Path, default=OUT_PATH)
    args = ap.parse_args(argv)
    items = load_items()
    if args.audit:
        for q in NEEDS:
            m = match(items, q["relevant"])
            print(f"== [{len(m)}] {q['question']}  {q['relevant']}")
            for t in m["title"]:
                print("     ", str(t)[:150])
        return 0
    rows = build(items)
    text = render(rows)
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; rerun without --check", file=sys.stderr)
            return 1
        print(summary(rows))
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}: {summary(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
