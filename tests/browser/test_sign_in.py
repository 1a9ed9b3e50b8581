"""Signing in, in a real browser: the first-sign-in link the CLI prints, choosing a password,
signing in again with the password and a security code from the outbox (the embedded default
sends nothing out), the services page, a wrong code, signing out. Every page passes axe and is
saved as a screenshot."""

import re

from conftest import look

EMAIL = "ann.admin@example.gov.uk"
PASSWORD = "correct horse battery staple 42"


def newest_code(server, context, seen):
    """The security code in the newest outbox message to EMAIL, once more than `seen` exist."""
    import time

    outbox = context.new_page()
    deadline = time.monotonic() + 30
    while True:
        outbox.goto(server.base + "/outbox")
        text = outbox.inner_text("main")
        codes = re.findall(r"\b(\d{6})\b", text)
        if len(codes) > seen:
            outbox.close()
            # The outbox lists the newest message first.
            return codes[0], len(codes)
        assert time.monotonic() < deadline, "no security code arrived in the outbox"
        time.sleep(0.2)


def test_a_new_administrator_signs_in_with_a_code_and_signs_out(server, context):
    link = server.cli("user", "create", "--email", EMAIL, "--name", "Ann Admin", "--platform-admin")
    assert "/first-sign-in/" in link, link
    page = context.new_page()

    page.goto(link)
    look(page, "choose-password")
    # A common password is refused with the error summary, and nothing else happens.
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Continue").click()
    assert page.locator(".error-summary").is_visible()
    look(page, "choose-password-error")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    # The first sign-in link counts as the first factor; a second factor may follow.
    seen = 0
    if page.url.endswith("/two-factor"):
        code, seen = newest_code(server, context, 0)
        page.get_by_role("textbox").fill(code)
        page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/your-services"), page.url
    look(page, "your-services")

    # Signed out, the services page sends the person to sign in.
    page.get_by_role("button", name=re.compile("Sign out")).click()
    page.goto(server.base + "/your-services")
    assert "/sign-in" in page.url, page.url

    # Signing in again: password, then a code from the outbox.
    page.goto(server.base + "/sign-in")
    look(page, "sign-in")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/two-factor"), page.url
    look(page, "two-factor")
    code, _ = newest_code(server, context, seen)
    wrong = "000000" if code != "000000" else "111111"
    page.get_by_role("textbox").fill(wrong)
    page.get_by_role("button", name="Continue").click()
    assert page.locator(".error-summary").is_visible()
    look(page, "two-factor-error")
    page.get_by_role("textbox").fill(code)
    page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/your-services"), page.url
    assert "Ann Admin" in page.inner_text("body") or EMAIL in page.inner_text("body")
