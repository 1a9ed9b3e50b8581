"""A service's settings in a real browser: a platform admin adds a service, then from its
settings page changes the service name (an empty name first: the error summary, nothing lost),
adds a reply-to email address (a bad one first), adds a letter contact block over several
lines (eleven lines first) and sets a data retention period (out of range first). The name
change is also made by keyboard alone. Every page passes axe and is saved as a screenshot."""

import re

from conftest import look
from test_team import code_for

EMAIL = "sid.settings@example.gov.uk"
PASSWORD = "settings need a long passphrase 31"
SERVICE = "Settings walkthrough"


def sign_in(server, context):
    link = server.cli("user", "create", "--email", EMAIL, "--name", "Sid Settings", "--platform-admin")
    page = context.new_page()
    page.goto(link)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    if page.url.endswith("/two-factor"):
        page.get_by_role("textbox").fill(code_for(server, context, EMAIL, set()))
        page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/your-services"), page.url
    return page


def tab_to(page, element_id, limit=80):
    """Press Tab until the element with `element_id` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def row_value(page, key):
    """The value of the settings summary's row `key`."""
    row = page.locator(".summary-list__row", has=page.locator("dt", has_text=key)).first
    return row.locator(".summary-list__value").inner_text().strip()


def test_a_service_changes_its_settings(server, context):
    page = sign_in(server, context)
    page.get_by_role("link", name="Add a new service").click()
    page.get_by_label("Service name").fill(SERVICE)
    page.get_by_role("button", name="Add service").click()
    assert re.search(r"/services/[0-9a-f-]{36}$", page.url), page.url
    service_url = page.url

    page.get_by_role("link", name="Settings", exact=True).click()
    assert page.url == service_url + "/service-settings"
    assert row_value(page, "Service name") == SERVICE
    look(page, "settings")

    # The name, by keyboard alone: emptied first (an error, the field kept), then changed.
    page.get_by_role("link", name="Change service name").click()
    look(page, "settings-name")
    tab_to(page, "name")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Save"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".error-summary").is_visible()
    assert "Enter a service name" in page.inner_text(".error-summary")
    look(page, "settings-name-error")
    tab_to(page, "name")
    page.keyboard.type(SERVICE + " renamed")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == service_url + "/service-settings?done=settings-saved", page.url
    assert "Your changes have been saved" in page.inner_text(".notification-banner--success")
    look(page, "settings-saved")
    assert row_value(page, "Service name") == SERVICE + " renamed"

    # A reply-to address: a bad one is shown back with its error.
    page.get_by_role("link", name="Manage reply-to email addresses").click()
    look(page, "settings-reply-to-empty")
    page.get_by_role("button", name="Add reply-to email address").click()
    look(page, "settings-reply-to-add")
    page.get_by_label("Reply-to email address").fill("replies@")
    page.get_by_role("button", name="Add", exact=True).click()
    assert page.locator(".error-summary").is_visible()
    assert page.get_by_label("Reply-to email address").input_value() == "replies@"
    look(page, "settings-reply-to-add-error")
    page.get_by_label("Reply-to email address").fill("replies@example.gov.uk")
    page.get_by_role("button", name="Add", exact=True).click()
    assert page.url.endswith("/service-settings/email-reply-to"), page.url
    assert "replies@example.gov.uk (default)" in page.inner_text("main")
    look(page, "settings-reply-to")
    page.get_by_role("link", name="Change replies@example.gov.uk").click()
    look(page, "settings-reply-to-edit")
    page.get_by_role("link", name="Back", exact=True).click()
    page.get_by_role("link", name="Back", exact=True).click()
    assert row_value(page, "Reply-to email addresses") == "replies@example.gov.uk"

    # A letter contact block: eleven lines are too many, and nothing typed is lost.
    page.get_by_role("link", name="Manage sender addresses").click()
    look(page, "settings-letter-contacts-empty")
    page.get_by_role("button", name="Add a new address").click()
    eleven = "\n".join(f"Line {n}" for n in range(1, 12))
    field = page.get_by_label("This will appear as the sender address on your letters")
    field.fill(eleven)
    page.get_by_role("button", name="Add", exact=True).click()
    assert "the most you can have is 10 lines" in page.inner_text(".error-summary")
    assert field.input_value() == eleven
    look(page, "settings-letter-contact-add-error")
    field.fill("Parking Services\n1 High Street\nTown AB1 2CD")
    page.get_by_role("button", name="Add", exact=True).click()
    assert page.url.endswith("/service-settings/letter-contacts"), page.url
    assert "1 High Street" in page.inner_text("main")
    look(page, "settings-letter-contacts")
    page.get_by_role("link", name="Back", exact=True).click()
    assert "Parking Services\n1 High Street" in row_value(page, "Sender addresses")

    # Data retention (a platform admin's page): out of range first.
    page.get_by_role("link", name="Change data retention").click()
    look(page, "settings-data-retention-empty")
    page.get_by_role("button", name="Add data retention").click()
    page.get_by_label("Email", exact=True).check()
    page.get_by_label("Days of retention").fill("365")
    page.get_by_role("button", name="Add", exact=True).click()
    assert "between 3 and 90" in page.inner_text(".error-summary")
    assert page.get_by_label("Days of retention").input_value() == "365"
    assert page.get_by_label("Email", exact=True).is_checked()
    look(page, "settings-data-retention-add-error")
    page.get_by_label("Days of retention").fill("30")
    page.get_by_role("button", name="Add", exact=True).click()
    assert page.url.endswith("/data-retention"), page.url
    assert "30 days" in page.inner_text("main")
    look(page, "settings-data-retention")
    page.get_by_role("link", name="Back", exact=True).click()
    assert "Email – 30 days" in row_value(page, "Data retention period")
    look(page, "settings-changed")
