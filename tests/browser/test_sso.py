"""Single sign-on in a real browser: a server of its own with [oidc] pointing at a real OpenID
Connect provider (oidc-provider-mock, from tests/clients/.venv) on 127.0.0.1. The sign-in page's
button, the provider's form, back to /your-services; an unknown address's refusal page; the
only-SSO sign-in page. Our pages pass axe and are saved as screenshots."""

import json
import os
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import Server, free_port, look

EMAIL = "casey.sso@example.gov.uk"
# The provider is installed in tests/clients/.venv (tests/clients/setup.sh).
PYTHON = os.path.join(os.path.dirname(__file__), "..", "clients", ".venv", "bin", "python3")


@pytest.fixture(scope="module")
def provider():
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [PYTHON, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=log,
        env=dict(os.environ, NO_COLOR="1"),
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(issuer + "/.well-known/openid-configuration", timeout=1):
                break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "the provider did not start"
            time.sleep(0.1)
    yield issuer
    proc.terminate()
    proc.wait(timeout=30)


def provider_user(issuer, sub, claims):
    req = urllib.request.Request(
        f"{issuer}/users/{sub}",
        data=json.dumps(claims).encode(),
        method="PUT",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        assert r.status == 204


def sso_server(issuer, only_sso):
    tmp = tempfile.TemporaryDirectory()
    port = free_port()
    server = Server(
        os.path.join(tmp.name, "data"),
        port=port,
        settings={
            "NOTIFY_OIDC__ENABLED": "true",
            "NOTIFY_OIDC__PROVIDER_NAME": "Test IdP",
            "NOTIFY_OIDC__ISSUER": issuer,
            "NOTIFY_OIDC__CLIENT_ID": "notify",
            "NOTIFY_OIDC__CLIENT_SECRET": "browser-test-secret",
            "NOTIFY_OIDC__REDIRECT_URL": f"http://127.0.0.1:{port}/sign-in/sso/callback",
            "NOTIFY_OIDC__ONLY_SSO": "true" if only_sso else "false",
        },
    )
    return server, tmp


def authorize_as(page, sub):
    """The provider's own form: type the subject, authorise."""
    page.wait_for_selector('input[name="sub"]')
    page.fill('input[name="sub"]', sub)
    page.get_by_role("button", name="Authorize").first.click()
    page.wait_for_load_state()


def test_signing_in_with_the_identity_provider(provider, context):
    server, tmp = sso_server(provider, only_sso=False)
    try:
        server.cli("user", "create", "--email", EMAIL, "--name", "Casey Sso")
        provider_user(provider, "casey", {"email": EMAIL, "email_verified": True, "amr": ["pwd", "mfa"]})
        provider_user(
            provider,
            "stranger",
            {"email": "stranger@example.gov.uk", "email_verified": True, "amr": ["mfa"]},
        )
        page = context.new_page()
        page.goto(server.base + "/sign-in")
        look(page, "sso-sign-in")
        page.get_by_role("button", name="Sign in with Test IdP").click()
        authorize_as(page, "casey")
        assert page.url.endswith("/your-services"), page.url
        look(page, "sso-your-services")

        other = context.browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True)
        try:
            p2 = other.new_page()
            p2.goto(server.base + "/sign-in")
            p2.get_by_role("button", name="Sign in with Test IdP").click()
            authorize_as(p2, "stranger")
            assert "There is no Notify account for stranger@example.gov.uk" in p2.inner_text("main")
            look(p2, "sso-refused")
        finally:
            other.close()
    finally:
        server.stop()
        tmp.cleanup()


def test_only_sso_shows_the_button_alone_and_refuses_passwords(provider, context):
    server, tmp = sso_server(provider, only_sso=True)
    try:
        page = context.new_page()
        page.goto(server.base + "/sign-in")
        assert page.locator('input[name="password"]').count() == 0
        look(page, "sso-only-sign-in")
    finally:
        server.stop()
        tmp.cleanup()
