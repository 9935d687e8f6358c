"""Browser-test fixtures: Debian's chromium driven by Playwright against Django's live server,
axe-core (from node_modules) run on every page checked, and a screenshot of each page kept
under var/screenshots/<database>/ for CI to publish.

Other browser tests (the cross-persona SAML journey) reuse these fixtures:

- ``page``: a fresh browser tab whose relative URLs go to the live server (on 127.0.0.1, with
  ``SITE_URL`` pointing at it, so SAML round trips work);
- ``login(user)``: signs a user in by session cookie, second factor included (no forms);
- ``check(name)``: axe-core's WCAG 2.1 A/AA rules on the current page must find nothing, no
  script error may have happened, and a full-page screenshot is saved as ``name``;
- ``roster_worker``: does what a Celery worker would with a queued roster import, in the test's
  own thread, between the browser's polls (so the progress bar is seen moving).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Flags from the machine notes: no sandbox as root, no GPU, and nothing that phones home on a
# network that refuses every outside connection.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"


@pytest.fixture(scope="package")
def _async_unsafe_allowed() -> Iterator[None]:
    """Playwright's sync API keeps an event loop running in the test thread, which makes Django
    refuse ORM calls there. Allowed for these tests only, and put back after them."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if before is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="package")
def browser(_async_unsafe_allowed: None) -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or not AXE.exists():
        missing = CHROMIUM if not Path(CHROMIUM).exists() else str(AXE)
        message = f"{missing} is missing: ./run tests installs chromium (apt) and axe-core (npm)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def _quiet_broker() -> Iterator[None]:
    """Queued tasks go to an in-memory broker nobody consumes: ``roster_worker`` does the work
    in the test's thread, and nothing lands in a developer's var/celery queue."""
    from config.celery import app

    def use(url: str) -> None:
        app.conf.broker_url = url
        # The producer pool is cached on the app's AMQP helper with the old broker's
        # connection; dropping the helper makes the next publish connect to the new one.
        app.__dict__.pop("amqp", None)

    before = app.conf.broker_url
    use("memory://")
    yield
    use(before)


@pytest.fixture(scope="package")
def screenshot_dir() -> Path:
    from django.db import connection

    folder = SCREENSHOTS / connection.vendor
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="package")
def live_server(django_db_blocker: Any) -> Iterator[Any]:
    """Django's live server on 127.0.0.1: SAML (python3-saml) refuses single-label hosts such as
    ``localhost``, which pytest-django's own live server would use."""
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        server = LiveServer("127.0.0.1:0")
    yield server
    server.stop()


@pytest.fixture
def page(
    browser: Any, live_server: Any, transactional_db: None, _quiet_broker: None, settings: Any
) -> Iterator[Any]:
    # Links in SAML requests and metadata are built from SITE_URL: point them at this server.
    settings.SITE_URL = live_server.url
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.script_errors = []
    tab.on("pageerror", lambda error: tab.script_errors.append(str(error)))
    yield tab
    context.close()


@pytest.fixture
def login(page: Any, live_server: Any) -> Callable[..., None]:
    """Sign a user in by giving the browser a session cookie made by Django's test client."""
    from django.test import Client

    from tests.conftest import complete_mfa

    def sign_in(user: Any, tab: Any = None) -> None:
        """Staff as if they had also used their authenticator (the portal asks staff for one)."""
        client = Client()
        complete_mfa(client, user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        (tab or page).context.clear_cookies()
        (tab or page).context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
        )

    return sign_in


@pytest.fixture
def check(page: Any, screenshot_dir: Path) -> Callable[..., dict]:
    """axe-core on the page as it is now: no WCAG 2.1 A or AA violation, no script error; then a
    full-page screenshot. Returns axe's results."""

    def run(name: str, tab: Any = None) -> dict:
        tab = tab or page
        tab.wait_for_load_state("load")
        tab.add_script_tag(path=str(AXE))
        results = tab.evaluate(
            "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
        )
        tab.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
        violations = results["violations"]
        with (screenshot_dir / "axe-summary.jsonl").open("a") as summary:
            summary.write(
                json.dumps(
                    {
                        "page": name,
                        "url": tab.url,
                        "passes": len(results["passes"]),
                        "violations": len(violations),
                    }
                )
                + "\n"
            )
        readable = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[node['target'] for node in v['nodes']][:5]}"
            for v in violations
        ]
        assert not readable, f"axe found WCAG 2.1 AA violations on {name} ({tab.url}):\n" + "\n".join(
            readable
        )
        assert not tab.script_errors, f"script errors on {name}: {tab.script_errors}"
        return results

    return run


@pytest.fixture
def roster_worker() -> Callable[..., Any]:
    """Run a queued roster import the way the Celery task would, in this thread.

    ``on_batch`` is called between batches, outside any transaction, so a test can wait there
    for the browser to show the progress the batch committed.
    """
    from agencies.models import RosterImport
    from agencies.services import roster_import_check, roster_import_run

    def work(uuid: Any, *, batch_size: int = 1, on_batch: Callable[[int], None] | None = None) -> Any:
        job = RosterImport.objects.select_related("agency", "created_by").get(uuid=uuid)
        if job.state == RosterImport.State.CHECKING:
            return roster_import_check(roster_import=job, batch_size=batch_size, on_batch=on_batch)
        return roster_import_run(roster_import=job, batch_size=batch_size, on_batch=on_batch)

    return work
