"""Shared pieces of the client tests: the fixture run.sh writes, official clients for its keys, a
deadline-based poll, and an SMTP sink (aiosmtpd, STARTTLS required) on the port the server's
`[smtp]` points at."""

import email
import email.policy
import json
import os
import ssl
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from notifications_python_client.notifications import NotificationsAPIClient


@pytest.fixture(scope="session")
def fix():
    with open(os.environ["NOTIFY_CLIENT_FIXTURE"]) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def notify_client(fix):
    """notify_client("normal") -> the official client with that key of the fixture."""

    def make(key="normal"):
        return NotificationsAPIClient(fix["keys"][key], base_url=fix["base_url"])

    return make


def wait_for(what, probe, timeout=20.0, interval=0.2):
    """Calls probe() until it returns something truthy (returned) or the deadline passes
    (AssertionError naming `what` and the last value seen)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


class Received:
    """One message as the sink got it."""

    def __init__(self, session, envelope):
        self.peer = session.peer
        # aiosmtpd sets session.ssl (the TLS transport's extra info) once STARTTLS succeeded.
        self.tls = session.ssl is not None
        self.cipher = session.ssl.get("cipher") if session.ssl else None
        self.mail_from = envelope.mail_from
        self.rcpt_tos = list(envelope.rcpt_tos)
        self.raw = envelope.original_content or envelope.content
        self.message = email.message_from_bytes(self.raw, policy=email.policy.default)

    def __repr__(self):
        return f"<Received {self.message.get('Message-ID')} to {self.rcpt_tos} tls={self.tls}>"


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        self.sink._record(Received(session, envelope))
        return "250 OK"


class SmtpSink:
    """An aiosmtpd server in a thread; stop() and start() again on the same port (a stopped
    aiosmtpd Controller cannot restart, so each start makes a new one). Messages survive restarts."""

    def __init__(self, host, port, cert, key):
        self.host, self.port = host, port
        self.tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls_context.load_cert_chain(cert, key)
        self._lock = threading.Lock()
        self._messages = []
        self._controller = None

    def _record(self, received):
        with self._lock:
            self._messages.append(received)

    @property
    def running(self):
        return self._controller is not None

    def _controller_for_start(self):
        return Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            server_hostname="localhost",
            tls_context=self.tls_context,
            require_starttls=True,
            ready_timeout=5.0,
        )

    def start(self):
        assert self._controller is None, "already running"
        # The port may still be held for a moment by the previous run's socket.
        deadline = time.monotonic() + 15
        while True:
            controller = self._controller_for_start()
            try:
                controller.start()
                break
            except OSError:
                try:
                    controller.stop(no_assert=True)
                    controller.loop.close()
                except Exception:
                    pass
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
        self._controller = controller

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self):
        with self._lock:
            return list(self._messages)

    def messages_for(self, notification_id):
        """Messages whose Message-ID names the notification."""
        return [m for m in self.messages() if str(notification_id) in (m.message.get("Message-ID") or "")]


@pytest.fixture(scope="session")
def smtp_sink(fix):
    smtp = fix["smtp"]
    sink = SmtpSink(smtp["host"], smtp["port"], smtp["cert"], smtp["key"])
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def running_sink(smtp_sink):
    """The sink, started if a test left it stopped."""
    if not smtp_sink.running:
        smtp_sink.start()
    return smtp_sink
