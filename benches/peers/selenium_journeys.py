"""The demo shop's shipped journeys (journeys/demo-shop.yaml, journeys/demo-shop-card.yaml)
written for Selenium's Python bindings: the same steps, in the same order, with real clicks and
typing. Run by scripts/bench-peers, which installs selenium into target/peers/venv.

    python selenium_journeys.py JOURNEY BROWSER BASE_URL   (gift|card, chrome|firefox)

Prints one JSON object: session_start_ms, steps [{step, duration_ms}], ok, error. The drivers
(chromedriver, geckodriver) come from PATH; the browsers get the options shopwatch gives them.
"""

import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

STEP_TIMEOUT = 15.0
POLL = 0.1  # shopwatch's poll interval
EMAIL = os.environ.get("DEMO_SHOP_EMAIL", "shopper@example.com")
PASSWORD = os.environ.get("DEMO_SHOP_PASSWORD", "demo-password-123")
GIFTCARD = os.environ.get("DEMO_SHOP_GIFT_CARD", "GIFT-1000-AAAA")
CARD = os.environ.get("DEMO_SHOP_CARD", "4000000000003220")
ADMIN_TOKEN = os.environ.get("DEMO_SHOP_ADMIN_TOKEN", "demo-admin-token")
RETRY = (
    NoSuchElementException,
    StaleElementReferenceException,
    ElementNotInteractableException,
    ElementClickInterceptedException,
)


def css(s):
    return (By.CSS_SELECTOR, s)


def wait(driver, timeout=STEP_TIMEOUT):
    return WebDriverWait(driver, timeout, poll_frequency=POLL, ignored_exceptions=RETRY)


def find(driver, loc):
    return wait(driver).until(lambda d: d.find_element(*loc))


def click(driver, loc):
    wait(driver).until(lambda d: d.find_element(*loc).click() or True)


def fill(driver, loc, value):
    def act(d):
        e = d.find_element(*loc)
        e.clear()
        e.send_keys(value)
        return True

    wait(driver).until(act)


def text_is(driver, loc, check):
    wait(driver).until(lambda d: check(d.find_element(*loc).text))


def present(driver, selector):
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, selector))


def visible(driver, selector, timeout=STEP_TIMEOUT):
    wait(driver, timeout).until(
        lambda d: any(e.is_displayed() for e in d.find_elements(By.CSS_SELECTOR, selector))
    )


def shows_within(driver, selector, timeout):
    try:
        visible(driver, selector, timeout)
        return True
    except TimeoutException:
        return False


def with_text(driver, selector, text):
    wait(driver).until(
        lambda d: any(text in e.text for e in d.find_elements(By.CSS_SELECTOR, selector))
    )


def count_is(driver, selector, n):
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, selector)) == n)


def check(driver, selector):
    e = find(driver, css(selector))
    if not e.is_selected():
        e.click()
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, selector).is_selected())


def path_is(driver, path):
    wait(driver).until(lambda d: urllib.parse.urlsplit(d.current_url).path == path)


def gift_steps(d, base, step):
    order = {}
    with step("browse"):
        d.get(base + "/")
        if shows_within(d, "#cookie-accept", 0.5):
            click(d, css("#cookie-accept"))
        click(d, css("a.category[href='/category/coffee']"))
        present(d, ".product-card")
        text_is(d, css("h1"), lambda t: "Coffee" in t)
        click(d, (By.LINK_TEXT, "Ethiopia Yirgacheffe"))
        text_is(d, css("h1.product-name"), lambda t: t.strip() == "Ethiopia Yirgacheffe")
    with step("add-to-cart"):
        click(d, css("#add-to-cart"))
        with_text(d, ".cart-count", "1")
        visible(d, ".added-message")
    with step("login"):
        d.get(base + "/login?next=/cart")
        fill(d, css("#email"), EMAIL)
        fill(d, css("#password"), PASSWORD)
        click(d, css("#login-button"))
        path_is(d, "/cart")
        count_is(d, "tr.cart-line", 1)
    with step("checkout"):
        click(d, css("#checkout"))
        present(d, "#shipping-form")
        fill(d, css("#name"), "Sam Shopper")
        fill(d, css("#street"), "Hauptstrasse 1")
        fill(d, css("#city"), "Berlin")
        fill(d, css("#postcode"), "10115")
        # The country picker is a custom list (ARIA combobox): open it, click the option.
        click(d, css("#country"))
        click(d, css('#country-list [role=option][data-value="DE"]'))
        check(d, "#shipping-express")
        click(d, css("#continue"))
        present(d, ".review-total")
        text_is(d, css(".review-shipping"), lambda t: "Express" in t)
    with step("gift-card-payment"):
        fill(d, css("#gift-card"), GIFTCARD)
        click(d, css("#pay"))
        count_is(d, ".payment-error", 0)
        present(d, ".order-confirmation")
        order["number"] = find(d, css(".order-number")).text.strip()
        if not re.match(r"^SW-[0-9]{6}$", order["number"]):
            raise AssertionError(f"order number {order['number']}")
    return order.get("number")


def card_steps(d, base, step):
    order = {}
    with step("browse"):
        d.get(base + "/product/ethiopia-yirgacheffe")
        if shows_within(d, "#cookie-banner", 0.5):
            click(d, css("#cookie-accept"))
            count_is(d, "#cookie-banner", 0)
        text_is(d, css("h1.product-name"), lambda t: t.strip() == "Ethiopia Yirgacheffe")
    with step("add-to-cart"):
        click(d, css("#add-to-cart"))
        with_text(d, ".cart-count", "1")
    with step("login"):
        d.get(base + "/login?next=/cart")
        fill(d, css("#email"), EMAIL)
        fill(d, css("#password"), PASSWORD)
        click(d, css("#login-button"))
        path_is(d, "/cart")
    with step("checkout"):
        click(d, css("#checkout"))
        fill(d, css("#name"), "Sam Shopper")
        fill(d, css("#street"), "Hauptstrasse 1")
        fill(d, css("#city"), "Berlin")
        fill(d, css("#postcode"), "10115")
        # The country picker is a custom list (ARIA combobox): open it, click the option.
        click(d, css("#country"))
        click(d, css('#country-list [role=option][data-value="DE"]'))
        check(d, "#shipping-standard")
        click(d, css("#continue"))
        present(d, ".review-total")
    with step("card-payment"):
        main = d.current_window_handle
        d.switch_to.frame(find(d, css("iframe#card-frame")))
        d.switch_to.frame(find(d, css("iframe[name=card-number]")))
        fill(d, css("#card-number"), CARD)
        d.switch_to.parent_frame()
        fill(d, css("#expiry"), "12/34")
        fill(d, css("#cvc"), "123")
        click(d, css("#card-pay"))
        visible(d, ".card-status")
        d.switch_to.default_content()

        def challenge(drv):
            for handle in drv.window_handles:
                if handle == main:
                    continue
                drv.switch_to.window(handle)
                if "/demopay/3ds/" in drv.current_url:
                    return True
            drv.switch_to.window(main)
            return False

        wait(d).until(challenge)
        text_is(d, css(".challenge-amount"), lambda t: re.match(r"^€[0-9]+\.[0-9]{2}$", t))
        fill(d, css("#otp"), "123456")
        click(d, css("#otp-submit"))
        d.switch_to.window(main)
        wait(d).until(lambda drv: len(drv.window_handles) == 1)
        present(d, ".order-confirmation")
        text_is(d, css(".order-payment"), lambda t: "card ending 3220" in t)
        order["number"] = find(d, css(".order-number")).text.strip()
    return order.get("number")


def options(browser, profile):
    if browser == "firefox":
        o = webdriver.FirefoxOptions()
        o.binary_location = shutil.which("firefox") or shutil.which("firefox-esr")
        for a in ["-headless", "-width", "1280", "-height", "886"]:
            o.add_argument(a)
    else:
        o = webdriver.ChromeOptions()
        o.binary_location = os.environ.get("PEERS_CHROMIUM", "/usr/bin/chromium")
        for a in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,943",
            f"--user-data-dir={profile}",
        ]:
            o.add_argument(a)
    o.page_load_strategy = "normal"
    o.timeouts = {"pageLoad": 15000, "script": 15000, "implicit": 0}
    return o


def main():
    journey, browser, base = sys.argv[1:4]
    out = {"tool": "selenium", "browser": browser, "journey": journey, "steps": [], "ok": True}
    profile = tempfile.mkdtemp(prefix="peers-selenium-")
    t0 = time.perf_counter()
    if browser == "firefox":
        service = webdriver.FirefoxService(executable_path=shutil.which("geckodriver"))
        d = webdriver.Firefox(options=options(browser, profile), service=service)
    else:
        service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
        d = webdriver.Chrome(options=options(browser, profile), service=service)
    out["session_start_ms"] = (time.perf_counter() - t0) * 1000

    class step:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            self.t = time.perf_counter()

        def __exit__(self, *exc):
            ms = (time.perf_counter() - self.t) * 1000
            out["steps"].append({"step": self.name, "duration_ms": ms})

    order = None
    try:
        try:
            run = card_steps if journey == "card" else gift_steps
            order = run(d, base, step)
        except Exception as e:  # the journey failed: report it, still cancel and quit
            out["ok"] = False
            out["error"] = (f"{type(e).__name__}: {e}".splitlines() or [""])[0]
        with step("cancel-test-order"):
            if order:
                req = urllib.request.Request(
                    f"{base}/api/orders/{order}/cancel",
                    method="POST",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                )
                with urllib.request.urlopen(req, timeout=15) as r:
                    if r.status != 200:
                        raise AssertionError(f"cancel answered {r.status}")
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(out), flush=True)
    sys.exit(0 if out["ok"] else 1)


if __name__ == "__main__":
    main()
