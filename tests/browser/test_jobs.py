"""Sending from a spreadsheet, in a real browser (issue 27): a caseworker's service gets an email
template; they upload a 20-row CSV with one bad row, see the error against that row and column,
upload the fixed file, send, and watch the job reach its end (the embedded default delivers to
the outbox). A second upload is scheduled, then cancelled after the question. The upload and
check pages are walked by keyboard; every page passes axe and is saved as a screenshot."""

import re
import time

from conftest import look
from test_send import tab_to
from test_sign_in import newest_code

EMAIL = "jo.jobs@example.gov.uk"
PASSWORD = "a long and unusual passphrase 31"
SERVICE = "Jobs browser test"
BAD_ROW = 8  # the spreadsheet's row number (the header is row 1)


def sign_in(server, context, email=EMAIL, name="Jo Caseworker"):
    """A new platform admin, from the CLI's first sign-in link to their services."""
    link = server.cli("user", "create", "--email", email, "--name", name, "--platform-admin")
    page = context.new_page()
    page.goto(link)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    if page.url.endswith("/two-factor"):
        code, _ = newest_code(server, context, 0)
        page.get_by_role("textbox").fill(code)
        page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/your-services"), page.url
    return page


def sheet(path, bad=False):
    lines = ["email address,name"]
    for i in range(20):
        address = f"resident{i}@example.com"
        if bad and i + 2 == BAD_ROW:
            address = "resident.example.com"
        lines.append(f"{address},Resident {i}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_a_caseworker_sends_from_a_spreadsheet(server, context, tmp_path):
    page = sign_in(server, context)

    # A service out of trial mode (so the sheet's people can receive) with an email template.
    page.get_by_role("link", name="Add a new service").click()
    page.get_by_label("Service name").fill(SERVICE)
    page.get_by_role("button", name="Add service").click()
    service_url = page.url
    service_id = re.search(r"/services/([0-9a-f-]{36})$", service_url).group(1)
    server.cli("service", "update", "--service", service_id, "--trial", "false")
    page.get_by_role("link", name="Templates").click()
    page.get_by_role("link", name="New email template").click()
    page.get_by_label("Template name").fill("Bin collection")
    page.get_by_label("Subject line of the email").fill("Your bin day, ((name))")
    page.get_by_label("Message").fill("Dear ((name)),\n\nYour bins are now collected on Tuesdays.")
    page.get_by_role("button", name="Save").click()
    assert re.search(r"/templates/[0-9a-f-]{36}$", page.url), page.url

    # The upload page, reached from the template, walked by keyboard.
    page.get_by_role("link", name="Upload a list of email addresses").click()
    assert page.url.endswith("/csv"), page.url
    assert "Upload a list of email addresses" in page.inner_text("h1")
    assert "email address" in page.inner_text("#example")
    look(page, "jobs-upload")
    tab_to(page, "file")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Upload your file"

    # A file with one bad row: the problem is said, and shown against its row and column.
    page.set_input_files("#file", sheet(tmp_path / "residents.csv", bad=True))
    page.get_by_role("button", name="Upload your file").click()
    assert "/check/" in page.url, page.url
    banner = page.inner_text("#sheet-problem")
    assert "There’s a problem with residents.csv" in banner, banner
    assert "You need to fix 1 email address." in banner, banner
    row = page.locator(f"#row-{BAD_ROW}")
    assert row.is_visible()
    first_cell = row.locator("td").nth(0)
    assert "resident.example.com" in first_cell.inner_text()
    assert first_cell.locator(".spreadsheet__error-label").is_visible()
    assert page.locator("#sheet tbody tr").count() == 1, "only the row with the error"
    look(page, "jobs-check-error")

    # The fixed file, uploaded again from the same page by keyboard.
    page.set_input_files("#file", sheet(tmp_path / "residents-fixed.csv"))
    tab_to(page, "file")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Upload your file again"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Preview of Bin collection" in page.inner_text("h1")
    preview = page.inner_text("#preview")
    assert "Your bin day, Resident 0" in preview and "Dear Resident 0" in preview, preview
    assert page.locator("#sheet tbody tr").count() == 20
    look(page, "jobs-check")
    tab_to(page, "scheduled_for")
    assert page.locator("#scheduled_for").input_value() == "", "Now is chosen"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Send 20 emails"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.search(r"/jobs/[0-9a-f-]{36}$", page.url), page.url
    job_url = page.url
    assert "residents-fixed.csv" in page.inner_text("h1")
    look(page, "jobs-job")

    # Watched (by reloading, as without JavaScript) until every message is delivered.
    deadline = time.monotonic() + 60
    while page.inner_text("#count-delivered").strip() != "20":
        assert time.monotonic() < deadline, page.inner_text("#counts")
        time.sleep(0.5)
        page.goto(job_url)
    assert page.inner_text("#count-failed").strip() == "0"
    assert page.inner_text("#count-sending").strip() == "0"
    assert page.locator("#job-notifications tbody tr").count() == 20
    assert "Delivered" in page.inner_text("#job-notifications")
    assert page.locator("#refresh").count() == 0, "nothing left to wait for"
    look(page, "jobs-job-delivered")

    # Listed among the service's uploads.
    page.get_by_role("link", name="Uploads").click()
    assert "residents-fixed.csv" in page.inner_text("#jobs")
    look(page, "jobs-uploads")

    # A second send, scheduled for later, then cancelled after the question.
    page.goto(service_url)
    page.get_by_role("link", name="Templates").click()
    page.get_by_role("link", name="Bin collection").click()
    page.get_by_role("link", name="Upload a list of email addresses").click()
    page.set_input_files("#file", sheet(tmp_path / "next-week.csv"))
    page.get_by_role("button", name="Upload your file").click()
    page.select_option("#scheduled_for", index=1)
    page.get_by_role("button", name="Send 20 emails").click()
    assert "Sending ‘Bin collection’" in page.inner_text("#scheduled")
    look(page, "jobs-job-scheduled")
    page.get_by_role("link", name="Uploads").click()
    assert "20 emails waiting to send" in page.inner_text("#jobs")
    look(page, "jobs-uploads-scheduled")
    page.get_by_role("link", name=re.compile("Cancel")).click()
    assert "Are you sure you want to cancel sending these messages?" in page.inner_text("h1")
    look(page, "jobs-cancel")
    page.get_by_role("button", name="Yes, cancel sending").click()
    assert page.url.endswith("/uploads"), page.url
    assert "next-week.csv" not in page.inner_text("main")
    assert "residents-fixed.csv" in page.inner_text("main")


def test_an_emergency_contact_list_is_saved_and_sent_to(server, context, tmp_path):
    page = sign_in(server, context, "lee.lists@example.gov.uk", "Lee Lists")
    page.get_by_role("link", name="Add a new service").click()
    page.get_by_label("Service name").fill("Contact lists browser test")
    page.get_by_role("button", name="Add service").click()
    service_id = re.search(r"/services/([0-9a-f-]{36})$", page.url).group(1)
    server.cli("service", "update", "--service", service_id, "--trial", "false")
    page.get_by_role("link", name="Templates").click()
    page.get_by_role("link", name="New email template").click()
    page.get_by_label("Template name").fill("Flood warning")
    page.get_by_label("Subject line of the email").fill("Flood warning")
    page.get_by_label("Message").fill("Dear ((name)), move to higher ground.")
    page.get_by_role("button", name="Save").click()

    # A list with a bad row is refused, row by row; the fixed one is saved.
    page.get_by_role("link", name="Uploads").click()
    page.get_by_role("link", name="Upload an emergency contact list").click()
    look(page, "contact-list-upload")
    tab_to(page, "file")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Upload your contact list"
    bad = tmp_path / "wardens.csv"
    bad.write_text("email address,name\nwarden1@example.com,Ward One\nnot-an-address,Ward Two\n")
    page.set_input_files("#file", str(bad))
    page.get_by_role("button", name="Upload your contact list").click()
    problems = page.inner_text(".error-summary")
    assert "you need to fix 1 email address" in problems and "Row 3" in problems, problems
    look(page, "contact-list-upload-error")
    bad.write_text("email address,name\nwarden1@example.com,Ward One\nwarden2@example.com,Ward Two\n")
    page.set_input_files("#file", str(bad))
    page.get_by_role("button", name="Upload your contact list").click()
    assert "wardens.csv" in page.inner_text("h1")
    assert "2 email addresses" in page.inner_text("#list-summary")
    look(page, "contact-list")

    # Sent with a template chosen by keyboard: the usual check page, then the job.
    tab_to(page, "template_id")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Continue"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/check/" in page.url, page.url
    assert "Dear Ward One" in page.inner_text("#preview")
    page.get_by_role("button", name="Send 2 emails").click()
    assert re.search(r"/jobs/[0-9a-f-]{36}$", page.url), page.url
    job_url = page.url
    deadline = time.monotonic() + 60
    while page.inner_text("#count-delivered").strip() != "2":
        assert time.monotonic() < deadline, page.inner_text("#counts")
        time.sleep(0.3)
        page.goto(job_url)

    # Listed on the uploads page; deleted after the question.
    page.get_by_role("link", name="Uploads").click()
    assert "wardens.csv" in page.inner_text("#contact-lists")
    look(page, "uploads-contact-lists")
    page.locator("#contact-lists").get_by_role("link", name="wardens.csv").click()
    page.get_by_role("link", name="Delete this contact list").click()
    look(page, "contact-list-delete")
    # By keyboard: the first control after the navigation is the button.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Yes, delete":
            break
    else:
        raise AssertionError("Tab never reached Yes, delete")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/uploads"), page.url
    assert page.locator("#contact-lists").count() == 0
