"""Review sentiment: choose a variant on validation, refit on the training parts and measure on
the held-out parts of the Multi-Domain (binary accuracy) and Alexa (three-class macro-F1) sets,
beside a VADER lexicon baseline whose cuts are chosen on the same training parts.

    .venv/bin/python bench/sentiment_eval.py [--only-default] [--frozen [--layers-only]]

By default the fine-tuned variants (``FINETUNE_VARIANTS``: MiniLM fine-tuned end to end, about
30 minutes each on one CPU thread) are compared; ``--only-default`` trains only the default
configuration (what ``shoprec train-sentiment`` trains); ``--frozen`` adds the heads on the
frozen encoder (``VARIANTS``; a cold run encodes every review, over 10 minutes), and
``--layers-only`` then skips their sentence-vector variants (a second encode, about 40 minutes).

The quick model (``shoprec.nlp.sentiment.quick``: the NB-TF-IDF logistic regression a server
trains in seconds when no fine-tuned model exists) is trained on the same training parts and
measured on the same held-out parts in the same run.

Writes ``bench/results/sentiment.{json,md,png}`` and saves the model where ``load_or_train``
finds it (``artifacts/sentiment``); ``--render`` rebuilds the Markdown and the plot from the
JSON. Encoder vectors (``--frozen``) are cached under ``artifacts/`` by content hash: the first
run encodes about 30,000 review pieces (minutes), reruns take a few minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from shoprec.compute import resolve  # noqa: E402
from shoprec.nlp.sentiment import (  # noqa: E402
    DEFAULT_VARIANTS,
    FINETUNE_VARIANTS,
    LABELS,
    VARIANTS,
    save_model,
    train_default,
)
from shoprec.nlp.sentiment.quick import train_quick  # noqa: E402
from shoprec.settings import Settings  # noqa: E402
from shoprec.text.encoder import TextEncoder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
EXAMPLES = [
    "Absolutely love it, best purchase this year!",
    "It's fine. Does what it says, nothing more.",
    "Broke after two days and support never answered. Avoid.",
    "Not bad, but the sound could be better.",
    "",
]


def settings() -> Settings:
    """``Settings()`` with relative folders resolved against the repository root."""
    s = Settings()
    data = s.data_dir if s.data_dir.is_absolute() else ROOT / s.data_dir
    art = s.artifacts_dir if s.artifacts_dir.is_absolute() else ROOT / s.artifacts_dir
    return Settings(data_dir=data, artifacts_dir=art)


def table(rows: list[list[object]], head: list[str]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    fmt = [f"{v:.4f}" if isinstance(v, float) else str(v) for r in rows for v in r]
    for i in range(0, len(fmt), len(head)):
        lines.append("| " + " | ".join(fmt[i : i + len(head)]) + " |")
    return "\n".join(lines)


def per_class(rep: dict) -> str:
    rows = [
        [k, v["precision"], v["recall"], v["f1"], v["support"]] for k, v in rep["per_class"].items()
    ]
    return table(rows, ["class", "precision", "recall", "F1", "support"])


def confusion(rep: dict) -> str:
    rows = [[f"true {a}", *r] for a, r in zip(rep["labels"], rep["confusion"], strict=True)]
    return table(rows, ["", *[f"pred {b}" for b in rep["labels"]]])


def _epoch_blend(x: dict) -> str:
    """The epoch and blend weight a fine-tuned variant kept on validation ("" for frozen)."""
    if "history" not in x:
        return ""
    best = max(x["history"], key=lambda h: h.get("val_score", -9.0))
    return f"{best['epoch']} / {x['blend']:.1f}"


def _histories(r: dict) -> list[str]:
    """Per-epoch training loss, validation score and seconds of each fine-tuned variant."""
    rows = [[x["name"], h["epoch"], h["loss"], h.get("val_score", float("nan")),
             f"{h['train_s']:.0f}"]
            for x in r["variants"] for h in x.get("history", [])]  # fmt: skip
    if not rows:
        return []
    return [
        "Fine-tuning epochs (validation score: multidomain accuracy while the Alexa macro-F1 "
        f"beats VADER's; training on the fit parts, {r.get('compute', 'one torch thread')}):",
        "",
        table(rows, ["variant", "epoch", "train loss", "validation score", "epoch s"]),
        "",
    ]


#: the held-out table's rows: (label, test set, measure, the floor the issue set)
HELD_OUT_ROWS = [
    ("multidomain binary accuracy", "multidomain", "accuracy", ">= 0.90 (quick: >= 0.85)"),
    ("multidomain macro-F1", "multidomain", "macro_f1", ""),
    ("alexa macro-F1 (3 classes)", "alexa", "macro_f1", "> VADER"),
    ("alexa accuracy", "alexa", "accuracy", ""),
]


def markdown(r: dict) -> str:
    t, v, q = r["test"], r["vader"], r["quick"]["test"]
    md, al = t["multidomain"], t["alexa"]
    out = [
        "# sentiment",
        "",
        f"Command: `{r.get('command', '.venv/bin/python bench/sentiment_eval.py')}` "
        "(1 torch thread, seed 42).",
        f"Chosen on validation: **{r['chosen']}**. Total {r['seconds']:.0f} s "
        f"(encoding {r['encode_s']:.0f} s, VADER {r['vader_s']:.0f} s).",
        "",
        "## Held-out figures (20 % test parts)",
        "",
        table(
            [
                [label, t[part][key], q[part][key], v[part][key], floor]
                for label, part, key, floor in HELD_OUT_ROWS
            ],
            ["measure", "fine-tuned (chosen)", "quick", "VADER", "floor"],
        ),  # fmt: skip
        "",
        f"Quick model {r['quick']['config']}: trained in {r['quick']['fit_s']:.1f} s on "
        f"{r['quick']['n_train']} reviews (the training parts), the time a server spends on it "
        "at its first start when no fine-tuned model exists.",
        "",
        f"VADER cuts chosen on the training parts: multidomain {v['multidomain']['cuts']}, "
        f"alexa {v['alexa']['cuts']} (compound below the first: negative; from the second: "
        "positive).",
        "",
        "### Multi-domain (binary: P(positive) vs P(negative))",
        "",
        per_class(md),
        "",
        confusion(md),
        "",
        "### Alexa (three classes)",
        "",
        per_class(al),
        "",
        confusion(al),
        "",
        "### Alexa, VADER baseline",
        "",
        per_class(v["alexa"]),
        "",
        confusion(v["alexa"]),
        "",
        "## Variants (validation: 20 % of each training part)",
        "",
        "Chosen: the best multidomain accuracy among the variants whose Alexa macro-F1 beats "
        f"VADER's on validation ({r['vader_val']['alexa']['macro_f1']:.4f}; VADER multidomain "
        f"accuracy on validation {r['vader_val']['multidomain']['accuracy']:.4f}).",
        "",
        table(
            [
                [
                    x["name"],
                    x["val_accuracy"],
                    x["val_alexa_macro_f1"],
                    (x["val_accuracy"] + x["val_alexa_macro_f1"]) / 2,
                    _epoch_blend(x),
                    f"{x['fit_s']:.1f}",
                ]
                for x in r["variants"]
            ],
            [
                "variant",
                "multidomain accuracy",
                "alexa macro-F1",
                "mean of the two",
                "epoch / NB-TF-IDF blend kept",
                "fit s",
            ],
        ),  # fmt: skip
        "",
        *_histories(r),
        "## Split sizes",
        "",
        table([[k, *c.values()] for k, c in r["sizes"].items()], ["part", *LABELS]),
        "",
        f"Alexa: {r['alexa_rows_before_dedup']} non-empty reviews merged into "
        f"{sum(r['sizes']['alexa_train'].values()) + sum(r['sizes']['alexa_test'].values())} "
        "distinct texts before splitting.",
        "",
        "## Examples",
        "",
        table(
            [[repr(e["text"]), e["label"], e["intensity"]] for e in r["examples"]],
            ["text", "label", "intensity"],
        ),  # fmt: skip
        "",
    ]
    return "\n".join(out)


def plot(r: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, 5, figsize=(23, 4.2))
    panels = [
        ("multidomain test (fine-tuned)", r["test"]["multidomain"]),
        ("alexa test (fine-tuned)", r["test"]["alexa"]),
        ("alexa test (quick)", r["quick"]["test"]["alexa"]),
        ("alexa test (VADER)", r["vader"]["alexa"]),
    ]
    for ax, (title, rep) in zip(axes[:4], panels, strict=True):
        cm = np.asarray(rep["confusion"], dtype=float)
        ax.imshow(cm / np.maximum(cm.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
        for (i, j), n in np.ndenumerate(cm):
            ax.text(j, i, int(n), ha="center", va="center")
        ax.set_xticks(range(len(rep["labels"])), rep["labels"])
        ax.set_yticks(range(len(rep["labels"])), rep["labels"])
        ax.set_title(f"{title}\nacc {rep['accuracy']:.3f}  macro-F1 {rep['macro_f1']:.3f}")
        ax.set_xlabel("predicted")
    ax = axes[4]
    names = [x["name"] for x in r["variants"]]
    y = np.arange(len(names))
    ax.barh(y - 0.2, [x["val_accuracy"] for x in r["variants"]], 0.4, label="multidomain acc")
    ax.barh(y + 0.2, [x["val_alexa_macro_f1"] for x in r["variants"]], 0.4, label="alexa macro-F1")
    ax.set_yticks(y, names, fontsize=7)
    ax.set_xlim(0.4, 1.2)
    ax.set_title("validation figures per variant")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only-default", action="store_true", help="skip the variant comparison")
    ap.add_argument("--frozen", action="store_true", help="add the frozen-encoder variants")
    ap.add_argument("--layers-only", action="store_true", help="skip sentence-vector variants")
    ap.add_argument("--render", action="store_true", help="rewrite md and png from the JSON")
    args = ap.parse_args()
    if args.render:
        report = json.loads((OUT / "sentiment.json").read_text())
        (OUT / "sentiment.md").write_text(markdown(report))
        plot(report, OUT / "sentiment.png")
        return
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    s = settings()
    t0 = time.perf_counter()
    quick, quick_report = train_quick(s)  # seconds: first, so its figures are logged early
    q = quick_report["test"]
    logging.info(
        "quick model: %.1f s, multidomain accuracy %.4f, alexa macro-F1 %.4f",
        quick_report["fit_s"], q["multidomain"]["accuracy"], q["alexa"]["macro_f1"],
    )  # fmt: skip
    frozen = [v for v in VARIANTS if not args.layers_only or v[1].layers is not None]
    variants = list(DEFAULT_VARIANTS if args.only_default else FINETUNE_VARIANTS)
    variants = [*(frozen if args.frozen else []), *variants]
    model, report = train_default(s, TextEncoder(), variants)
    save_model(model, report, s.artifacts_dir / "sentiment")
    report["examples"] = [
        {"text": t, "label": p.label, "intensity": round(p.intensity, 3), "scores": p.scores}
        for t, p in zip(EXAMPLES, model.predict(EXAMPLES), strict=True)
    ]
    report["quick"] = {**quick_report, "version": quick.version,
                       "config": str(quick.config).removeprefix("QuickConfig")}  # fmt: skip
    report["wall_s"] = time.perf_counter() - t0
    # the precision depends on the CPU (bf16 only with native units): say which ran
    report["compute"] = f"one torch thread, {resolve().describe()}"
    flags = [f for f, on in (("--only-default", args.only_default), ("--frozen", args.frozen),
                             ("--layers-only", args.layers_only)) if on]  # fmt: skip
    report["command"] = " ".join([".venv/bin/python bench/sentiment_eval.py", *flags])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sentiment.json").write_text(json.dumps(report, indent=2))
    (OUT / "sentiment.md").write_text(markdown(report))
    plot(report, OUT / "sentiment.png")
    t, v = report["test"], report["vader"]
    logging.info(
        "chosen %s: multidomain accuracy %.4f (VADER %.4f), alexa macro-F1 %.4f (VADER %.4f)",
        report["chosen"], t["multidomain"]["accuracy"], v["multidomain"]["accuracy"],
        t["alexa"]["macro_f1"], v["alexa"]["macro_f1"],
    )  # fmt: skip


if __name__ == "__main__":
    main()
