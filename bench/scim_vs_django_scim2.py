"""SCIM throughput: this service against django-scim2 on the same machine, in one run.

The same workload (create a user, find it by userName, deactivate it with PATCH) runs in turn
against this service (production settings) and against a minimal django-scim2 project
(bench/scim_peer/) installed in its own virtualenv (var/venv-peer, made on first use; it is
never part of the project's dependencies). Both use PostgreSQL on this machine, each its own
database. Rounds alternate between the two so machine noise hits both; the best round of each
is reported, with operations per second per phase and overall, and the ratio.

    ./run bench scim                           # via bench/run.py
    .venv/bin/python -m bench.scim_vs_django_scim2 [--users 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from bench.common import BENCH_DATABASE_URL, Result

ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = ROOT / "var" / "venv-peer"
PEER_PACKAGES = ["django-scim2==0.23.0", "Django==5.2.19", "psycopg[binary]==3.3.9"]
BASE = BENCH_DATABASE_URL.rsplit("/", 1)[0]
OURS_DB = os.environ.get("SCIM_BENCH_DATABASE_URL", f"{BASE}/seats_scim_bench")
PEER_DB = os.environ.get("PEER_DATABASE_URL", f"{BASE}/seats_scim_bench_peer")
PHASES = ("create", "filter", "deactivate")
# Both sides get the same database connection setup: persistent connections (CONN_MAX_AGE 60) with
# health checks, and psycopg's prepared statements on or off alike (on unless told otherwise).
PREPARED = os.environ.get("DB_PREPARED_STATEMENTS", "true")
GOAL = 2.0


def ensure_peer_venv() -> Path:
    python = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / f".installed-{'-'.join(p.split('==')[1] for p in PEER_PACKAGES)}"
    if not stamp.exists():
        print("==> installing django-scim2 into var/venv-peer", flush=True)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
        stamp.touch()
    return python


def ensure_databases() -> None:
    import psycopg

    with psycopg.connect(f"{BASE}/postgres", autocommit=True) as conn:
        for url in (OURS_DB, PEER_DB):
            name = url.rsplit("/", 1)[1]
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')


def _worker(python: Path, module: str, users: int, env: dict) -> dict:
    run_id = uuid.uuid4().hex[:8]
    completed = subprocess.run(
        [str(python), "-m", module, str(users), run_id],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _rates(result: dict) -> dict[str, float]:
    n = result["operations"]
    rates = {phase: n / result["seconds"][phase] for phase in PHASES}
    rates["overall"] = 3 * n / sum(result["seconds"].values())
    return rates


def measure(users: int, rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    peer_python = ensure_peer_venv()
    ensure_databases()
    same = {"DB_PREPARED_STATEMENTS": PREPARED}
    ours_env = {"SCIM_BENCH_DATABASE_URL": OURS_DB, **same}
    peer_env = {"PEER_DATABASE_URL": PEER_DB, "PYTHONPATH": str(ROOT), **same}
    # A short warm-up of each side migrates its database and fills caches.
    _worker(Path(sys.executable), "bench.scim_ours_worker", 20, ours_env)
    _worker(peer_python, "bench.scim_peer.worker", 20, peer_env)
    best_ours: dict[str, float] = {}
    best_peer: dict[str, float] = {}
    for round_ in range(rounds):
        ours = _rates(_worker(Path(sys.executable), "bench.scim_ours_worker", users, ours_env))
        peer = _rates(_worker(peer_python, "bench.scim_peer.worker", users, peer_env))
        print(
            f"   round {round_ + 1}: ours {ours['overall']:.0f} ops/s, "
            f"django-scim2 {peer['overall']:.0f} ops/s",
            flush=True,
        )
        if ours["overall"] > best_ours.get("overall", 0):
            best_ours = ours
        if peer["overall"] > best_peer.get("overall", 0):
            best_peer = peer
    return best_ours, best_peer


def report(ours: dict[str, float], peer: dict[str, float]) -> str:
    lines = [
        "| phase | this service (ops/s) | django-scim2 (ops/s) | ratio |",
        "|---|---|---|---|",
    ]
    for phase in (*PHASES, "overall"):
        lines.append(
            f"| {phase} | {ours[phase]:.0f} | {peer[phase]:.0f} | {ours[phase] / peer[phase]:.2f}x |"
        )
    return "\n".join(lines)


def run(users: int = 300, rounds: int = 3) -> list[Result]:
    ours, peer = measure(users, rounds)
    print(report(ours, peer))
    ratio = ours["overall"] / peer["overall"]
    prepared = "on" if PREPARED.lower() in {"1", "true", "yes", "on"} else "off"
    return [
        Result(
            benchmark="scim",
            figure=f"{ours['overall']:.0f} SCIM ops/s (create, filter userName, PATCH deactivate)",
            baseline=f"django-scim2 0.23.0: {peer['overall']:.0f} ops/s",
            ratio=ratio,
            goal=f">= {GOAL:.0f}x",
            met=ratio >= GOAL,
            note=(
                f"{users} users x 3 operations, best of {rounds} alternating rounds, in-process test client "
                "(no HTTP), PostgreSQL for both with the same connection setup (CONN_MAX_AGE 60, health "
                f"checks, prepared statements {prepared}), ours with Redis for its token cache and rate "
                "limit; ours also writes audit rows and the IdP profile and checks seats on each write, "
                "the peer only its user row; per phase ours/peer: "
                + ", ".join(f"{p} {ours[p]:.0f}/{peer[p]:.0f}" for p in PHASES)
            ),
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = run(args.users, args.rounds)[0]
    print(f"\nratio {result.ratio:.2f}x (goal {result.goal}): {'met' if result.met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
