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
import traceback
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
    failed: list[str] = []
    started = time.monotonic()
    for name in names:
        print(f"==> {name}", flush=True)
        target = BENCHMARKS[name]
        try:
            if " " in target:
                module, _, extra = target.partition(" ")
                results.extend(run_isolated(module, *extra.split()))
            else:
                results.extend(importlib.import_module(target).run())
        except Exception as exc:
            # One broken benchmark must not throw away the figures the others took minutes to make;
            # the table says it failed, and the command exits non-zero.
            traceback.print_exc()
            failed.append(name)
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            note = f"{type(exc).__name__}: {first_line}"
            results.append(Result(name, "failed", "-", 0.0, "-", False, note))
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
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
