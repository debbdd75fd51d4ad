"""Take the README's screenshots from a running demo (scripts/run) with Chromium.

    scripts/run                      # in one terminal; note the printed passwords
    uv run python docs/screenshots/take.py --base http://127.0.0.1:8000 \\
        --admin-password demo-... --bob-password demo-...

Writes docs/screenshots/*.png: the items list, the review page with its guidelines, the undo
notice after a decision, the bulk confirmation, the reports page (reason trend and, where
the demo has votes, agreement) and the items list at 390 px. It decides one demo item (as
bob) and leaves it undone again, so the demo is as it was apart from that item's audit
trail.
"""

import argparse
import re
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

HERE = Path(__file__).resolve().parent


def login(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")


def save(page: Page, name: str, full_page: bool = False) -> None:
    path = HERE / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print(f"wrote {path.relative_to(HERE.parents[1])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--admin-password", required=True)
    parser.add_argument("--bob-password", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    base = args.base.rstrip("/")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        # The reviewer: the list, the review page with guidelines, undo, bulk.
        bob = browser.new_page(viewport={"width": 1280, "height": 860})
        login(bob, base, "bob", args.bob_password)
        bob.goto(f"{base}/queues/refunds/items/?sort=priority")  # not the last filters used
        bob.set_viewport_size({"width": 1440, "height": 1250})
        save(bob, "items-list")
        bob.set_viewport_size({"width": 1280, "height": 860})
        bob.goto(f"{base}/queues/refunds/review/")
        claim = bob.get_by_role("button", name=re.compile("Claim the next item"))
        if claim.count():  # else bob already holds one (a previous run's undo gave it back)
            claim.click()
        bob.get_by_role("button", name=re.compile("Approve")).first.wait_for()
        bob.wait_for_load_state("networkidle")
        save(bob, "review-guidelines")
        bob.keyboard.press("a")  # approve
        bob.get_by_role("button", name=re.compile("Undo")).first.wait_for(timeout=15_000)
        save(bob, "undo-notice")
        bob.get_by_role("button", name=re.compile("Undo")).first.click()
        bob.wait_for_load_state("networkidle")
        bob.goto(f"{base}/queues/refunds/items/?status=pending&risk_max=0.3")
        boxes = bob.locator("input[type=checkbox][name=ids]")
        for i in range(min(3, boxes.count())):
            boxes.nth(i).check()
        bob.get_by_role("button", name=re.compile("Approve selected")).click()
        bob.wait_for_load_state("networkidle")
        save(bob, "bulk-confirmation")
        # The narrow screen.
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        login(phone, base, "bob", args.bob_password)
        phone.goto(f"{base}/queues/refunds/items/?sort=priority")
        save(phone, "items-list-390px")
        # The admin's reports.
        admin = browser.new_page(viewport={"width": 1280, "height": 900})
        login(admin, base, "admin", args.admin_password)
        admin.goto(f"{base}/reports/")
        admin.locator("#reason-trend-title").scroll_into_view_if_needed()
        save(admin, "reports-reason-trend")
        agreement = admin.locator("#agreement-title")
        if agreement.count():
            agreement.scroll_into_view_if_needed()
            save(admin, "reports-agreement")
        browser.close()


if __name__ == "__main__":
    main()
