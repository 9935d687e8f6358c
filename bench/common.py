"""Shared plumbing for the benchmarks: Django on the benchmark database, timing, result rows.

Benchmarks run against PostgreSQL (``BENCH_DATABASE_URL``, default a ``seats_bench`` database on
127.0.0.1) because that is what production runs; every figure is compared with a baseline
measured in the same run, so the ratio holds on a shared, noisy machine.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seats_bench")
# The full-scale database (2.29M employees, ~1.37M seats): built once by ensure_scale_database,
# then reused, since loading it takes a few minutes.
SCALE_DATABASE_URL = os.environ.get("SCALE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seats_scale")
FULL_WORKFORCE = 2_289_472
SCALE_SEAT_RATE = "0.6"


def setup_django() -> None:
    os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def ensure_database() -> None:
    """Create the benchmark database if it is missing and bring its schema up to date."""
    import psycopg

    name = BENCH_DATABASE_URL.rsplit("/", 1)[1]
    admin_url = BENCH_DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def ensure_scale_database() -> None:
    """Point Django at the full-scale database, building it first if it is missing or partial:
    migrate, the federal data, the 2.29M-person workforce and seats for 60% of them."""
    import psycopg

    os.environ["BENCH_DATABASE_URL"] = SCALE_DATABASE_URL
    global BENCH_DATABASE_URL
    BENCH_DATABASE_URL = SCALE_DATABASE_URL
    ensure_database()
    from django.core.management import call_command

    from agencies import workforce
    from seats.models import Seat
    from seats.scale import PROGRAM_SLUG

    if workforce.existing_synthetic() < FULL_WORKFORCE:
        say("building the full-scale database (a few minutes) ...")
        call_command("load_federal_data", verbosity=0, stdout=sys.stderr)
        call_command("generate_workforce", "--replace", "--seats", SCALE_SEAT_RATE, stdout=sys.stderr)
    elif not Seat.objects.filter(program__slug=PROGRAM_SLUG).exists():
        call_command("generate_workforce", "--seats", SCALE_SEAT_RATE, stdout=sys.stderr)
    with psycopg.connect(SCALE_DATABASE_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE agencies_employee")
        conn.execute("VACUUM ANALYZE seats_seat")


def say(message: str) -> None:
    """Progress goes to stderr: an isolated benchmark's stdout carries its results."""
    print(message, file=sys.stderr, flush=True)


def run_isolated(module: str, *args: str) -> list[Result]:
    """Run ``python -m module --json`` in its own process (its own database and Django setup)
    and read back its result rows."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *args, "--json"],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    rows = json.loads(completed.stdout.strip().splitlines()[-1])
    return [Result(**row) for row in rows]


def emit(results: list[Result]) -> None:
    """The --json side of run_isolated: the result rows as one JSON line on stdout."""
    print(json.dumps([r.__dict__ for r in results]))


@dataclass
class Result:
    """One line of the results table."""

    benchmark: str
    figure: str
    baseline: str
    ratio: float
    goal: str
    met: bool | None
    note: str = ""


@contextmanager
def timer():
    box = {"seconds": 0.0}
    started = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - started


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        pg = subprocess.run(
            ["psql", BENCH_DATABASE_URL, "-tAc", "SHOW server_version"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pg = "?"
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.node()}: {os.cpu_count()} cores ({cpu}), {memory_gb:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, PostgreSQL {pg}"
    )
