"""The synthetic shop's vocabulary: categories with their products and wording, brands, price
tiers and review phrases. Data only; :mod:`shoprec.data.synthetic` draws from it."""

from __future__ import annotations

# category -> (median price, {sub-category: product nouns}, adjectives, benefits, sizes)
CATALOG_TEXT: dict[str, tuple[float, dict[str, list[str]], list[str], list[str], list[str]]] = {
    "Skin Care": (
        24.0,
        {
            "Moisturizers": ["Face Cream", "Night Cream", "Gel Moisturizer"],
            "Cleansers": ["Foaming Cleanser", "Cleansing Balm", "Micellar Water"],
            "Serums": ["Vitamin C Serum", "Hyaluronic Serum", "Retinol Serum"],
        },
        ["Hydrating", "Brightening", "Soothing", "Daily", "Overnight", "Gentle"],
        ["locks in moisture for 24 hours", "evens out skin tone", "calms redness and dryness"],
        ["30 ml", "50 ml", "1.7 oz"],
    ),
    "Makeup": (
        16.0,
        {
            "Face": ["Foundation", "Concealer", "Setting Powder"],
            "Eyes": ["Mascara", "Eyeliner", "Eyeshadow Palette"],
            "Lips": ["Lipstick", "Lip Gloss", "Lip Liner"],
        },
        ["Matte", "Long-Wear", "Volumizing", "Satin", "Waterproof", "Sheer"],
        [
            "stays put from morning to night",
            "blends easily without streaks",
            "builds from sheer to full",
        ],
        ["0.3 oz", "1 fl oz", "8 g"],
    ),
    "Hair Care": (
        14.0,
        {
            "Shampoo": ["Shampoo", "Clarifying Shampoo", "Dry Shampoo"],
            "Conditioner": ["Conditioner", "Hair Mask", "Leave-In Conditioner"],
            "Styling": ["Hair Oil", "Curl Cream", "Texturizing Spray"],
        },
        ["Repairing", "Color-Safe", "Smoothing", "Volumizing", "Sulfate-Free", "Nourishing"],
        [
            "repairs dry and damaged ends",
            "tames frizz in humid weather",
            "adds body without residue",
        ],
        ["250 ml", "8.5 fl oz", "1 L"],
    ),
    "Fragrance": (
        55.0,
        {
            "Women": ["Eau de Parfum", "Body Mist", "Perfume Oil"],
            "Men": ["Eau de Toilette", "Cologne", "Aftershave Balm"],
        },
        ["Floral", "Woody", "Citrus", "Fresh", "Amber", "Musky"],
        [
            "opens with bergamot and settles into cedar",
            "lasts through the day",
            "blends jasmine with soft vanilla",
        ],
        ["50 ml", "100 ml", "3.4 oz"],
    ),
    "Bath & Body": (
        11.0,
        {
            "Body Wash": ["Body Wash", "Shower Gel", "Bath Soak"],
            "Body Lotion": ["Body Lotion", "Body Butter", "Hand Cream"],
            "Scrubs": ["Sugar Scrub", "Salt Scrub", "Exfoliating Mitt"],
        },
        ["Shea", "Coconut", "Lavender", "Unscented", "Whipped", "Mineral"],
        [
            "leaves skin soft and smooth",
            "rinses clean with a light scent",
            "polishes away rough patches",
        ],
        ["200 ml", "16 oz", "400 ml"],
    ),
    "Nails": (
        9.0,
        {
            "Nail Polish": ["Nail Polish", "Gel Polish", "Top Coat"],
            "Nail Care": ["Cuticle Oil", "Nail Strengthener", "Polish Remover"],
        },
        ["Glossy", "Quick-Dry", "Chip-Resistant", "Shimmer", "Nude", "Crimson"],
        ["dries in under a minute", "resists chips for a week", "strengthens brittle nails"],
        ["0.5 fl oz", "15 ml", "10 ml"],
    ),
    "Tools & Accessories": (
        18.0,
        {
            "Brushes": ["Foundation Brush", "Brush Set", "Blending Sponge"],
            "Hair Tools": ["Hair Dryer", "Flat Iron", "Curling Wand"],
        },
        ["Professional", "Compact", "Travel", "Ionic", "Ceramic", "Vegan"],
        ["gives an even finish every time", "heats up in seconds", "folds away for travel"],
        ["1 piece", "set of 5", "set of 12"],
    ),
    "Men's Grooming": (
        15.0,
        {
            "Shaving": ["Shaving Cream", "Safety Razor", "Pre-Shave Oil"],
            "Beard Care": ["Beard Oil", "Beard Balm", "Beard Trimmer"],
        },
        ["Classic", "Sandalwood", "Cooling", "Sensitive", "Charcoal", "Cedar"],
        [
            "gives a close shave without irritation",
            "softens coarse beard hair",
            "keeps the jawline sharp",
        ],
        ["100 ml", "3.4 oz", "30 ml"],
    ),
}
BRANDS = [
    "Verdant",
    "Lumiere Lab",
    "Aurora Bloom",
    "Pure Ritual",
    "Nordic Dew",
    "Silk & Stone",
    "Maison Ardent",
    "Glowhaus",
    "Fern & Fable",
    "Coastline",
    "Ember & Oak",
    "Velvet Fox",
    "Botanica Nova",
    "Clearwell",
    "Petal Theory",
    "Urban Apothecary",
    "Saltwater Co.",
    "Halcyon",
    "Indigo Grove",
    "Marigold & Mint",
    "Northbound",
    "Opaline",
    "True Tonic",
    "Wildroot",
    "Zenith Labs",
]
TIERS = {"budget": 0.6, "mid": 1.0, "premium": 1.8}
PRICE_BANDS = {"budget": -0.5, "mid": 0.0, "premium": 0.55}  # log-price offset a shopper likes
EXTRAS = [
    "Dermatologist tested and free of parabens.",
    "Cruelty-free and vegan.",
    "Made with {ingredient}.",
    "Recyclable packaging.",
    "Suitable for everyday use.",
]
INGREDIENTS = [
    "aloe vera",
    "green tea extract",
    "argan oil",
    "shea butter",
    "niacinamide",
    "jojoba oil",
]
REVIEW_OPENERS = {
    "positive": [
        "I love this {noun}.",
        "Great {noun}, it works wonderfully.",
        "Excellent quality for the price.",
        "My new favourite {noun}, simply amazing.",
        "Perfect {noun}, exactly what I wanted.",
    ],
    "neutral": [
        "It's okay, nothing special.",
        "A decent {noun}, but I expected more.",
        "Average results so far.",
        "Okay for everyday use, not remarkable.",
    ],
    "negative": [
        "Very disappointed with this {noun}.",
        "Terrible quality, it stopped working fast.",
        "A waste of money.",
        "Poor results and an awful smell.",
    ],
}
REVIEW_DETAILS = {
    "positive": [
        "I would buy it again.",
        "{brand} got this one right.",
        "It arrived quickly and well packed.",
    ],
    "neutral": [
        "The scent is mild.",
        "I might try another brand next time.",
        "It does what it says, mostly.",
    ],
    "negative": [
        "I would not buy it again.",
        "I am returning it.",
        "It did nothing that the label promised.",
    ],
}
