"""The API integration pages in a real browser, with the official Python client: a developer
(made with the CLI, not a platform admin) signs in, adds a service (in trial mode), finds API
integration, creates a team key by keyboard alone (a bad form first; "live" is not on offer in
trial mode), copies the key from the page that shows it once, and the official
`notifications_python_client` sends an email with it to the running server; the message shows in
the service's sent messages. The guest list, callbacks (a refused URL first), the message log
and the key list are visited too; the key is revoked and the client is refused. Every page
passes axe and is saved as a screenshot."""

import os
import re
import tempfile
import time

import pytest
from conftest import look
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from test_send import tab_to
from test_team import code_for

DEVELOPER = "ada.integrator@example.gov.uk"
PASSWORD = "an unusual and long passphrase 31"
# The suite shares one server, and service names are unique.
SERVICE = "Library loans API"


def sign_in_first_time(server, context):
    link = server.cli("user", "create", "--email", DEVELOPER, "--name", "Ada Integrator")
    page = context.new_page()
    page.goto(link)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    if page.url.endswith("/two-factor"):
        page.get_by_role("textbox").fill(code_for(server, context, DEVELOPER, set()))
        page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/your-services"), page.url
    return page


def email_template(server, service_id):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("Dear ((name)), your book is due back soon.")
        body = f.name
    try:
        out = server.cli(
            "template", "create", "--service", service_id, "--type", "email",
            "--name", "Book due", "--subject", "Your loan", "--body-file", body,
        )
    finally:
        os.unlink(body)
    return re.search(r"[0-9a-f-]{36}", out).group(0)


def test_a_developer_makes_a_key_in_the_page_and_the_official_client_sends_with_it(server, context):
    page = sign_in_first_time(server, context)
    page.get_by_role("link", name="Add a new service").click()
    page.get_by_label("Service name").fill(SERVICE)
    page.get_by_role("button", name="Add service").click()
    service_url = page.url
    service_id = re.search(r"/services/([0-9a-f-]{36})$", service_url).group(1)
    template_id = email_template(server, service_id)

    # API integration, from the service's navigation.
    page.get_by_role("link", name="API integration").click()
    assert page.url == service_url + "/api", page.url
    assert service_id in page.inner_text("#service-id")
    look(page, "api-integration-empty")
    page.get_by_role("link", name="API keys").click()
    assert "You have not created any API keys yet" in page.inner_text("main")
    look(page, "api-keys-empty")
    page.get_by_role("button", name="Create an API key").click()
    assert page.url.endswith("/api/keys/create"), page.url
    assert page.locator("#key_type").is_disabled(), "live keys are not for trial mode"
    look(page, "api-key-create")

    # By keyboard alone: nothing chosen first, then a name and the team key.
    tab_to(page, "key_name")
    page.keyboard.type("Loans system")
    page.keyboard.press("Tab")
    # The first radio that can be chosen: "Team and guest list" (live is disabled).
    assert page.evaluate("document.activeElement.id") == "key_type-2", page.evaluate(
        "document.activeElement.id"
    )
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Continue"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".error-summary").is_visible()
    assert "Select a type of API key" in page.inner_text(".error-summary")
    assert page.get_by_label("Name for this key").input_value() == "Loans system"
    look(page, "api-key-create-error")
    tab_to(page, "key_type-2")
    page.keyboard.press("Space")
    assert page.locator("#key_type-2").is_checked()
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "New API key" in page.inner_text("h1")
    key = page.inner_text("#api-key").strip()
    assert key.startswith(f"loans_system-{service_id}-"), key
    look(page, "api-key-new")

    # The official client, with the key as copied, against the running server.
    client = NotificationsAPIClient(key, base_url=server.base)
    sent = client.send_email_notification(
        email_address=DEVELOPER, template_id=template_id, personalisation={"name": "Ada"}
    )
    assert sent["content"]["subject"] == "Your loan"
    notification_id = sent["id"]

    # The key is not shown again.
    page.get_by_role("link", name="Back to API keys").click()
    keys = page.inner_text("main")
    assert "Loans system" in keys and "Team and guest list" in keys, keys
    assert key[-36:] not in page.content()
    look(page, "api-keys")

    # The message shows in the sent messages and in the API message log.
    page.get_by_role("link", name="Sent messages").click()
    deadline = time.monotonic() + 30
    while notification_id not in page.content():
        assert time.monotonic() < deadline, "the message never showed in sent messages"
        time.sleep(0.3)
        page.reload()
    assert DEVELOPER in page.inner_text("#notifications")
    look(page, "api-sent-messages")
    page.goto(service_url + "/api")
    assert DEVELOPER in page.inner_text("#message-log")
    page.locator("#message-log summary").first.click()
    assert notification_id in page.inner_text("#message-log")
    look(page, "api-integration-log")

    # The guest list and callbacks (a refused URL first, kept as typed).
    page.get_by_role("link", name="Guest list").click()
    look(page, "api-guest-list")
    page.get_by_label("email address number 1").fill("not an address")
    page.get_by_role("button", name="Save").click()
    assert page.locator(".error-summary").is_visible()
    look(page, "api-guest-list-error")
    page.get_by_label("email address number 1").fill("reader@example.com")
    page.get_by_role("button", name="Save").click()
    assert page.url == service_url + "/api", page.url
    page.get_by_role("link", name="Callbacks").click()
    look(page, "api-callbacks")
    page.get_by_role("link", name=re.compile("Change")).first.click()
    page.get_by_label("URL").fill("http://loans.example.gov.uk/status")
    page.get_by_label("Bearer token").fill("short")
    page.get_by_role("button", name="Save").click()
    assert "Must be a valid https URL" in page.inner_text(".error-summary")
    assert page.get_by_label("URL").input_value() == "http://loans.example.gov.uk/status"
    look(page, "api-callback-error")
    page.get_by_label("URL").fill("https://loans.example.gov.uk/status")
    page.get_by_label("Bearer token").fill("a long enough token")
    page.get_by_role("button", name="Save").click()
    assert "https://loans.example.gov.uk/status" in page.inner_text("#callbacks")
    look(page, "api-callbacks-set")
    page.goto(service_url + "/inbox")
    assert "Receive text messages" in page.inner_text("h1")
    look(page, "api-inbox-none")

    # Revoked in the page: the client is refused.
    page.goto(service_url + "/api/keys")
    page.get_by_role("link", name=re.compile("Revoke")).click()
    assert "Are you sure you want to revoke ‘Loans system’?" in page.inner_text("main")
    look(page, "api-key-revoke")
    page.get_by_role("button", name="Yes, revoke this API key").click()
    assert "Revoked" in page.inner_text("#api-keys")
    look(page, "api-keys-revoked")
    with pytest.raises(HTTPError) as refused:
        client.send_email_notification(email_address=DEVELOPER, template_id=template_id,
                                       personalisation={"name": "Ada"})
    assert refused.value.status_code == 403
