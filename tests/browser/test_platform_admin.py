"""The platform admin pages in a real browser: a platform admin made with the CLI signs in, uses
the platform admin navigation from the header's "Platform admin" link by keyboard, visits every
platform admin page and the operator pages in the signed-in layout, finds a service by part of
its name (typing and submitting the form by keyboard) and a person by email address, opens the
person's page, filters the audit trail, and runs a scheduled job now. Every page passes axe and
is saved as a screenshot."""

import re

from conftest import look
from test_team import code_for

ADMIN = "pia.platform@example.gov.uk"
PASSWORD = "a long enough pass phrase 9"
SERVICE = "Fishing licence reminders"


def api(page, method, path, body=None):
    base = "/".join(page.url.split("/")[:3])
    token = page.request.get(base + "/session").json()["data"]["csrf_token"]
    return page.request.fetch(base + path, method=method, data=body, headers={"X-CSRF-Token": token})


def tab_to(page, predicate, limit=40):
    """Press Tab until `predicate(active element description)` holds; answers what has focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "({tag: document.activeElement.tagName, id: document.activeElement.id,"
            " text: document.activeElement.textContent.trim(),"
            " href: document.activeElement.getAttribute('href') || ''})"
        )
        if predicate(focused):
            return focused
    raise AssertionError("Tab never reached the element")


def test_platform_admin_pages(server, browser):
    ctx = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 900})
    page = ctx.new_page()
    seen = set()
    link = server.cli("user", "create", "--email", ADMIN, "--name", "Pia Platform", "--platform-admin")
    page.goto(link)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    if page.url.endswith("/two-factor"):
        page.get_by_role("textbox").fill(code_for(server, ctx, ADMIN, seen))
        page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/your-services"), page.url
    r = api(page, "POST", "/service", {"name": SERVICE, "restricted": True})
    assert r.status == 201, r.text()
    service_id = r.json()["data"]["id"]

    # The header's link, by keyboard, to the summary; then along the navigation.
    tab_to(page, lambda f: f["href"] == "/platform-admin")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/platform-admin$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Summary"
    assert "in trial mode" in page.inner_text("main")
    look(page, "platform-admin-summary")
    focused = tab_to(page, lambda f: f["href"] == "/platform-admin/trial-services")
    assert focused["text"] == "Trial mode services", focused
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/platform-admin/trial-services$"))
    assert SERVICE in page.inner_text("main")
    look(page, "platform-admin-trial-services")

    page.get_by_role("navigation", name="Platform admin").get_by_role("link", name="Live services").click()
    look(page, "platform-admin-live-services")

    # Find a service by part of its name, by keyboard: Tab to the search box, type, Enter.
    page.goto(server.base + "/find-services-by-name")
    look(page, "platform-admin-find-services")
    tab_to(page, lambda f: f["id"] == "search")
    page.keyboard.type("licence REM")
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.tagName, document.activeElement.textContent]")
    assert focused == ["BUTTON", "Search"], focused
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"search=licence"))
    assert "1 service found" in page.inner_text("main")
    look(page, "platform-admin-find-services-found")
    page.get_by_role("link", name=SERVICE).click()
    assert page.url.endswith(f"/services/{service_id}"), page.url

    # Find a person by email, and their page.
    page.goto(server.base + "/find-users-by-email")
    page.get_by_label("Find users by email").fill("pia.platform@")
    page.get_by_role("button", name="Search").click()
    look(page, "platform-admin-find-users")
    page.locator("main").get_by_role("link", name="Pia Platform").click()
    assert re.search(r"/users/[0-9a-f-]{36}$", page.url), page.url
    assert SERVICE in page.inner_text("main")
    look(page, "platform-admin-user")
    page.get_by_role("link", name=re.compile("What this person did")).click()
    assert "service.created" in page.inner_text("main")
    look(page, "platform-admin-audit-user")

    # Someone else's account: locked, unlocked and archived with its buttons, a banner each time.
    server.cli("user", "create", "--email", "lee.leaver@example.gov.uk", "--name", "Lee Leaver")
    page.goto(server.base + "/find-users-by-email?search=lee.leaver")
    page.locator("main").get_by_role("link", name="Lee Leaver").click()
    # By keyboard: Tab reaches the account's buttons in order.
    tab_to(page, lambda f: f["text"] == "Lock account")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Archive user"
    page.keyboard.press("Shift+Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("?done=account-locked"), page.url
    assert "cannot sign in" in page.inner_text(".notification-banner--success")
    look(page, "platform-admin-user-locked")
    page.get_by_role("button", name="Unlock account").click()
    assert "Account unlocked" in page.inner_text(".notification-banner--success")
    page.get_by_role("button", name="Archive user").click()
    assert "Are you sure you want to archive this user?" in page.inner_text("main")
    look(page, "platform-admin-user-archive")
    page.get_by_role("button", name="Yes, archive this user").click()
    assert "Account archived" in page.inner_text(".notification-banner--success")
    assert page.get_by_role("button", name="Lock account").count() == 0

    # A filter that is not an id: the error summary, the field's error, what was typed kept.
    page.goto(server.base + "/platform-admin/audit")
    page.get_by_label("Service ID").fill("fishing")
    page.get_by_role("button", name="Filter").click()
    assert page.locator(".error-summary").is_visible()
    assert page.get_by_label("Service ID").input_value() == "fishing"
    look(page, "platform-admin-audit-error")

    for path, name, heading in [
        ("/providers", "platform-admin-providers", "Providers"),
        ("/platform-admin/print-runs", "platform-admin-print-runs", "Print runs"),
        ("/platform-admin/audit", "platform-admin-audit", "Audit trail"),
        ("/", "platform-admin-status", "System status"),
        ("/outbox", "platform-admin-outbox", "Outbox"),
        ("/alerts", "platform-admin-alerts", "Alerts"),
        ("/scheduler", "platform-admin-scheduler", "Scheduled jobs"),
    ]:
        page.goto(server.base + path)
        assert page.get_by_role("heading", level=1).inner_text() == heading, path
        # Signed in, with the platform admin navigation, the current page marked.
        assert page.get_by_role("button", name="Sign out").is_visible(), path
        nav = page.get_by_role("navigation", name="Platform admin")
        assert nav.locator('[aria-current="page"]').count() == 1, path
        look(page, name)

    # Run a job now from the scheduler page.
    page.get_by_role("button", name="Run now delete-inbound-sms").click()
    assert "delete-inbound-sms has run" in page.inner_text("main")
    look(page, "platform-admin-scheduler-ran")
    ctx.close()
