"""Issue 27's "Done when", as one story in a real browser, touching neither the CLI (beyond the
README's first-administrator step) nor JSON: the first platform admin signs in, sets up an
authenticator app and signs in again with it (TOTP), adds a service, makes it live, and invites a
caseworker and a developer. The caseworker accepts, writes an email template with a
placeholder, sends one message, finds it by recipient in the sent messages and sees it
delivered; uploads a 20-row spreadsheet with one bad row, sees the error on that row, uploads
the fixed file, sends it and watches the job finish; writes a letter template, sends one letter
to a typed address and opens its PDF from the message's page. The developer creates an API key
and the official Python client sends with it. Every page passes axe (the other browser tests
save most of these pages as screenshots; this one saves the pages only it reaches)."""

import base64
import hashlib
import hmac
import re
import struct
import time

from conftest import look
from notifications_python_client.notifications import NotificationsAPIClient
from test_jobs import BAD_ROW, sheet
from test_team import code_for, newest_message

ADMIN = "fran.first@example.gov.uk"
CASEWORKER = "carl.case@example.gov.uk"
DEVELOPER = "dee.dev@example.gov.uk"
PASSWORD = "a first and rather long passphrase 5"
# The suite shares one server, and service names are unique.
SERVICE = "Council tax reminders"


def totp(key, at):
    """The 6-digit code an authenticator app shows for `key` (base32, as the page shows it,
    in groups) at unix time `at` (RFC 6238: SHA-1, 30-second steps)."""
    key = key.replace(" ", "").upper()
    secret = base64.b32decode(key + "=" * (-len(key) % 8))
    digest = hmac.new(secret, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def wait_for(page, condition, what, seconds=60):
    """Reload `page` until `condition()` holds (as a person without JavaScript would)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)
        page.reload()


def accept_invitation(server, browser, email, name):
    ctx = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 900})
    page = ctx.new_page()
    page.goto(newest_message(server, ctx, email, r"(https?://\S+/invitation/\S+)"))
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/your-services"), page.url
    page.get_by_role("link", name=SERVICE).click()
    return ctx, page


def test_a_newcomer_sets_up_a_service_and_sends_without_the_cli(server, browser, tmp_path):
    admin_ctx = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 900})
    admin = admin_ctx.new_page()

    # The README's first-administrator step, then a password and the emailed code.
    link = server.cli("user", "create", "--email", ADMIN, "--name", "Fran First", "--platform-admin")
    admin.goto(link)
    admin.get_by_label("Password").fill(PASSWORD)
    admin.get_by_role("button", name="Continue").click()
    if admin.url.endswith("/two-factor"):
        admin.get_by_role("textbox").fill(code_for(server, admin_ctx, ADMIN, set()))
        admin.get_by_role("button", name="Continue").click()
    assert admin.url.endswith("/your-services"), admin.url

    # An authenticator app instead of emailed codes.
    admin.get_by_role("link", name="Fran First").click()
    admin.get_by_role("link", name="Set up an authenticator app").click()
    look(admin, "authenticator")
    key = admin.inner_text("#authenticator-key")
    now = time.time()
    wrong = f"{(int(totp(key, now)) + 1) % 1_000_000:06d}"
    admin.get_by_label("Enter the 6-digit code from your authenticator app").fill(wrong)
    admin.get_by_role("button", name="Continue").click()
    assert admin.locator(".error-summary").is_visible(), "a wrong code is refused"
    look(admin, "authenticator-error")
    admin.get_by_label("Enter the 6-digit code from your authenticator app").fill(totp(key, now))
    admin.get_by_role("button", name="Continue").click()
    assert "/user-profile/authenticator" not in admin.url, admin.inner_text("main")
    admin.get_by_role("button", name=re.compile("Sign out")).click()

    # Signing in again asks for the app's code (the next step's: a code is used once).
    admin.goto(server.base + "/sign-in")
    admin.get_by_label("Email address").fill(ADMIN)
    admin.get_by_label("Password").fill(PASSWORD)
    admin.get_by_role("button", name="Continue").click()
    assert admin.url.endswith("/two-factor"), admin.url
    assert "authenticator" in admin.inner_text("main").lower()
    look(admin, "two-factor-authenticator")
    admin.get_by_role("textbox").fill(totp(key, now + 30))
    admin.get_by_role("button", name="Continue").click()
    assert admin.url.endswith("/your-services"), admin.url

    # A service, made live in its settings (letters and strangers need that).
    admin.get_by_role("link", name="Add a new service").click()
    admin.get_by_label("Service name").fill(SERVICE)
    admin.get_by_role("button", name="Add service").click()
    service_url = admin.url
    service_id = re.search(r"/services/([0-9a-f-]{36})$", service_url).group(1)
    admin.get_by_role("link", name="Settings").click()
    admin.get_by_role("link", name=re.compile("Change service status")).click()
    admin.get_by_label("On", exact=True).check()
    admin.get_by_role("button", name="Save").click()
    assert "Trial mode" not in admin.inner_text(".service-nav")

    # A caseworker and a developer invited.
    for email, permissions in [
        (CASEWORKER, ["See dashboard", "Send messages", "Add and edit templates"]),
        (DEVELOPER, ["Manage API integration"]),
    ]:
        admin.goto(f"{service_url}/users/invite")
        admin.get_by_label("Email address").fill(email)
        for label in permissions:
            admin.get_by_label(label, exact=True).check()
        admin.get_by_role("button", name="Send invitation email").click()
        assert f"{email} (invited)" in admin.inner_text("main")

    # The caseworker accepts, writes a template with a placeholder and sends one message.
    case_ctx, case = accept_invitation(server, browser, CASEWORKER, "Carl Case")
    case.get_by_role("link", name="Templates").click()
    case.get_by_role("link", name="New email template").click()
    case.get_by_label("Template name").fill("Bill reminder")
    case.get_by_label("Subject line of the email").fill("Your council tax, ((name))")
    case.get_by_label("Message").fill("Dear ((name)),\n\nYour council tax bill is due.")
    case.get_by_role("button", name="Save").click()
    template_url = case.url
    template_id = re.search(r"/templates/([0-9a-f-]{36})$", template_url).group(1)
    case.get_by_role("link", name=re.compile("Get ready to send")).click()
    case.get_by_label("Email address").fill("resident@example.com")
    case.get_by_role("button", name="Continue").click()
    case.get_by_role("textbox").fill("Rita")
    case.get_by_role("button", name="Continue").click()
    assert "Dear Rita" in case.inner_text("#preview")
    case.get_by_role("button", name="Send 1 email").click()
    assert re.search(r"/notification/[0-9a-f-]{36}$", case.url), case.url

    # Found by recipient in the sent messages, delivered.
    case.get_by_role("link", name="Sent messages").click()
    deadline = time.monotonic() + 60
    while True:
        case.get_by_label(re.compile("Search by email address")).fill("resident@example.com")
        case.get_by_role("button", name="Search").click()
        found = case.locator("#notifications")
        if found.count() and "Delivered" in found.inner_text():
            break
        assert time.monotonic() < deadline, "the message was never found delivered"
        time.sleep(0.3)
    assert "Bill reminder" in case.inner_text("#notifications")

    # A spreadsheet of 20 with one bad row: the error on that row; the fixed file sent.
    case.goto(template_url)
    case.get_by_role("link", name="Upload a list of email addresses").click()
    case.set_input_files("#file", sheet(tmp_path / "march.csv", bad=True))
    case.get_by_role("button", name="Upload your file").click()
    assert "You need to fix 1 email address." in case.inner_text("#sheet-problem")
    assert "Not a valid email address" in case.inner_text(f"#row-{BAD_ROW}")
    case.set_input_files("#file", sheet(tmp_path / "march-fixed.csv"))
    case.get_by_role("button", name="Upload your file again").click()
    case.get_by_role("button", name="Send 20 emails").click()
    assert re.search(r"/jobs/[0-9a-f-]{36}$", case.url), case.url
    wait_for(case, lambda: case.inner_text("#count-delivered").strip() == "20", "the job never finished")
    assert case.inner_text("#count-failed").strip() == "0"

    # A letter to a typed address, and its PDF from the message's page.
    case.get_by_role("link", name="Templates").click()
    case.get_by_role("link", name="New letter template").click()
    case.get_by_label("Template name").fill("Bill letter")
    case.get_by_label("Main heading").fill("Your council tax bill")
    case.get_by_label("Body").fill("Dear ((name)),\n\nYour bill is enclosed.")
    case.get_by_role("button", name="Save").click()
    # The template's page shows the letter's first page as it will print (a real image).
    case.wait_for_function(
        "(() => { const i = document.querySelector('.letter-page img');"
        " return i && i.complete && i.naturalWidth > 0; })()"
    )
    assert case.evaluate("document.querySelector('.letter-page img').naturalWidth") > 700
    look(case, "template-letter")
    case.get_by_role("link", name=re.compile("Get ready to send")).click()
    case.get_by_label("Address").fill("Rita Resident\n1 High Street\nLeeds\nLS1 1AA")
    case.get_by_role("button", name="Continue").click()
    case.get_by_role("textbox").fill("Rita")
    case.get_by_role("button", name="Continue").click()
    case.get_by_role("button", name="Send 1 letter").click()
    assert re.search(r"/notification/[0-9a-f-]{36}$", case.url), case.url
    assert "1 High Street" in case.inner_text("#preview"), "the address as printed"
    look(case, "notification-letter")
    pdf_link = case.locator("#letter-pdf")
    assert pdf_link.is_visible()
    pdf_url = server.base + pdf_link.get_attribute("href")
    deadline = time.monotonic() + 60
    while (r := case.request.get(pdf_url)).status != 200:
        assert r.status == 404, r.status
        assert time.monotonic() < deadline, "the letter's PDF was never made"
        time.sleep(0.3)
    assert r.headers["content-type"] == "application/pdf"
    assert r.body().startswith(b"%PDF")

    # The developer accepts, creates a key, and the official client sends with it.
    dev_ctx, dev = accept_invitation(server, browser, DEVELOPER, "Dee Dev")
    dev.get_by_role("link", name="API integration").click()
    dev.get_by_role("link", name="API keys").click()
    dev.get_by_role("button", name="Create an API key").click()
    dev.get_by_label("Name for this key").fill("Reminders system")
    dev.get_by_label(re.compile("^Live")).check()
    dev.get_by_role("button", name="Continue").click()
    api_key = dev.inner_text("#api-key").strip()
    client = NotificationsAPIClient(api_key, base_url=server.base)
    sent = client.send_email_notification(
        email_address="another.resident@example.com",
        template_id=template_id,
        personalisation={"name": "Sam"},
    )
    assert sent["content"]["subject"] == "Your council tax, Sam"
    wait_for(
        case,
        lambda: client.get_notification_by_id(sent["id"])["status"] == "delivered",
        "the client's message was never delivered",
    )
    for ctx in (admin_ctx, case_ctx, dev_ctx):
        ctx.close()
