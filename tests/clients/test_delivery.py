"""Delivery of emails through a real SMTP relay: the official python client sends, the real
notify binary (run.sh: `providers.email = "smtp"`, STARTTLS, the sink's self-signed certificate
as `smtp.ca_file`, retries 1 s apart) delivers to an aiosmtpd sink (conftest.SmtpSink, STARTTLS
required), and the status API shows the outcome."""

import time
import uuid

from conftest import wait_for

UNSUBSCRIBE = "https://example.gov.uk/unsubscribe?list=7&user=42"


def status_of(client, notification_id):
    return client.get_notification_by_id(notification_id)["status"]


def wait_for_status(client, notification_id, want, timeout=20.0):
    seen = []

    def probe():
        got = status_of(client, notification_id)
        seen.append(got)
        return got == want

    try:
        wait_for(f"status {want!r}", probe, timeout=timeout)
    except AssertionError as err:
        raise AssertionError(f"{err}; statuses seen: {sorted(set(seen))}") from None


def send_email(client, fix, to, name, **extra):
    resp = client.send_email_notification(
        email_address=to,
        template_id=fix["templates"]["email"],
        personalisation={"name": name},
        **extra,
    )
    uuid.UUID(resp["id"])
    assert resp["content"]["subject"] == f"Hi {name}"
    assert resp["content"]["body"] == f"Dear {name}"
    return resp


def test_email_goes_out_over_starttls_with_every_header(fix, notify_client, running_sink):
    c = notify_client("normal")
    name = f"Zoë {uuid.uuid4().hex[:8]}"
    to = "delivery.one@example.com"
    resp = send_email(
        c, fix, to, name, reference="smtp-1", one_click_unsubscribe_url=UNSUBSCRIBE
    )
    nid = resp["id"]

    got = wait_for(f"the email of {nid} at the SMTP sink", lambda: running_sink.messages_for(nid))
    assert len(got) == 1, got
    received = got[0]
    msg = received.message

    # The session: STARTTLS, and the envelope.
    assert received.tls, "the relay session was not upgraded with STARTTLS"
    assert received.cipher, received.cipher
    domain = fix["email_from_domain"]
    sender = f"client.tests@{domain}"
    assert received.mail_from == sender
    assert received.rcpt_tos == [to]

    # Headers.
    assert msg["Message-ID"] == f"<{nid}@{domain}>"
    (from_,) = msg["From"].addresses
    assert from_.display_name == fix["service_name"] == "Client Tests"
    assert from_.addr_spec == sender
    (to_,) = msg["To"].addresses
    assert to_.addr_spec == to
    assert msg["Subject"] == f"Hi {name}"
    assert msg["Date"] is not None and msg["Date"].datetime is not None
    assert msg["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Reply-To"] is None

    # Body: text and HTML alternatives, UTF-8.
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part.get_content_charset() == "utf-8"
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert f"Dear {name}" in text, text
    assert f"Dear {name}" in html, html
    assert "<" in html, html

    # Accepted by the relay = delivered (smtp.delivered_on_accept defaults to true).
    wait_for_status(c, nid, "delivered")
    after = c.get_notification_by_id(nid)
    assert after["reference"] == "smtp-1"
    assert after["sent_at"] is not None
    assert after["completed_at"] is not None

    # Nothing else arrived for this notification while we waited.
    assert len(running_sink.messages_for(nid)) == 1


def test_email_is_retried_while_the_relay_is_down(fix, notify_client, smtp_sink):
    c = notify_client("normal")
    name = f"Retry {uuid.uuid4().hex[:8]}"
    smtp_sink.stop()
    try:
        nid = send_email(c, fix, "delivery.two@example.com", name)["id"]

        # Several attempts fail (connection refused, retried every second): still `created`,
        # nothing delivered.
        until = time.monotonic() + 4
        while time.monotonic() < until:
            assert status_of(c, nid) == "created"
            time.sleep(0.5)
        assert smtp_sink.messages_for(nid) == []
    finally:
        smtp_sink.start()

    got = wait_for(f"the retried email of {nid} at the SMTP sink", lambda: smtp_sink.messages_for(nid))
    assert got[0].tls
    assert got[0].message["Subject"] == f"Hi {name}"
    wait_for_status(c, nid, "delivered")

    # Exactly one copy, even with retries queued up while the relay was down.
    time.sleep(3)
    copies = smtp_sink.messages_for(nid)
    assert len(copies) == 1, copies
    assert status_of(c, nid) == "delivered"


def admin_token(fix):
    import jwt  # PyJWT: a dependency of the official client

    return jwt.encode(
        {"iss": fix["admin"]["client_id"], "iat": int(time.time())},
        fix["admin"]["secret"],
        algorithm="HS256",
    )


def test_the_service_callback_hears_the_final_status(fix, notify_client, running_sink):
    """Done when: sent with the official client, delivered through the relay, and the service's
    callback URL is told, with its bearer token."""
    import json
    import threading
    import urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    calls = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            calls.append((self.headers.get("authorization"), json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", fix["callback_port"]), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        req = urllib.request.Request(
            f"{fix['base_url']}/service/{fix['service_id']}/delivery-receipt-api",
            data=json.dumps(
                {
                    "url": f"http://127.0.0.1:{fix['callback_port']}/notify-status",
                    "bearer_token": "callback-token-for-tests",
                }
            ).encode(),
            headers={
                "Authorization": f"Bearer {admin_token(fix)}",
                "Content-Type": "application/json",
            },
            method="POST",
        )
        with urllib.request.urlopen(req) as resp:
            assert resp.status == 201

        c = notify_client("normal")
        resp = send_email(c, fix, "callback.me@example.com", "Cal", reference="cb-1")
        nid = resp["id"]
        wait_for_status(c, nid, "delivered")
        wait_for(
            f"the callback for {nid}",
            lambda: [body for _, body in calls if body.get("id") == nid],
        )
        auth, body = next((a, b) for a, b in calls if b.get("id") == nid)
        assert auth == "Bearer callback-token-for-tests"
        assert body["status"] == "delivered"
        assert body["reference"] == "cb-1"
        assert body["to"] == "callback.me@example.com"
        assert body["notification_type"] == "email"
        assert body["template_id"] == fix["templates"]["email"]
        assert body["sent_at"] and body["completed_at"] and body["created_at"]

        req = urllib.request.Request(
            f"{fix['base_url']}/service/{fix['service_id']}/delivery-receipt-api",
            headers={"Authorization": f"Bearer {admin_token(fix)}"},
            method="DELETE",
        )
        with urllib.request.urlopen(req) as resp:
            assert resp.status == 204
    finally:
        server.shutdown()
