"""The browser suite's fixtures: the real binary on a free 127.0.0.1 port with a fresh data
directory and the embedded default config, a headless Chromium (Debian's, through Playwright),
and `look(page, name)`, which every test calls on every page it visits: axe-core must find no
WCAG 2.2 A/AA violation, and a full-page screenshot is saved as target/screenshots/<name>.png."""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest
from playwright.sync_api import sync_playwright

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir, port=None, settings=None):
        """`settings`: more NOTIFY_* variables (a test's own server, e.g. single sign-on's)."""
        self.bin = os.environ["NOTIFY_BIN"]
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        # The harness's own NOTIFY_BIN, NOTIFY_AXE... are not settings: the server refuses
        # NOTIFY_* variables it does not know.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
        self.env = dict(
            inherited,
            NOTIFY_DATA_DIR=data_dir,
            NOTIFY_SERVER__LISTEN=f"127.0.0.1:{self.port}",
            NOTIFY_LOG__LEVEL="warn",
            # The low-disk watermark is about the host, not the pages under test.
            NOTIFY_DISK__MIN_FREE_MB="0",
            NOTIFY_DELIVERY__RETRY_DELAY_SECONDS="1",
        )
        self.env.update(settings or {})
        # Beside the data directory, which the server creates on its first start.
        self.log = open(os.path.join(os.path.dirname(data_dir), "server.log"), "w")
        self.proc = subprocess.Popen([self.bin, "serve"], env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.base + "/_status", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("notify did not start; see server.log")
            time.sleep(0.1)

    def cli(self, *args):
        """Runs a notify command against this server's data directory (it goes through the
        running server's internal API) and returns its standard output."""
        out = subprocess.run([self.bin, *args], env=self.env, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="session")
def server():
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        s = Server(data)
        yield s
        s.stop()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def context(browser):
    # axe-core is injected as a script; the pages' CSP (rightly) forbids that, so the test
    # browser alone bypasses it.
    ctx = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


def axe_violations(page):
    page.add_script_tag(path=os.environ["NOTIFY_AXE"])
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


def look(page, name):
    """Every page a test visits: no accessibility violations, and a screenshot to look at."""
    path = os.path.join(os.environ["NOTIFY_SCREENSHOTS"], f"{name}.png")
    page.screenshot(path=path, full_page=True)
    violations = axe_violations(page)
    assert violations == [], f"{name} ({page.url}): " + json.dumps(violations, indent=1)
    # Nothing a person should ever see: a stack trace or a raw JSON error.
    text = page.inner_text("body")
    assert "panicked" not in text and not text.lstrip().startswith("{"), f"{name}: {text[:200]}"
