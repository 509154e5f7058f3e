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

Data: ``amazon_beauty/items.csv`` under ``$SHOPREC_DATA_DIR`` if set, else ``../shared/data``
relative to the repository root. The data itself is never copied into the repository: the
output holds only questions, rules and ASINs.

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
    need("Do you have a vitamin C serum for my face?",
         all=["vitamin c"], any=["serum"]),
    need("I'd like a serum with hyaluronic acid, my skin feels so dehydrated lately",
         all=["hyaluronic"], any=["serum"]),
    need("what do you have for dark circles under my eyes?",
         any=["dark circle", "under eye", "under-eye"]),
    need("Is there a retinol cream I can put on at night?",
         all=["retinol"], any=["night"]),
    need("My eyes look so puffy in the mornings. Anything that helps with puffiness?",
         all=["eye"], any=["puff"]),
    need("I have oily, breakout-prone skin and need a face wash that fights acne",
         all=["acne"], any=["cleanser", "wash", "cleansing"]),
    need("something to fade acne scars",
         any=["acne scar"]),
    need("I want a really high protection sunscreen, SPF 50 or more",
         any=["spf 50", "spf 55", "spf 60", "spf 70", "spf 85", "spf 100", "spf50"]),
    need("Looking for a zinc oxide sunscreen, the mineral kind",
         all=["zinc"], any=["sunscreen", "spf", "sunblock"]),
    need("Can you suggest a gentle cleanser for sensitive skin?",
         all=["sensitive"], any=["cleanser", "wash", "cleansing"]),
    need("a clay face mask to draw out impurities",
         all=["clay"], any=["mask", "masque"]),
    need("Do you sell Dead Sea mud?",
         all=["dead sea"], any=["mud"]),
    need("how do I get rid of blackheads on my nose? what products do you have",
         any=["blackhead"]),
    need("pore strips please",
         any=["pore strip"]),
    need("I'm in my 40s and want a collagen cream to firm things up a bit",
         all=["collagen"], any=["cream", "creme"]),
    need("recommend me a good night cream",
         any=["night cream", "night creme"]),
    need("I need a toner but it has to be alcohol-free, alcohol dries me out",
         all=["toner"], any=["alcohol free", "alcohol-free", "alcoholfree"]),
    need("a refreshing face mist I can spray on during the day",
         any=["facial mist", "face mist", "facial spray", "toner mist", "hydrating mist"]),
    need("I've heard about microneedling. Do you carry derma rollers?",
         any=["derma roller", "dermaroller", "microneedle", "micro needle"]),
    need("looking for an electric facial cleansing brush",
         any=["cleansing brush", "clarisonic"]),
    need("What can I use to even out dark spots and age spots on my cheeks?",
         any=["dark spot", "age spot", "melasma", "hyperpigmentation", "brown spot"]),
    need("My complexion looks dull, is there anything brightening?",
         all=["brightening"]),
    need("tinted moisturizer that also has sunscreen in it",
         all=["tinted moisturizer"], any=["spf"]),
    need("aloe vera gel for sunburn",
         all=["aloe"], any=[" gel"]),
    need("Do you have tea tree oil?",
         all=["tea tree"], any=[" oil"]),
    need("wipes to take my makeup off at night when I'm too tired to wash my face",
         all=["wipe"], any=["makeup", "make-up", "make up", "cleansing"]),
    need("My hands are cracked from washing them all day. Need a hand cream",
         any=["hand cream", "hand creme", "hand lotion", "hand repair"]),
    need("a pumice stone or something to get calluses off my feet",
         any=["pumice", "callus"]),
    need("I need a glycolic acid peel to do at home",
         all=["glycolic"], any=["peel"]),
    need("salicylic acid products for breakouts",
         all=["salicylic"]),
    need("Pure rosehip seed oil for my face?",
         any=["rosehip", "rose hip"]),
    need("100% jojoba oil",
         all=["jojoba oil"]),
    need("any cream for stretch marks after pregnancy?",
         any=["stretch mark"]),
    need("What do you recommend for cellulite on my thighs",
         any=["cellulite"]),
    need("I want a tan without the sun - self tanner suggestions?",
         any=["self tanner", "self-tanner", "self tanning", "self-tanning", "sunless"]),
    need("need a fragrance-free moisturizer, perfumes in skincare irritate me",
         all=["moisturizer"], any=["fragrance free", "fragrance-free", "unscented"]),
    need("Something from Cetaphil for my face",
         all=["cetaphil"]),
    need("I like Olay Regenerist, what do you have from that line?",
         all=["olay"], any=["regenerist"]),
    need("Neutrogena sunscreen",
         all=["neutrogena"], any=["sunscreen", "spf", "sunblock"]),
    need("Which Burt's Bees lip balms do you have?",
         all=["burt's bees"], any=["lip balm", "lip"]),
    need("blemish spot treatment that works overnight",
         any=["spot treatment", "blemish treatment", "spot gel"]),
    need("I'd like an anti-wrinkle eye cream",
         all=["eye cream"], any=["wrinkle", "fine line", "aging", "ageing"]),
    need("Looking for an exfoliating facial scrub",
         all=["scrub"], any=["face", "facial"], none=["body"]),
    # ---- makeup ------------------------------------------------------------------------
    need("I need a mascara that won't run when I cry at weddings",
         all=["mascara"], any=["waterproof", "water proof", "water-proof"]),
    need("Show me matte lipsticks",
         all=["lipstick"], any=["matte"]),
    need("a mineral powder foundation",
         all=["mineral"], any=["foundation"]),
    need("a good concealer to hide blemishes",
         all=["concealer"], none=["brush"]),
    need("bronzer for a sun-kissed look",
         all=["bronzer"], none=["brush"]),
    need("Can I get a powder blush? not a brush, the actual blush",
         all=["blush"], none=["brush"]),
    need("I want an eyeshadow palette with neutral, nude shades",
         all=["palette"], any=["neutral", "nude", "naked"]),
    need("an eyeliner pencil",
         any=["eyeliner", "eye liner"], all=["pencil"]),
    need("I'm after a liquid eyeliner for a sharp wing",
         all=["liquid"], any=["eyeliner", "eye liner"]),
    need("What do you have to fill in my eyebrows?",
         any=["eyebrow", "brow pencil", "brow gel", "brow powder", "brow kit", "brow wax"],
         none=["brush", "tweezer", "razor", "stencil"]),
    need("setting spray so my makeup lasts all day",
         any=["setting spray", "makeup setting", "setting mist", "mist and fix", "makeup mist"]),
    need("a primer for my face before foundation, something for pores",
         all=["primer"], any=["face", "pore", "makeup", "foundation"], none=["nail", "eye"]),
    need("Do you have a highlighter for cheekbones?",
         any=["highlighter", "illuminator"]),
    need("contouring kit",
         all=["contour"]),
    need("lip gloss",
         any=["lip gloss", "lipgloss"]),
    need("lip liner to stop my lipstick bleeding",
         any=["lip liner", "lip pencil", "lipliner"]),
    need("I want to try false eyelashes for a party",
         any=["false eyelash", "false lash", "fake lash", "fake eyelash", "strip lash"]),
    need("what glue should I use for my fake lashes",
         any=["lash adhesive", "lash glue", "eyelash adhesive", "eyelash glue"]),
    need("I need a full set of makeup brushes",
         all=["brush set"], none=["nail"]),
    need("kabuki brush for powder",
         all=["kabuki"]),
    need("makeup sponge like a beauty blender",
         any=["makeup sponge", "blender sponge", "beauty blender", "beautyblender",
              "blending sponge"]),
    need("eyelash curler",
         all=["eyelash curler"]),
    need("Maybelline mascara?",
         all=["maybelline"], any=["mascara"]),
    need("I love Revlon, what lipsticks do you carry from them?",
         all=["revlon"], any=["lipstick"]),
    need("anything from NYX for lips",
         all=["nyx"], any=["lip"]),
    need("e.l.f. brushes, the cheap ones",
         all=["e.l.f"], any=["brush"]),
    need("Urban Decay eyeshadows",
         all=["urban decay"], any=["eyeshadow", "shadow", "palette", "naked"]),
    need("Something to carry my makeup in when I travel",
         any=["makeup bag", "cosmetic bag", "train case", "makeup case", "cosmetic case",
              "makeup organizer", "cosmetic organizer"]),
    need("a lighted makeup mirror",
         all=["mirror"], any=["lighted", "light", "led"]),
    need("BB cream",
         all=["bb cream"]),
    need("Do you have any foundation from Physicians Formula?",
         all=["physicians formula"]),
    # ---- nails ---------------------------------------------------------------------------
    need("need a gift set of nail polish for my daughter",
         any=["nail polish", "nail lacquer", "polish set"], all=["set"], none=["remover only"]),
    need("anything from OPI in red?",
         all=["opi", "red"], none=["tropic", "topica", "micro", "utopia", "gelish"]),
    need("a quick-dry top coat, I never have time to wait",
         all=["top coat"], any=["fast dry", "quick dry", "quick-dry", "fast-dry", "dry"]),
    need("Base coat for my nails",
         all=["base coat"]),
    need("soak-off gel polish I can cure under a lamp",
         any=["gel polish", "gel nail polish", "soak off", "soak-off"]),
    need("a UV or LED lamp to dry gel nails",
         any=["nail dryer", "nail lamp", "uv lamp", "led lamp", "uv light", "led light"],
         none=["mirror"]),
    need("cuticle oil",
         any=["cuticle oil"]),
    need("I need a cuticle pusher or nippers",
         any=["cuticle pusher", "cuticle nipper", "cuticle cutter", "cuticle trimmer"]),
    need("emery boards / nail files",
         any=["nail file", "emery"]),
    need("I'd like to try nail stamping, which plates do you have?",
         any=["stamping plate", "image plate", "stamping kit", "stamping nail art"]),
    need("rhinestones for nail art",
         all=["nail"], any=["rhinestone"]),
    need("an acrylic nail kit for beginners",
         all=["acrylic"], any=["kit"], none=["display"]),
    need("fake nails I can just glue on",
         any=["false nail", "fake nail", "press on", "press-on", "artificial nail"]),
    need("I need pure acetone to soak off my gel manicure",
         all=["acetone"], none=["proof", "none acetone"]),
    need("Gelish soak-off gel colors",
         all=["gelish"], any=["soak off", "soak-off"]),
    need("a manicure set with clippers and everything, for my husband",
         any=["manicure set", "pedicure set", "manicure kit", "pedicure kit", "grooming kit"]),
    need("I'm missing the Shellac base coat and top coat, can I buy those separately?",
         all=["shellac"], any=["top", "base"], none=["lamp", "dryer", "drill", "light"]),
    need("China Glaze polish with glitter",
         all=["china glaze"], any=["glitter", "sparkle"]),
    need("Do you sell crackle / shatter nail polish",
         any=["crackle", "shatter"]),
    need("nail strengthener, my nails keep breaking",
         any=["strengthener", "nail hardener", "nail envy"]),
    # ---- hair care -----------------------------------------------------------------------
    need("I'm looking for a sulfate-free shampoo",
         all=["shampoo"], any=["sulfate free", "sulfate-free", "sulphate free", "no sulfate"]),
    need("shampoo that's made for curly hair",
         all=["shampoo"], any=["curl"]),
    need("any argan oil hair treatments?",
         all=["argan"], any=["hair"]),
    need("dry shampoo for second-day hair",
         all=["dry shampoo"]),
    need("I've got flakes on my shoulders. Something for dandruff?",
         any=["dandruff"]),
    need("my hair is thinning, what can help it grow back",
         any=["hair loss", "thinning hair", "hair regrowth", "hair growth", "thinning"]),
    need("frizz control serum for humid days",
         all=["frizz"], any=["serum", "oil", "cream"]),
    need("leave-in conditioner",
         all=["conditioner"], any=["leave-in", "leave in"]),
    need("heat protectant spray before I flat iron",
         any=["heat protect", "thermal protect", "heat protectant", "heat defense",
              "thermal spray"]),
    need("a deep conditioning hair mask",
         any=["hair mask", "hair masque", "deep condition"]),
    need("keratin treatment to smooth my hair",
         all=["keratin"], any=["treatment"]),
    need("Shampoo that protects colored hair? I just got highlights",
         all=["shampoo"], any=["color protect", "colour protect", "color-treated",
                               "color treated", "color care", "color safe", "colour care"]),
    need("box hair dye to color my hair at home",
         any=["hair dye", "hair color", "haircolor", "hair colour"], none=["brush", "bowl"]),
    need("natural henna",
         all=["henna"]),
    need("coconut oil",
         all=["coconut oil"]),
    need("hairspray with a strong hold",
         any=["hairspray", "hair spray"], all=["hold"]),
    need("A sea salt spray for beachy waves",
         any=["sea salt spray", "texturizing spray", "salt spray", "beach spray"]),
    need("volumizing mousse",
         all=["mousse"]),
    need("my husband wants a pomade or hair wax",
         any=["pomade", "hair wax", "styling wax"]),
    need("John Frieda Frizz-Ease products?",
         all=["john frieda"], any=["frizz"]),
    need("Paul Mitchell shampoo",
         all=["paul mitchell"], any=["shampoo"]),
    need("Moroccanoil",
         all=["moroccanoil"]),
    need("Gentle shampoo for my toddler, tear-free",
         all=["shampoo"], any=["baby", "kids", "children", "tear free", "tear-free"]),
    need("clip-in hair extensions",
         all=["clip"], any=["extension"]),
    need("Do you have lace front wigs?",
         any=["lace front"]),
    need("hair ties / ponytail holders that don't pull",
         any=["ponytail", "scrunchie", "hair tie", "elastics"]),
    need("I want a dry oil for my hair ends, something like argan or macadamia",
         any=["macadamia", "argan"], all=["hair"], none=["shampoo", "conditioner"]),
    need("Something from Redken for my hair",
         all=["redken"]),
    # ---- hair tools ----------------------------------------------------------------------
    need("a ceramic flat iron",
         all=["ceramic"], any=["flat iron", "straightener", "straightening iron"]),
    need("curling wand or curling iron, preferably 1 inch",
         any=["curling iron", "curling wand"]),
    need("an ionic hair dryer that doesn't fry my hair",
         all=["dryer"], any=["ionic"], none=["nail"]),
    need("hot rollers",
         any=["hot roller", "heated roller", "hot sticks"]),
    need("boar bristle hairbrush",
         all=["boar"], none=["emery"]),
    need("a detangling brush or wide-tooth comb for wet hair",
         any=["detangl", "wide tooth", "wide-tooth"]),
    need("diffuser attachment for my blow dryer",
         all=["diffuser"], none=["aroma"]),
    need("Conair curling iron",
         all=["conair"], any=["curling"]),
    need("hair scissors / shears for trimming at home",
         any=["shears", "scissors"], none=["nail", "cuticle", "eyebrow"]),
    # ---- fragrance -----------------------------------------------------------------------
    need("a nice eau de parfum for women, the full size not a sample",
         all=["for women"], any=["eau de parfum"], none=["tester", "mini"]),
    need("a cologne for my dad",
         all=["for men"], any=["cologne", "eau de toilette", "edt"]),
    need("I love vanilla scents - anything vanilla for the body? lotion, body wash, whatever",
         all=["vanilla"], any=["body lotion", "body butter", "body wash", "body cream",
                               "body scrub", "perfume", "body spray", "body mist",
                               "shower gel"]),
    need("a rollerball perfume for my purse",
         any=["rollerball", "roll-on", "roll on"], none=["deodorant"]),
    need("light body mist",
         any=["body mist", "body spray"]),
    need("Calvin Klein fragrance",
         all=["calvin klein"]),
    need("Do you have a musk perfume?",
         all=["musk"]),
    need("lavender essential oil for my diffuser",
         all=["lavender"], any=["essential oil"]),
    need("Versace perfume",
         all=["versace"]),
    # ---- bath & body ---------------------------------------------------------------------
    need("bath bombs or bath salts for a relaxing soak",
         any=["bath salt", "bath bomb", "epsom"]),
    need("a rich body butter",
         any=["body butter"]),
    need("sugar scrub for the body",
         any=["body scrub", "sugar scrub", "salt scrub"]),
    need("loofah or bath sponge",
         any=["loofah", "bath sponge", "shower puff", "bath puff", "luffa", "loofa", "pouf"]),
    need("goat milk soap",
         all=["soap"], any=["goat milk", "goat's milk"]),
    need("bubble bath for the kids' bath time",
         any=["bubble bath", "bath foam"]),
    need("cocoa butter lotion",
         all=["cocoa butter"], any=["lotion"]),
    need("body wash that moisturizes, my skin gets dry in winter",
         any=["body wash", "shower gel"], all=["moistur"]),
    need("a long-handled back brush for the shower",
         any=["back brush", "bath brush", "body brush"]),
    need("talcum or dusting powder",
         any=["dusting powder", "body powder", "talc"]),
    need("deodorant",
         any=["deodorant", "antiperspirant"]),
    need("Dr. Bronner's soap",
         all=["dr. bronner"]),
    # ---- men's grooming ------------------------------------------------------------------
    need("shaving cream for sensitive skin",
         any=["shaving cream", "shave cream", "shave gel", "shaving gel", "shaving soap",
              "shave soap"]),
    need("beard oil or beard balm",
         any=["beard", "mustache", "moustache"]),
    need("a good razor",
         any=["razor"], none=["bump", "eyebrow"]),
    need("face wash for men",
         all=["for men"], any=["face wash", "cleanser", "facial", "scrub"]),
    need("men's moisturizer",
         any=["for men", "men's"], all=["moistur"], none=["women"]),
    need("My teenage son only uses Axe. Which Axe shower gels do you have?",
         all=["axe"], any=["shower gel", "body wash", "bodywash"]),
    # ---- tools ---------------------------------------------------------------------------
    need("a good pair of tweezers",
         any=["tweezer"]),
    need("something to remove facial hair at home",
         any=["hair remov", "epilator", "wax strip", "waxing", "threading"]),
    need("blackhead extractor tool",
         any=["extractor", "comedone"]),
    need("how do I clean my makeup brushes? got a brush cleaner?",
         any=["brush clean"], none=["hair brush"]),
    need("a satin pillowcase for my hair",
         all=["pillowcase"]),
    need("facial steamer",
         all=["steamer"], any=["facial", "face"]),
    need("eyelash extensions kit",
         any=["lash extension", "eyelash extension"]),
]

PRODUCTS = [
    product("Tell me about the OPI Nail Lacquer Big Apple Red",
            "B000O1DHL4", ["opi", "big apple red"]),
    product("Is the Maybelline Great Lash Waterproof Mascara in Very Black any good?",
            "B00008MOQN", ["great lash waterproof"]),
    product("What's the Nivea Touch of Renewal body scrub like? Does it lather?",
            "B0075J4TDI", ["touch of renewal"]),
    product("How does Anais Anais by Cacharel smell?",
            "B00021PDN6", ["anais anais"]),
    product("Is Jovan White Musk for women a cologne or a perfume?",
            "B000VON818", ["jovan white musk"]),
    product("Which brushes come in the Sigma Sigmax Essential Kit?",
            "B008K2EG50", ["sigmax essential"]),
    product("Does the Aveda Smooth Infusion Glossing Straightener actually straighten hair?",
            "B002UBF2YG", ["smooth infusion glossing"]),
    product("tell me more about the 7 Second Eye Lift cream, does it work on dark circles",
            "B008R1JSKW", ["7 second eye lift"]),
    product("What colour is the L'Oreal Telescopic Precision Liquid Eyeliner?",
            "B004BCXAHI", ["telescopic precision liquid eyeliner"]),
    product("Is the L'Oreal Age Perfect Glow Renewal Facial Oil OK for really dry skin?",
            "B00DQG0PJQ", ["age perfect glow renewal facial oil"]),
    product("How big is the jar of Tree Hut Shea Sugar Scrub in Tropical Mango?",
            "B007DGRT3K", ["tree hut", "sugar scrub", "tropical mango"]),
    product("What shade is CND Shellac Dark Lava, more red or brown?",
            "B007EZ2HI2", ["shellac", "dark lava"]),
    product("Does the OPI Red Shatter crackle polish need a base color under it?",
            "B004ZT0SSG", ["red shatter"]),
    product("Can the Conair Xtreme Instant Heat Multisized Hot Rollers handle long thick hair?",
            "B00007M0CP", ["xtreme instant heat multisized"]),
    product("what is the Spark Innovators Hair Bean?",
            "B006J2I65Y", ["hair bean"]),
    product("Is the Betty Dain Satin Pillowcase in King Size sold as a pair?",
            "B004GTIUBC", ["betty dain satin pillowcase", "king size"]),
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
            rows.append({"id": qid, "kind": "need", "question": text,
                         "relevant": rule, "answer_ids": ids})
        elif q["kind"] == "product":
            key = [k.lower() for k in q["key"]]
            for k in key:
                if k not in text.lower():
                    errors.append(f"{qid}: key {k!r} not in question {text!r}")
            hits = match(items, {"all": key, "any": [], "none": []})["item_id"].tolist()
            if hits != [q["target_id"]]:
                errors.append(f"{qid}: key {key} matches {hits}, expected {q['target_id']}")
            rows.append({"id": qid, "kind": "product", "question": text,
                         "target_id": q["target_id"]})
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
    return (f"{len(rows)} questions {kinds}; relevant-set sizes min {min(sizes)} "
            f"median {statistics.median(sizes)} max {max(sizes)}")


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
