"""The admin UI in a real browser (Debian's Chromium, headless, driven by Playwright): sign
in, open every page of a demo tenant and screenshot it, edit a playbook through a validation
error, preview a health-weight change, replay a webhook, and check a rep can change nothing."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.ui.conftest import PASSWORD
from tests.ui.seed import PLAYBOOK_KEY, seed

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def chromium_path() -> str:
    """Debian's Chromium; its absence is a failure with the fix, never a silent skip."""
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not found:
        pytest.fail(
            "Chromium is not installed: the browser tests need Debian's package. Run "
            "`./dev test` (it installs it) or `apt-get update && apt-get install -y chromium`.",
            pytrace=False,
        )
    return found


@pytest.fixture
def tenant(session, users) -> dict:
    return seed(session)


@pytest.fixture
def live_url(app, tenant) -> Iterator[str]:
    """The app served over real HTTP on a free port, in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=ARGS, headless=True)
        yield b
        b.close()


class Session:
    """One signed-in browser context that records console errors (CSP violations among them)."""

    def __init__(self, browser, base: str, email: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{base}/")
        assert "/login" in self.page.url
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{base}/")

    def open(self, path: str, shot: str | None = None):
        response = self.page.goto(f"{self.base}{path}")
        assert response is not None and response.status == 200, f"{path}: {response.status}"
        self.page.wait_for_load_state("networkidle")
        if shot:
            SHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
        return response

    def close(self) -> None:
        self.context.close()


def test_admin_walks_every_page_and_changes_things(browser, live_url, tenant):
    """Every page renders with its charts and no console error; the admin flows work."""
    s = Session(browser, live_url, "admin@cshub.example")
    page = s.page
    pages = {
        "dashboard": "/",
        "accounts": "/accounts?sort=-risk",
        "account": f"/accounts/{tenant['account_id']}",
        "kpis": "/kpis",
        "playbooks": "/playbooks",
        "playbook_edit": f"/playbooks/{PLAYBOOK_KEY}",
        "outbox": "/outbox",
        "integrations": "/integrations",
        "inbox": "/inbox",
        "inbox_item": f"/inbox/{tenant['inbox_id']}",
        "health_config": "/health-config",
        "jobs": "/jobs",
        "audit": "/audit",
    }
    for name, path in pages.items():
        s.open(path, shot=name)
    assert not s.errors, s.errors

    s.open("/")
    assert page.evaluate("Object.keys(Chart.instances).length") >= 4  # sparklines, tiers, ...
    assert page.locator(".tile").count() >= 8
    assert page.locator("[data-kpi=nps] .value").inner_text() != ""

    # accounts: filter by tier, sort, page
    s.open("/accounts?tier=critical")
    tiers = page.locator("table.accounts .tier").all_inner_texts()
    assert tiers and set(tiers) == {"critical"}

    # playbook: a validation error, then the fix
    s.open(f"/playbooks/{PLAYBOOK_KEY}")
    original = page.input_value("textarea[name=yaml]")
    page.fill("textarea[name=yaml]", original.replace("kind: intervention", "kind: sorcery"))
    page.click("#playbook-form button[type=submit]")
    errors = page.locator("#playbook-errors")
    errors.wait_for()
    assert "kind" in errors.inner_text() and "line" in errors.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "playbook_validation_error.png"), full_page=True)
    assert s.errors == [
        "Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"
    ]  # the refused save itself, answered 422 as it should be
    s.errors.clear()
    page.fill("textarea[name=yaml]", original.replace("priority: 20", "priority: 15"))
    page.click("#playbook-form button[type=submit]")
    page.locator(".flash").first.wait_for()
    assert "version 2" in page.locator(".flash").first.inner_text()
    assert "priority: 15" in page.input_value("textarea[name=yaml]")
    page.fill("input[name=account_id]", str(tenant["account_id"]))
    page.click("button:has-text('Dry run')")
    page.locator("#dry-run-result").wait_for()
    assert "as of" in page.locator("#dry-run-result").inner_text()

    # health configuration: change a weight and see the preview
    s.open("/health-config")
    page.fill("input[name=comp__usage]", "40")
    page.fill("input[name=comp__relationship]", "10")
    page.click("#preview-button")
    preview = page.locator("#preview")
    preview.wait_for()
    assert preview.locator("tr[data-tier]").count() == 4
    assert page.input_value("input[name=comp__usage]") == "40"  # the edit is kept, unsaved
    page.screenshot(path=str(SHOTS / "health_preview.png"), full_page=True)

    # webhook inbox: replay a failed delivery
    s.open(f"/inbox/{tenant['inbox_id']}")
    page.once("dialog", lambda d: d.accept())
    page.click("#replay-form button")
    page.locator(".flash").first.wait_for()
    assert "queued for processing again" in page.locator(".flash").first.inner_text()

    # every change is in the audit log
    s.open("/audit", shot="audit_after_changes")
    actions = set(
        page.locator("tr[data-action]").evaluate_all("rs => rs.map(r => r.dataset.action)")
    )
    assert {"ui.sign_in", "inbox.replay"} <= actions
    assert any(a.startswith("playbook.") for a in actions)
    assert not s.errors, s.errors
    s.close()


def test_rep_sees_everything_and_changes_nothing(browser, live_url, tenant):
    """A rep gets every page without edit controls, and the server refuses their writes."""
    s = Session(browser, live_url, "rep@cshub.example")
    page = s.page
    s.open(f"/playbooks/{PLAYBOOK_KEY}", shot="rep_playbook")
    assert page.locator("textarea[name=yaml]").get_attribute("readonly") is not None
    assert page.locator("#playbook-form button[type=submit]").count() == 0
    s.open("/health-config", shot="rep_health_config")
    assert page.locator("#preview-button").count() == 0
    s.open(f"/inbox/{tenant['inbox_id']}")
    assert page.locator("#replay-form").count() == 0
    s.open("/kpis")
    assert page.locator("input[name^=target__]").count() == 0
    token = page.get_attribute("meta[name=csrf-token]", "content")
    for path, form in (
        (f"/playbooks/{PLAYBOOK_KEY}", {"yaml": "key: x"}),
        ("/health-config", {"comp__usage": "99"}),
        (f"/inbox/{tenant['inbox_id']}/replay", {}),
        ("/kpis/settings", {"target__nps": "1"}),
        ("/outbox/1/resend", {}),
        ("/jobs/failed/default/retry-all", {}),
    ):
        answer = s.context.request.post(f"{live_url}{path}", form={"csrf_token": token, **form})
        assert answer.status == 403, path
    assert not s.errors, s.errors
    s.close()
