"""What the browser flows share: the installation under test (from the
environment the Rust test sets), Chromium as this machine runs it, an
authenticator that gives each code once, the outbox's links, and a browser
context that checks and photographs every page it looks at."""

import base64
import hashlib
import hmac
import json
import os
import pathlib
import struct
import time

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

URL = os.environ["VALV_URL"]
TENANT = os.environ["VALV_TENANT"]
PASSWORD = os.environ["VALV_PASSWORD"]
OWNER = os.environ["VALV_OWNER_EMAIL"]
MEMBER = os.environ["VALV_MEMBER_EMAIL"]
TOTP_SECRET = os.environ["VALV_MEMBER_TOTP_SECRET"]
RECOVERY_CODE = os.environ["VALV_MEMBER_RECOVERY_CODE"]
INVITED = os.environ["VALV_INVITED_EMAILS"].split(",")
BLOCKABLE = os.environ["VALV_BLOCKABLE_EMAIL"]
OPERATOR = os.environ["VALV_OPERATOR_EMAIL"]
OPERATOR_TOTP_SECRET = os.environ["VALV_OPERATOR_TOTP_SECRET"]
OUTBOX = pathlib.Path(os.environ["VALV_OUTBOX"])
SHOTS = pathlib.Path(os.environ["VALV_SCREENSHOTS"])

# Chromium as the machine runs it: no sandbox as root, and nothing that
# reaches for the network beyond the server under test.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

AXE = Axe()


# The last step whose code each secret gave: a code is good once (RFC 6238 §5.2).
USED_STEPS: dict = {}


def totp_next_step(secret: str) -> str:
    """The authenticator code of the next 30-second step (RFC 6238): the
    current one may have been used when the app was set up. When that step's
    code was given already, waits for a step that has not been."""
    while int(time.time()) // 30 + 1 <= USED_STEPS.get(secret, 0):
        time.sleep(1)
    counter = int(time.time()) // 30 + 1
    USED_STEPS[secret] = counter
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def link_in_outbox(address: str, path: str) -> str:
    """The link to `path` in the newest message to `address`, as the
    person would click it in their mail."""
    for message in sorted(OUTBOX.glob("*.json"), reverse=True):
        m = json.loads(message.read_text())
        if m["to"].get("address") == address:
            for line in m["body"].splitlines():
                if line.startswith("http") and path in line:
                    return line.strip()
    raise AssertionError(f"no message to {address} links to {path}")


class Run:
    """One browser context: JavaScript on or off."""

    def __init__(self, browser, js: bool):
        self.js = js
        self.context = browser.new_context(
            java_script_enabled=js, ignore_https_errors=True, locale="en-GB", viewport={"width": 1200, "height": 800}
        )
        self.page = self.context.new_page()

    def look(self, name: str):
        """Checks the page with axe-core (it runs as a script, so with
        JavaScript on; the pages have none of their own) and photographs it."""
        lang = self.page.locator("html").get_attribute("lang")
        if self.js:
            found = AXE.run(self.page).response["violations"]
            bad = [v for v in found if v.get("impact") in ("serious", "critical")]
            assert not bad, f"{name} ({lang}): " + "; ".join(f"{v['id']}: {v['help']}" for v in bad)
        suffix = "" if self.js else "-nojs"
        self.page.screenshot(path=str(SHOTS / f"{name}-{lang}{suffix}.png"), full_page=True)

    def language(self, label: str):
        self.page.get_by_role("button", name=label).click()

    def sign_in(self, email: str, password: str):
        page = self.page
        page.goto(URL + "/sign-in")
        if self.js:
            # Keyboard only: each field in order, then Enter.
            page.get_by_label("Organisation").focus()
            page.keyboard.type(TENANT)
            page.keyboard.press("Tab")
            page.keyboard.type(email)
            page.keyboard.press("Tab")
            page.keyboard.type(password)
            page.keyboard.press("Enter")
        else:
            page.get_by_label("Organisation").fill(TENANT)
            page.get_by_label("E-mail address").fill(email)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()

    def sign_out(self):
        self.page.get_by_role("button", name="Sign out").click()
        expect(self.page).to_have_url(URL + "/")
