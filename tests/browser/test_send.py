"""A service team's first message, in a real browser: a platform admin signs in, adds a
service, writes an email template with a placeholder (a bad form first), sends one message to
themselves filling the placeholder one step at a time (a bad recipient first), sees the
message's page, finds it by recipient in the sent messages and sees it delivered (the embedded
default delivers to the outbox). Every page passes axe and is saved as a screenshot; the send
flow is also walked by keyboard alone."""

import re
import time

from conftest import look
from test_sign_in import newest_code

EMAIL = "bea.builder@example.gov.uk"
PASSWORD = "a long and unusual passphrase 97"


def sign_in(server, context):
    link = server.cli("user", "create", "--email", EMAIL, "--name", "Bea Builder", "--platform-admin")
    page = context.new_page()
    page.goto(link)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    if page.url.endswith("/two-factor"):
        # Codes to other people may be in the outbox too; this account's is the newest.
        code, _ = newest_code(server, context, 0)
        page.get_by_role("textbox").fill(code)
        page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/your-services"), page.url
    return page


def tab_to(page, element_id, limit=60):
    """Press Tab until the element with `element_id` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def test_a_team_sends_its_first_message_and_finds_it(server, context):
    page = sign_in(server, context)

    # A new service, from the services page.
    page.get_by_role("link", name="Add a new service").click()
    look(page, "add-service")
    page.get_by_role("button", name="Add service").click()
    assert page.locator(".error-summary").is_visible()
    look(page, "add-service-error")
    page.get_by_label("Service name").fill("Parking permits")
    page.get_by_role("button", name="Add service").click()
    assert re.search(r"/services/[0-9a-f-]{36}$", page.url), page.url
    service_url = page.url
    assert "Parking permits" in page.inner_text(".service-nav")
    look(page, "dashboard-empty")

    # An email template with a placeholder; an empty form first keeps nothing back.
    page.get_by_role("link", name="Templates").click()
    look(page, "templates-empty")
    page.get_by_role("link", name="New email template").click()
    look(page, "template-add")
    page.get_by_label("Template name").fill("Permit ready")
    page.get_by_role("button", name="Save").click()
    assert page.locator(".error-summary").is_visible()
    assert page.get_by_label("Template name").input_value() == "Permit ready"
    look(page, "template-add-error")
    page.get_by_label("Subject line of the email").fill("Your permit, ((name))")
    page.get_by_label("Message").fill("Dear ((name)),\n\nYour parking permit is ready.")
    # The live preview follows the typing (the script posts the form a moment after it stops).
    page.wait_for_function(
        "document.getElementById('template-preview').innerText.includes('Your parking permit is ready')"
    )
    assert "Your permit, ((name))" in page.inner_text("#template-preview")
    look(page, "template-add-live-preview")
    # By keyboard: from the message field, Tab reaches Save then Preview; Preview keeps the form.
    tab_to(page, "template_content")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Save"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Preview"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Your parking permit is ready" in page.inner_text("#template-preview")
    assert page.get_by_label("Template name").input_value() == "Permit ready"
    page.get_by_role("button", name="Save").click()
    assert re.search(r"/templates/[0-9a-f-]{36}$", page.url), page.url
    assert "((name))" in page.inner_text("#preview")
    look(page, "template")

    # Send it: the recipient (a bad one first), then the placeholder, by keyboard alone.
    page.get_by_role("link", name=re.compile("Get ready to send")).click()
    assert page.url.endswith("/one-off/step-0"), page.url
    look(page, "send-recipient")
    tab_to(page, "placeholder_value")
    page.keyboard.type("not an email address")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Continue"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".error-summary").is_visible()
    assert page.get_by_label("Email address").input_value() == "not an email address"
    look(page, "send-recipient-error")
    page.get_by_label("Email address").fill("")
    tab_to(page, "placeholder_value")
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Personalise this message" in page.inner_text("h1")
    look(page, "send-placeholder")
    tab_to(page, "placeholder_value")
    page.keyboard.type("Bea")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    preview = page.inner_text("#preview")
    assert "Your permit, Bea" in preview and "Dear Bea" in preview, preview
    look(page, "send-check")
    page.get_by_role("button", name="Send 1 email").click()
    assert re.search(r"/notification/[0-9a-f-]{36}$", page.url), page.url
    notification_url = page.url
    assert EMAIL in page.inner_text("main")
    look(page, "notification")

    # Delivered to the outbox: the page says so once the delivery worker has been.
    deadline = time.monotonic() + 30
    while "Delivered" not in page.inner_text("#status"):
        assert time.monotonic() < deadline, page.inner_text("#status")
        time.sleep(0.3)
        page.reload()
    assert "Delivered" in page.inner_text("#timeline")
    look(page, "notification-delivered")

    # Found by recipient in the sent messages (the search index may lag a moment).
    page.get_by_role("link", name="Sent messages").click()
    look(page, "sent-messages")
    deadline = time.monotonic() + 30
    while True:
        page.get_by_label(re.compile("Search by email address")).fill(EMAIL.upper())
        page.get_by_role("button", name="Search").click()
        if page.locator("#notifications").count() > 0:
            break
        assert time.monotonic() < deadline, "the message never appeared in search"
        time.sleep(0.3)
    row = page.inner_text("#notifications")
    assert EMAIL in row and "Delivered" in row and "Permit ready" in row, row
    look(page, "sent-messages-search")
    page.get_by_role("link", name=EMAIL).click()
    assert page.url == notification_url

    # The dashboard counts it; the template is listed under its type.
    page.goto(service_url)
    assert "1" in page.inner_text("#today")
    look(page, "dashboard")
    page.get_by_role("link", name="Templates").click()
    page.get_by_role("link", name="Email", exact=True).click()
    assert "Permit ready" in page.inner_text("#templates")
    look(page, "templates")

    # Another service's message is not found from here; a made-up service is not found.
    other = page.request.get(server.base + "/services/00000000-0000-0000-0000-000000000000")
    assert other.status == 404
