"""Issue 26's "Done when", in a real browser: a platform admin made with the CLI signs in (by
keyboard alone), creates a service (through the internal API with their session: there is no
page for it yet), invites a caseworker with "Send messages" only and a developer with "Manage API
integration" only; each accepts their emailed invitation, signs in with a code from the outbox,
and can do exactly what their permissions allow (a forbidden page is the 403 page); the admin
changes and removes a member and cancels an invitation; a forgotten password is reset by its
emailed link; the audit trail shows every action with the right actor. Every page passes axe and
is saved as a screenshot."""

import re
import time

from conftest import look

ADMIN = "pat.admin@example.gov.uk"
CASEWORKER = "cass.worker@example.gov.uk"
DEVELOPER = "dev.eloper@example.gov.uk"
NOBODY = "no.one@example.gov.uk"
PASSWORD = "a long enough pass phrase 7"


def newest_message(server, context, to, pattern, seen=()):
    """The first match of `pattern` in the newest outbox message to `to` that is not in
    `seen` (polled: messages are delivered by the appliance's own queue)."""
    outbox = context.new_page()
    deadline = time.monotonic() + 30
    try:
        while True:
            outbox.goto(server.base + "/outbox")
            for article in outbox.locator("article.message").all():
                recipient = article.locator("dd").first.inner_text().strip()
                if recipient != to:
                    continue
                found = re.search(pattern, article.locator("pre.body").inner_text())
                if found and found.group(1) not in seen:
                    return found.group(1)
                break  # only the newest message to this person counts
            assert time.monotonic() < deadline, f"no new message to {to} in the outbox"
            time.sleep(0.2)
    finally:
        outbox.close()


def code_for(server, context, to, seen):
    code = newest_message(server, context, to, r"\b(\d{6})\b", seen)
    seen.add(code)
    return code


def sign_in(server, context, page, email, seen, shot=None):
    """Password, then the emailed security code."""
    page.goto(server.base + "/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/two-factor"), page.url
    if shot:
        look(page, shot)
    page.get_by_role("textbox").fill(code_for(server, context, email, seen))
    page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/your-services"), page.url


def api(page, method, path, body=None):
    """The internal API with the page's session (a cookie and its CSRF token)."""
    base = "/".join(page.url.split("/")[:3])
    token = page.request.get(base + "/session").json()["data"]["csrf_token"]
    return page.request.fetch(
        base + path, method=method, data=body, headers={"X-CSRF-Token": token}
    )


def test_team_members_invited_sign_in_and_do_what_they_may(server, browser):
    admin_ctx = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 900})
    admin = admin_ctx.new_page()
    seen = set()

    # The first platform admin, from the CLI's first sign-in link.
    link = server.cli("user", "create", "--email", ADMIN, "--name", "Pat Admin", "--platform-admin")
    admin.goto(link)
    admin.get_by_label("Password").fill(PASSWORD)
    admin.get_by_role("button", name="Continue").click()
    if admin.url.endswith("/two-factor"):
        admin.get_by_role("textbox").fill(code_for(server, admin_ctx, ADMIN, seen))
        admin.get_by_role("button", name="Continue").click()
    assert admin.url.endswith("/your-services"), admin.url
    admin.get_by_role("button", name=re.compile("Sign out")).click()

    # Signing in by keyboard alone: Tab reaches the email address, the password, then
    # Continue, in that order, and Enter submits.
    admin.goto(server.base + "/sign-in")
    for _ in range(6):
        admin.keyboard.press("Tab")
        if admin.evaluate("document.activeElement.id") == "email_address":
            break
    else:
        raise AssertionError("Tab never reached the email address")
    admin.keyboard.type(ADMIN)
    admin.keyboard.press("Tab")
    assert admin.evaluate("document.activeElement.id") == "password"
    admin.keyboard.type(PASSWORD)
    admin.keyboard.press("Tab")
    focused = admin.evaluate("[document.activeElement.tagName, document.activeElement.textContent]")
    assert focused == ["BUTTON", "Continue"], focused
    admin.keyboard.press("Enter")
    admin.wait_for_url(re.compile(r"/two-factor$"))
    admin.get_by_role("textbox").fill(code_for(server, admin_ctx, ADMIN, seen))
    admin.keyboard.press("Enter")
    admin.wait_for_url(re.compile(r"/your-services$"))

    # The profile the header links to.
    admin.get_by_role("link", name="Pat Admin").click()
    assert admin.url.endswith("/user-profile"), admin.url
    assert ADMIN in admin.inner_text("main")
    look(admin, "user-profile")

    # A service (no page creates one yet: the internal API, with the admin's own session).
    r = api(admin, "POST", "/service", {"name": "Blue badge renewals", "restricted": False})
    assert r.status == 201, r.text()
    service_id = r.json()["data"]["id"]
    r = api(admin, "POST", f"/service/{service_id}/template",
            {"template_type": "email", "name": "Permit ready", "subject": "Your permit", "content": "It is ready."})
    assert r.status == 201, r.text()
    template_id = r.json()["data"]["id"]

    # Team members: the admin alone; invite two people and one more to cancel.
    admin.goto(f"{server.base}/services/{service_id}/users")
    assert "(you)" in admin.inner_text("main")
    look(admin, "team-members")
    admin.get_by_role("button", name="Invite a team member").click()
    assert admin.url.endswith("/users/invite"), admin.url
    look(admin, "invite")
    admin.get_by_role("button", name="Send invitation email").click()
    assert admin.locator(".error-summary").is_visible()
    look(admin, "invite-error")
    for email, label in [(CASEWORKER, "Send messages"), (DEVELOPER, "Manage API integration"),
                         (NOBODY, "See dashboard")]:
        admin.goto(f"{server.base}/services/{service_id}/users/invite")
        admin.get_by_label("Email address").fill(email)
        admin.get_by_label(label, exact=True).check()
        admin.get_by_role("button", name="Send invitation email").click()
        assert admin.url.endswith(f"/services/{service_id}/users?done=invite-sent"), admin.url
        assert "Invite sent" in admin.inner_text(".notification-banner--success")
    team = admin.inner_text("main")
    assert f"{CASEWORKER} (invited)" in team and f"{DEVELOPER} (invited)" in team, team
    look(admin, "team-members-invited")

    # One invitation cancelled: its link says so.
    admin.get_by_role("button", name=f"Cancel invitation for {NOBODY}").click()
    assert f"{NOBODY} (cancelled invite)" in admin.inner_text("main")
    assert "Invitation cancelled" in admin.inner_text(".notification-banner--success")
    cancelled_link = newest_message(server, admin_ctx, NOBODY, r"(https?://\S+/invitation/\S+)")

    people = {}
    for email, name in [(CASEWORKER, "Cass Worker"), (DEVELOPER, "Dev Eloper")]:
        ctx = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 900})
        page = ctx.new_page()
        page.goto(newest_message(server, ctx, email, r"(https?://\S+/invitation/\S+)"))
        assert email in page.inner_text("main")
        if email == CASEWORKER:
            look(page, "register")
            page.get_by_label("Full name").fill(name)
            page.get_by_label("Password").fill("password")
            page.get_by_role("button", name="Continue").click()
            assert page.locator(".error-summary").is_visible()
            look(page, "register-error")
        page.get_by_label("Full name").fill(name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()
        # The invitation's link proved the email address: signed in at once.
        assert page.url.endswith("/your-services"), page.url
        assert "Blue badge renewals" in page.inner_text("main")
        # Signing in again takes the password and a code sent by email.
        page.get_by_role("button", name=re.compile("Sign out")).click()
        sign_in(server, ctx, page, email, seen)
        people[email] = (ctx, page)

    # The team as the admin sees it now.
    admin.goto(f"{server.base}/services/{service_id}/users")
    team = admin.inner_text("main")
    assert "Cass Worker" in team and "Dev Eloper" in team, team
    look(admin, "team-members-joined")

    # The caseworker sends messages, and nothing else.
    case = people[CASEWORKER][1]
    case.goto(f"{server.base}/services/{service_id}/users")
    assert case.get_by_role("button", name="Invite a team member").count() == 0
    look(case, "team-members-as-caseworker")
    r = case.goto(f"{server.base}/services/{service_id}/users/invite")
    assert r.status == 403
    assert "You do not have permission to view this page" in case.inner_text("main")
    look(case, "forbidden")
    r = api(case, "POST", f"/service/{service_id}/send-notification", {"template_id": template_id, "to": CASEWORKER})
    assert r.status == 201, r.text()
    r = api(case, "POST", f"/service/{service_id}/api-key", {"name": "mine", "key_type": "normal"})
    assert r.status == 403, r.text()

    # The developer manages API keys, and nothing else.
    dev = people[DEVELOPER][1]
    r = dev.goto(f"{server.base}/services/{service_id}/users/invite")
    assert r.status == 403
    r = api(dev, "POST", f"/service/{service_id}/api-key", {"name": "integration", "key_type": "normal"})
    assert r.status == 201, r.text()
    r = api(dev, "POST", f"/service/{service_id}/send-notification", {"template_id": template_id, "to": DEVELOPER})
    assert r.status == 403, r.text()

    # The admin gives the developer "See dashboard" too, then removes them.
    admin.get_by_role("link", name=re.compile("Change details for Dev Eloper")).click()
    look(admin, "edit-member")
    admin.get_by_label("See dashboard").check()
    admin.get_by_role("button", name="Save").click()
    assert admin.url.endswith(f"/services/{service_id}/users?done=permissions-saved"), admin.url
    assert "Permissions saved" in admin.inner_text(".notification-banner--success")
    look(admin, "team-permissions-saved")
    admin.get_by_role("link", name=re.compile("Change details for Dev Eloper")).click()
    assert admin.get_by_label("See dashboard").is_checked()
    assert admin.get_by_label("Manage API integration").is_checked()
    assert not admin.get_by_label("Send messages").is_checked()
    admin.get_by_role("link", name="Remove this team member").click()
    look(admin, "remove-member")
    admin.get_by_role("button", name="Yes, remove").click()
    assert "Team member removed" in admin.inner_text(".notification-banner--success")
    assert "Dev Eloper" not in admin.inner_text("main").replace("Team member removed", "")
    # Removed, the developer cannot see the service at all.
    r = dev.goto(f"{server.base}/services/{service_id}/users")
    assert r.status == 404

    # Invitation links that no longer work.
    anon_ctx = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 900})
    anon = anon_ctx.new_page()
    anon.goto(cancelled_link)
    assert "has been cancelled" in anon.inner_text("main")
    assert "Pat Admin decided to cancel this invitation." in anon.inner_text("main")
    look(anon, "invitation-cancelled")
    r = anon.goto(server.base + "/invitation/not-a-real-token")
    assert r.status == 404
    look(anon, "invitation-invalid")

    # A forgotten password: the same answer for an unknown address, a link for a known one.
    anon.goto(server.base + "/sign-in")
    anon.get_by_role("link", name="Forgotten your password?").click()
    look(anon, "forgot-password")
    anon.get_by_label("Email address").fill("nobody.at.all@example.gov.uk")
    anon.get_by_role("button", name="Send email").click()
    assert "Check your inbox" in anon.inner_text("main")
    look(anon, "password-reset-sent")
    anon.goto(server.base + "/forgot-password")
    anon.get_by_label("Email address").fill(CASEWORKER)
    anon.get_by_role("button", name="Send email").click()
    assert "Check your inbox" in anon.inner_text("main")
    reset = newest_message(server, anon_ctx, CASEWORKER, r"(https?://\S+/new-password/\S+)")
    anon.goto(reset)
    look(anon, "new-password")
    anon.get_by_label("Create a password").fill("short")
    anon.get_by_role("button", name="Continue").click()
    assert anon.locator(".error-summary").is_visible()
    look(anon, "new-password-error")
    anon.get_by_label("Create a password").fill(PASSWORD + " again")
    anon.get_by_role("button", name="Continue").click()
    # An email sign-in needs no code after an emailed link.
    assert anon.url.endswith("/your-services"), anon.url
    anon.goto(reset)
    assert "has already been used" in anon.inner_text("main")
    look(anon, "new-password-used")

    # A security code that did not arrive: ask for another.
    other_ctx = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 900})
    other = other_ctx.new_page()
    other.goto(server.base + "/sign-in")
    other.get_by_label("Email address").fill(ADMIN)
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_role("button", name="Continue").click()
    first = code_for(server, other_ctx, ADMIN, seen)
    other.get_by_role("link", name="Not received an email?").click()
    look(other, "email-not-received")
    other.get_by_role("button", name="Resend security code").click()
    assert other.url.endswith("/two-factor"), other.url
    look(other, "two-factor-again")
    fresh = code_for(server, other_ctx, ADMIN, seen)
    assert fresh != first
    other.get_by_role("textbox").fill(fresh)
    other.get_by_role("button", name="Continue").click()
    assert other.url.endswith("/your-services"), other.url

    # The audit trail: each action once, by the right person.
    r = api(admin, "GET", f"/service/{service_id}/audit-events?limit=500")
    assert r.status == 200, r.text()
    events = r.json()["data"]["events"]
    by = [(e["action"], e["actor"]["name"]) for e in events]

    def once(action, actor):
        assert by.count((action, actor)) == 1, (action, actor, by)

    once("service.created", "Pat Admin")
    once("template.created", "Pat Admin")
    assert by.count(("invitation.sent", "Pat Admin")) == 3, by
    once("invitation.cancelled", "Pat Admin")
    once("invitation.accepted", "Cass Worker")
    once("invitation.accepted", "Dev Eloper")
    once("notification.sent", "Cass Worker")
    once("api_key.created", "Dev Eloper")
    once("team.permissions_changed", "Pat Admin")
    once("team.member_removed", "Pat Admin")
    platform = api(admin, "GET", "/audit-events?limit=500").json()["data"]["events"]
    actions = [(e["action"], e["actor"]["name"]) for e in platform]
    assert ("user.password_reset_requested", "Cass Worker") in actions, actions
    assert ("user.password_changed", "Cass Worker") in actions, actions
    assert ("session.signed_in", "Dev Eloper") in actions, actions
    for ctx in [admin_ctx, anon_ctx, other_ctx] + [c for c, _ in people.values()]:
        ctx.close()
