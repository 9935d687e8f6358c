"""SCIM throughput: this service against django-scim2 on the same machine, in one run.

The same workload (create a user, find it by userName, deactivate it with PATCH) runs in turn
against this service (production settings) and against a minimal django-scim2 project
(bench/scim_peer/) installed in its own virtualenv (var/venv-peer, made on first use; it is
never part of the project's dependencies). Both use PostgreSQL on this machine, each its own
database. Rounds alternate between the two so machine noise hits both; the best round of each
is reported, with operations per second per phase and overall, and the ratio.

Both directories start every run from the same state, copied from a template database: migrated,
and holding the agency's existing people (``--population``, 10,000 by default: an IdP syncs into
a directory that already has the agency in it, and 97.6% of federal employees work in agencies
larger than that). The same workload on empty directories is reported beside it, because the
peer's lookup by userName reads the whole table (``UPPER(username) = UPPER(%s)``) and so depends
on the population, while ours uses an index. Templates are rebuilt when a migration changes.

    ./run bench scim                           # via bench/run.py
    .venv/bin/python -m bench.scim_vs_django_scim2 [--users 300] [--rounds 3] [--population 10000]
"""

from __future__ import annotations

import argparse
import hashlib
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
POPULATION = 10_000


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


def _admin():
    import psycopg

    return psycopg.connect(f"{BASE}/postgres", autocommit=True)


def _exists(conn, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def _schema_digest() -> str:
    """Changes whenever a migration of the project (or the peer) changes: templates follow the schema."""
    digest = hashlib.sha256(b"seed-v1")
    for path in sorted(ROOT.glob("*/migrations/*.py")) + sorted(
        ROOT.glob("bench/scim_peer/*/migrations/*.py")
    ):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def ensure_template(python: Path, module: str, url_env: str, work_url: str, population: int) -> str:
    """The template database of one side at this population, built (migrate + seed) when missing."""
    work = work_url.rsplit("/", 1)[1]
    template = f"{work}_tpl_{population}_{_schema_digest()}"
    with _admin() as conn:
        if _exists(conn, template):
            return template
        building = f"{template}_building"
        conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{building}"')
    print(f"==> building {template} ({population:,} people)", flush=True)
    run_env = {**os.environ, url_env: f"{BASE}/{building}", "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [str(python), "-m", module, "seed", str(population)],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"seeding {template} failed:\n{completed.stderr[-3000:]}")
    print(f"   {completed.stdout.strip().splitlines()[-1]}", flush=True)
    with _admin() as conn:
        # Older templates of this side (another schema or population) are dropped as they go stale.
        stale = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname NOT IN (%s, %s)",
            [f"{work}\\_tpl\\_{population}\\_%", template, building],
        ).fetchall()
        for (name,) in stale:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
    return template


def fresh_database(work_url: str, template: str) -> None:
    """Throw the last run's database away and copy the template: every run starts the same."""
    work = work_url.rsplit("/", 1)[1]
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{work}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{work}" TEMPLATE "{template}"')


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


def measure(users: int, rounds: int, population: int) -> tuple[dict[str, float], dict[str, float]]:
    peer_python = ensure_peer_venv()
    ours_python = Path(sys.executable)
    ours_template = ensure_template(
        ours_python, "bench.scim_ours_worker", "SCIM_BENCH_DATABASE_URL", OURS_DB, population
    )
    peer_template = ensure_template(
        peer_python, "bench.scim_peer.worker", "PEER_DATABASE_URL", PEER_DB, population
    )
    fresh_database(OURS_DB, ours_template)
    fresh_database(PEER_DB, peer_template)
    same = {"DB_PREPARED_STATEMENTS": PREPARED}
    ours_env = {"SCIM_BENCH_DATABASE_URL": OURS_DB, **same}
    peer_env = {"PEER_DATABASE_URL": PEER_DB, "PYTHONPATH": str(ROOT), **same}
    # A short warm-up of each side fills its caches (and its database's buffers).
    _worker(ours_python, "bench.scim_ours_worker", 20, ours_env)
    _worker(peer_python, "bench.scim_peer.worker", 20, peer_env)
    best_ours: dict[str, float] = {}
    best_peer: dict[str, float] = {}
    for round_ in range(rounds):
        ours_run = _worker(ours_python, "bench.scim_ours_worker", users, ours_env)
        peer_run = _worker(peer_python, "bench.scim_peer.worker", users, peer_env)
        CENSUS["ours"], CENSUS["peer"] = ours_run, peer_run
        ours, peer = _rates(ours_run), _rates(peer_run)
        print(
            f"   {population:,} people, round {round_ + 1}: ours {ours['overall']:.0f} ops/s, "
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


# The last round's census of each side (statements and database time per operation; ours also
# the bare request): the worker takes it after its timed phases.
CENSUS: dict[str, dict] = {}


def _phases(ours: dict[str, float], peer: dict[str, float]) -> str:
    rates = ", ".join(f"{p} {ours[p]:.0f}/{peer[p]:.0f}" for p in PHASES)
    ours_run, peer_run = CENSUS["ours"], CENSUS["peer"]
    sent = ", ".join(f"{p} {ours_run['statements'][p]}/{peer_run['statements'][p]}" for p in PHASES)
    waited = ", ".join(f"{p} {ours_run['db_ms'][p]:.2f}/{peer_run['db_ms'][p]:.2f}" for p in PHASES)
    return (
        f"per phase ours/peer: {rates}; SQL statements per operation ours/peer (without BEGIN/COMMIT): "
        f"{sent}; ms waiting on PostgreSQL per operation ours/peer (round trips, BEGIN/COMMIT included): "
        f"{waited}"
    )


def budget(ours: dict[str, float], peer: dict[str, float]) -> dict[str, float]:
    """Where one cycle (a create, a filter and a deactivate) goes, in ms, and what GOAL would leave.

    ``floor`` is what ours pays without doing any of the three operations' own work in Python:
    its database time plus three bare requests (framework, middleware, token check, response).
    ``left`` is what the goal leaves for everything else: validating, placing, auditing,
    building queries, rendering.
    """
    cycle = {side: 3000 / rates["overall"] for side, rates in (("ours", ours), ("peer", peer))}
    db = {side: sum(CENSUS[side]["db_ms"].values()) for side in ("ours", "peer")}
    bare = 3 * CENSUS["ours"]["bare_ms"]
    goal = cycle["peer"] / GOAL
    return {
        "ours": cycle["ours"],
        "peer": cycle["peer"],
        "ours_db": db["ours"],
        "peer_db": db["peer"],
        "ours_bare": bare,
        "ours_rest": cycle["ours"] - db["ours"] - bare,
        "peer_rest": cycle["peer"] - db["peer"],
        "goal": goal,
        "left": goal - db["ours"] - bare,
    }


def _budget_note(b: dict[str, float]) -> str:
    return (
        f"one cycle (create + filter + deactivate) takes ours {b['ours']:.2f} ms = PostgreSQL "
        f"{b['ours_db']:.2f} + three bare authenticated requests {b['ours_bare']:.2f} + the operations' "
        f"own Python {b['ours_rest']:.2f}; the peer {b['peer']:.2f} ms = PostgreSQL {b['peer_db']:.2f} + "
        f"Python {b['peer_rest']:.2f}; {GOAL:.0f}x needs {b['goal']:.2f} ms, which leaves "
        f"{b['left']:.2f} ms for the three operations' own Python (now {b['ours_rest']:.2f})"
    )


def run(users: int = 300, rounds: int = 3, population: int = POPULATION) -> list[Result]:
    ours, peer = measure(users, rounds, population)
    phases = _phases(ours, peer)  # before the next measure() replaces CENSUS
    where = _budget_note(budget(ours, peer))
    print(report(ours, peer))
    print(where)
    empty_ours, empty_peer = measure(users, rounds, 0)
    print(report(empty_ours, empty_peer))
    ratio = ours["overall"] / peer["overall"]
    empty_ratio = empty_ours["overall"] / empty_peer["overall"]
    prepared = "on" if PREPARED.lower() in {"1", "true", "yes", "on"} else "off"
    return [
        Result(
            benchmark=f"scim, an agency of {population:,} people",
            figure=f"{ours['overall']:.0f} SCIM ops/s (create, filter userName, PATCH deactivate)",
            baseline=f"django-scim2 0.23.0: {peer['overall']:.0f} ops/s",
            ratio=ratio,
            goal=f">= {GOAL:.0f}x",
            met=ratio >= GOAL,
            note=(
                f"{users} users x 3 operations, best of {rounds} alternating rounds, in-process test client "
                "(no HTTP), PostgreSQL for both with the same connection setup (CONN_MAX_AGE 60, health "
                f"checks, prepared statements {prepared}), ours with Redis for its token cache and rate "
                f"limit; both directories copied from a template holding the same {population:,} people "
                "before each run; ours also writes audit rows and the IdP profile and checks seats on each "
                f"write, the peer only its user row; {phases}; {where}"
            ),
        ),
        Result(
            benchmark="scim, empty directories (context: the peer's userName lookup reads the whole table)",
            figure=f"{empty_ours['overall']:.0f} SCIM ops/s",
            baseline=f"django-scim2 0.23.0: {empty_peer['overall']:.0f} ops/s",
            ratio=empty_ratio,
            goal="n/a (context)",
            met=None,
            note=_phases(empty_ours, empty_peer),
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--population", type=int, default=POPULATION)
    args = parser.parse_args()
    results = run(args.users, args.rounds, args.population)
    for result in results:
        print(f"{result.benchmark}: {result.ratio:.2f}x (goal {result.goal})")
    headline = results[0]
    print(f"\nratio {headline.ratio:.2f}x (goal {headline.goal}): {'met' if headline.met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
