"""valv's web pages in a real browser: Debian's Chromium driven by
Playwright, every flow once with JavaScript on and once with it off. Every
page is checked with axe-core (no serious or critical violation) and
photographed into $VALV_SCREENSHOTS, in English and Swedish.

Started by the Rust test `browser.rs`, which makes the tenant and its
people first and passes them in the environment.
"""

import pathlib
import sys
import time

from playwright.sync_api import expect, sync_playwright

from common import (
    URL,
    TENANT,
    PASSWORD,
    OWNER,
    MEMBER,
    TOTP_SECRET,
    RECOVERY_CODE,
    INVITED,
    BLOCKABLE,
    OPERATOR,
    OPERATOR_TOTP_SECRET,
    SHOTS,
    CHROMIUM_ARGS,
    Run,
    link_in_outbox,
    totp_next_step,
)


def owner_flow(run: Run):
    page = run.page
    page.goto(URL + "/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("kept as promised")
    run.look("landing")
    page.get_by_role("link", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    run.look("sign-in")

    run.sign_in(OWNER, "not the password")
    expect(page.get_by_role("alert")).to_contain_text("is wrong")
    expect(page.get_by_label("E-mail address")).to_have_value(OWNER)
    run.look("sign-in-refused")

    run.sign_in(OWNER, PASSWORD)
    expect(page).to_have_url(URL + "/app")
    expect(page.get_by_role("cell", name="contacts")).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("Org " + TENANT)
    run.look("workspace")

    page.get_by_role("navigation").get_by_role("link", name="Journal").click()
    expect(page.get_by_role("cell", name="collection.created")).to_be_visible()
    page.get_by_role("button", name="Verify the chain").click()
    expect(page.get_by_role("status")).to_contain_text("The chain holds")
    run.look("journal")
    page.get_by_role("navigation").get_by_role("link", name="Workspace").click()

    run.language("Svenska")
    expect(page.get_by_role("heading", level=1)).to_have_text("Arbetsyta")
    run.look("workspace")
    page.goto(URL + "/")
    run.look("landing")
    run.language("English")
    expect(page.get_by_role("heading", level=1)).to_contain_text("kept as promised")

    page.goto(URL + "/app")
    run.sign_out()
    page.goto(URL + "/app")
    expect(page).to_have_url(URL + "/sign-in")


def record_flow(run: Run, name: str):
    """The owner makes a contact, changes it, sees who changed what in its
    history, and brings the first revision back."""
    page = run.page
    run.sign_in(OWNER, PASSWORD)
    page.get_by_role("link", name="contacts").click()
    run.look("records")
    page.get_by_role("link", name="New record").click()
    page.get_by_label("name").fill(name)
    page.get_by_label("status").select_option("lead")
    run.look("record-new")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Revision 1")
    page.get_by_label("name").fill(name + " Berg")
    page.get_by_label("vip").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Revision 2")
    history = page.get_by_role("table", name="History")
    expect(history.get_by_role("row").nth(1)).to_contain_text("Changed: name, vip")
    run.look("record")
    page.get_by_role("button", name="Restore 1").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Revision 3")
    expect(page.get_by_label("name")).to_have_value(name)
    page.get_by_role("link", name="contacts").first.click()
    expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    run.sign_out()


def users_flow(run: Run, browser, n: int):
    """The owner invites a new user, and blocks a user who is signed in
    elsewhere: that person's session ends at once, and signing in again is
    refused with the reason; unblocked, they may sign in again."""
    page = run.page
    elsewhere = Run(browser, run.js)
    elsewhere.sign_in(BLOCKABLE, PASSWORD)
    expect(elsewhere.page).to_have_url(URL + "/app")

    run.sign_in(OWNER, PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="Users").click()
    page.get_by_label("Name", exact=True).fill(f"Eva Ek {n}")
    page.get_by_label("E-mail address").fill(f"eva{n}@acme.example")
    page.get_by_label("Phone").fill(f"+4670123460{n}")
    page.get_by_label("Role").select_option("member")
    page.get_by_role("button", name="Create and invite").click()
    expect(page.get_by_role("status")).to_contain_text("invitation is on its way")
    expect(page.get_by_role("link", name=f"Eva Ek {n}")).to_be_visible()
    run.look("users")

    page.get_by_role("link", name="Ed Blockable").click()
    page.get_by_role("button", name="Block").click()
    expect(page.get_by_role("status")).to_contain_text("Blocked")
    run.look("user")
    elsewhere.page.goto(URL + "/app")
    expect(elsewhere.page).to_have_url(URL + "/sign-in")
    elsewhere.sign_in(BLOCKABLE, PASSWORD)
    expect(elsewhere.page.get_by_role("alert")).to_contain_text("Your account is blocked")
    page.get_by_role("button", name="Unblock").click()
    expect(page.get_by_role("status")).to_contain_text("Unblocked")
    elsewhere.context.close()
    run.sign_out()


def operator_flow(run: Run, n: int):
    """The operator signs in with an authenticator code, sees the tenants,
    creates one, opens it, and looks at the backups; a tenant's workspace
    is not theirs to see."""
    page = run.page
    page.goto(URL + "/operator")
    expect(page).to_have_url(URL + "/operator/sign-in")
    run.look("operator-sign-in")
    page.get_by_label("E-mail address").fill(OPERATOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code", exact=True).fill(totp_next_step(OPERATOR_TOTP_SECRET))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(URL + "/operator")
    expect(page.get_by_role("link", name="Org " + TENANT)).to_be_visible()
    page.get_by_label("Organisation's name").fill(f"Beta {n} AB")
    page.get_by_label("Short name for signing in").fill(f"beta-{n}")
    page.get_by_label("Contact person").fill("Bea Beta")
    page.get_by_label("Contact's e-mail address").fill(f"bea@beta{n}.example")
    page.get_by_label("Contact's phone").fill("+46701234599")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("status")).to_contain_text("The tenant is created")
    run.look("operator-tenants")
    page.get_by_role("link", name=f"Beta {n} AB").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Beta {n} AB")
    run.look("operator-tenant")
    page.get_by_role("navigation").get_by_role("link", name="Backups").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Backups")
    run.look("operator-backups")
    page.goto(URL + "/app")
    expect(page.get_by_role("alert")).to_contain_text("Your role does not allow this")
    page.goto(URL + "/operator")
    run.sign_out()


def files_flow(run: Run, n: int):
    """The owner uploads a contract, then a second version of it, and
    downloads the first version again, byte for byte."""
    page = run.page
    run.sign_in(OWNER, PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="Files").click()
    page.get_by_label("Folder", exact=True).last.fill("/contracts")
    name = f"contract-{n}.txt"
    first, second = b"first version\n", b"second version, signed\n"
    page.get_by_label("File", exact=True).set_input_files(files=[{"name": name, "mimeType": "text/plain", "buffer": first}])
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    page.get_by_label("File", exact=True).set_input_files(files=[{"name": name, "mimeType": "text/plain", "buffer": second}])
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("link", name="Download version 2")).to_be_visible()
    run.look("file")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download version 1").click()
    assert pathlib.Path(download.value.path()).read_bytes() == first, "the first version, as uploaded"
    page.get_by_role("link", name="/contracts").click()
    expect(page.get_by_role("link", name=name)).to_be_visible()
    run.look("files")
    run.sign_out()


def export_flow(run: Run):
    """The owner exports the organisation's data, follows the progress by
    refreshing, and downloads the archive (a tar with its manifest)."""
    page = run.page
    run.sign_in(OWNER, PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="Export").click()
    page.get_by_role("button", name="Start an export").click()
    for _ in range(40):
        if page.get_by_role("link", name="Download the archive").count() > 0:
            break
        time.sleep(0.25)
        page.goto(page.url)
    run.look("export")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the archive").click()
    archive = pathlib.Path(download.value.path()).read_bytes()
    assert archive[257:262] == b"ustar" and b"manifest.json" in archive, "a tar archive with its manifest"
    run.sign_out()


def member_flow(run: Run):
    """A member with an authenticator app: the second factor step, by the
    app's code with JavaScript, by a recovery code without."""
    page = run.page
    run.sign_in(MEMBER, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    run.look("second-factor")
    if run.js:
        page.get_by_label("A code from my authenticator app").check()
        page.get_by_label("Code", exact=True).fill(totp_next_step(TOTP_SECRET))
    else:
        page.get_by_label("One of my recovery codes").check()
        page.get_by_label("Code", exact=True).fill(RECOVERY_CODE)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(URL + "/app")
    run.sign_out()


def invited_flow(run: Run, email: str):
    """An invited person opens the link in the invitation, is told why a
    weak password is refused, sets a strong one, signs in with it and sets
    up an authenticator app; the recovery codes are shown once."""
    page = run.page
    page.goto(link_in_outbox(email, "/activate?code="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set your password")
    run.look("activate")
    page.get_by_label("New password").fill("password1234")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("alert")).to_contain_text("too easy to guess")
    expect(page.get_by_role("alert").get_by_role("listitem").first).to_be_visible()
    run.look("activate-refused")
    strong = "quiet-orchard-71-lantern-fig"
    page.get_by_label("New password").fill(strong)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is set")
    run.look("activated")
    run.sign_in(email, strong)
    expect(page).to_have_url(URL + "/app")
    # Their own account: an authenticator app set up from the QR code's secret.
    page.get_by_role("banner").get_by_role("link", name="Cy Invited").click()
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.get_by_role("img", name="QR code of your authenticator secret")).to_be_visible()
    run.look("account-enrol")
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("The code the app shows now").fill(totp_next_step(secret))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_contain_text("Your authenticator app is set up")
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(10)
    run.look("account-codes")
    page.goto(URL + "/app/account")
    expect(page.get_by_role("status")).to_contain_text("An authenticator app is set up")
    expect(page.get_by_role("list", name="Recovery codes")).to_have_count(0)
    run.sign_out()


def subject_flow(run: Run, email: str):
    """A data subject asks the organisation for a copy of their data,
    confirms their address from the message, and the owner sees the
    request with the day its answer is due."""
    page = run.page
    page.goto(URL + f"/t/{TENANT}/privacy/request")
    expect(page.get_by_role("heading", level=1)).to_have_text("A request about your personal data")
    run.look("request")
    page.get_by_label("A copy of my personal data").check()
    page.get_by_label("Your e-mail address").fill(email)
    page.get_by_label("Anything the organisation should know").fill("Everything you hold about me, please.")
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    expect(page.get_by_text("must answer by")).to_be_visible()
    run.look("request-sent")
    page.goto(link_in_outbox(email, "/privacy/verify?code="))
    run.look("verify")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_contain_text("your address is confirmed")

    run.sign_in(OWNER, PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="Requests").click()
    row = page.get_by_role("row").filter(has_text=email)
    expect(row).to_contain_text("A copy of my personal data")
    expect(row).to_contain_text("In time")
    run.look("requests")
    run.sign_out()


def main() -> int:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for n, js in enumerate((True, False)):
            run = Run(browser, js)
            owner_flow(run)
            record_flow(run, f"Ada Lind {n}")
            users_flow(run, browser, n)
            files_flow(run, n)
            export_flow(run)
            operator_flow(run, n)
            member_flow(run)
            invited_flow(run, INVITED[n])
            subject_flow(run, f"subject{n}@example.org")
            run.context.close()
            print(f"flows passed with JavaScript {'on' if js else 'off'}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
