"""Run every benchmark, print one table, and write it to bench/RESULTS.md.

    ./run bench                 # everything (needs PostgreSQL; the full-scale ones take a while)
    ./run bench claims pages    # only these

Each benchmark measures the platform and a baseline in the same run and reports the ratio, so
the figures hold on a shared, noisy machine.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Result, machine, run_isolated

# name -> module with run() -> list[Result]; "module args" runs ``python -m module args --json``
# in its own process (those use their own database: the full-scale one, or a fresh one).
BENCHMARKS = {
    "claims": "bench.claims",
    "saml_acs": "bench.saml_acs",
    "scim": "bench.scim_vs_django_scim2",
    "expire_seats": "bench.expire_seats ",
    "roster_import": "bench.roster_import ",
    "gsa_dashboard": "bench.dashboards gsa",
    "agency_report": "bench.dashboards agency",
    "pages": "bench.pages ",
    "explain": "bench.explain ",
}
RESULTS_FILE = Path(__file__).resolve().parent / "RESULTS.md"


def table(results: list[Result]) -> str:
    lines = [
        "| benchmark | figure | baseline (same run) | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        met = "n/a" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(f"| {r.benchmark} | {r.figure} | {r.baseline} | {r.ratio:.2f}x | {r.goal} | {met} |")
    notes = [f"- {r.benchmark}: {r.note}" for r in results if r.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(BENCHMARKS)})")
    parser.add_argument(
        "--write",
        action="store_true",
        help="write bench/RESULTS.md even when only some benchmarks ran (it says which did not)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    names = args.names or list(BENCHMARKS)
    results: list[Result] = []
    started = time.monotonic()
    for name in names:
        print(f"==> {name}", flush=True)
        target = BENCHMARKS[name]
        if " " in target:
            module, _, extra = target.partition(" ")
            results.extend(run_isolated(module, *extra.split()))
        else:
            results.extend(importlib.import_module(target).run())
    body = table(results)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    skipped = [name for name in BENCHMARKS if name not in names]
    report = (
        f"# Benchmark results\n\nRun {stamp} on {machine()}; "
        f"{time.monotonic() - started:.0f} s in all. "
        "Ratios compare with a baseline measured in the same run."
        + (f" Not in this run: {', '.join(skipped)}." if skipped else "")
        + f"\n\n{body}\n"
    )
    print()
    print(body)
    if set(names) == set(BENCHMARKS) or args.write:
        RESULTS_FILE.write_text(report)
        print(f"\nwritten to {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
