"""Schemathesis against the app's own OpenAPI schema, >= 1,000 generated requests: positive
(schema-valid) and negative (schema-invalid) cases for every operation, every schemathesis
check on every response (server errors, status codes, content types, headers, bodies against
the documented schemas, valid input accepted, invalid input refused with a 4xx).

    .venv/bin/python bench/fuzz_api.py [--examples 40] [--seed 0]

The app runs in process over the synthetic shop on a real embedded store, with a review
sentiment model fitted on the shop's reviews. Writes ``bench/results/fuzz_api.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "tests"))  # the fuzz harness is shared with the test suite


def markdown(r: dict, args: argparse.Namespace) -> str:
    lines = [
        "# API fuzzing with schemathesis",
        "",
        f"`{' '.join(['.venv/bin/python', 'bench/fuzz_api.py', *sys.argv[1:]])}`"
        f" (schemathesis {r['schemathesis']}, {args.examples} cases per operation and mode,"
        f" seed {args.seed})",
        "",
        "| generated requests | positive | negative | server errors (5xx) | check failures |"
        " seconds |",
        "|---|---|---|---|---|---|",
        f"| {r['requests']} | {r['by_mode'].get('positive', 0)} |"
        f" {r['by_mode'].get('negative', 0)} | {r['server_errors']} | {r['check_failures']} |"
        f" {r['seconds']} |",
        "",
        "Checks on every response: " + ", ".join(r["checks"]) + ".",
        "",
    ]
    if r["failures"]:
        lines += ["## Failures", "", "| operation: check | count | reproduce |", "|---|---|---|"]
        for k, n in r["failures"].items():
            lines.append(f"| {k} | {n} | `{r['examples'][k][:200]}` |")
        lines.append("")
    lines += ["## Responses by operation and status", "", "| operation | status | count |"]
    lines.append("|---|---|---|")
    for k, n in r["by_status"].items():
        op, status = k.rsplit(" ", 1)
        lines.append(f"| `{op}` | {status} | {n} |")
    lines += ["", "## Not generated or not checked", ""]
    lines += [f"- {s}" for s in r["skipped"]]
    lines += [f"- `{k}`: no {why}" for k, why in r["not_checked"].items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=40, help="cases per operation and mode")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import schemathesis
    from schemathesis.specs.openapi import checks

    from fuzz_fixtures import fuzz, fuzz_engine
    from shoprec.serving.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        built = fuzz_engine(Path(tmp) / "models", Path(tmp) / "work")
        build_s = time.perf_counter() - t0
        report = fuzz(create_app(built.engine), args.examples, args.seed)
    r = report.to_dict()
    r["schemathesis"] = schemathesis.__version__
    r["build_seconds"] = round(build_s, 1)
    r["checks"] = [
        "not_a_server_error",
        *(
            name
            for name in (
                "status_code_conformance",
                "content_type_conformance",
                "response_headers_conformance",
                "response_schema_conformance",
                "negative_data_rejection",
                "positive_data_acceptance",
            )
            if hasattr(checks, name)
        ),
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "fuzz_api.json").write_text(json.dumps(r, indent=2) + "\n")
    (OUT / "fuzz_api.md").write_text(markdown(r, args))
    print(
        f"{r['requests']} requests, {r['server_errors']} server errors, "
        f"{r['check_failures']} check failures ({r['seconds']} s)"
    )


if __name__ == "__main__":
    main()
