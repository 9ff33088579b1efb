//! Piercing selectors (`host >>> inner`), run for real: the `shopwatch` binary in Firefox and
//! Chromium against the demo shop's cart, whose `<express-checkout>` web component keeps its
//! button and status line in an open shadow root (and a `<payment-badge>` with a shadow root of
//! its own inside that). Screenshots black out what is masked or shows a secret in there too.

mod util;

use util::steps::*;
use util::*;

in_both_browsers!(
    a_click_inside_the_shadow_root_shows_its_message,
    a_missing_part_of_the_path_is_named,
    masks_and_secrets_inside_shadow_roots_are_blacked_out,
);

/// Puts two Ethiopia Yirgacheffe in the cart and shows the cart.
const FILL_CART: &str = r##"
  - step: fill-cart
    do:
      - open: /product/ethiopia-yirgacheffe
      - fill: { selector: "#quantity", value: "2" }
      - click: "#add-to-cart"
      - wait_for: { selector: ".cart-count", text: "2" }
      - open: /cart
"##;

/// Every action reaches into the shadow root the same way: the button is read, waited for,
/// counted and clicked there, and what the click shows is read there; nested roots are
/// followed part by part. Page-level CSS sees none of it.
async fn a_click_inside_the_shadow_root_shows_its_message(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "{FILL_CART}{}",
        r##"
  - step: express
    do:
      - assert_absent: button.pay
      - wait_for: { selector: "express-checkout >>> button.pay", visible: true }
      - assert_count: { selector: "express-checkout >>> button", equals: 1 }
      - assert_text: { selector: "express-checkout >>> button.pay", equals: "Express checkout · €25.00" }
      - assert_text: { selector: "express-checkout >>> payment-badge >>> .badge", equals: Secured by DemoPay }
      - click: "#express-checkout >>> .pay"
      - wait_for: { selector: "express-checkout >>> p.status", text: "started" }
      - assert_text: { selector: "express-checkout >>> p.status", equals: "Express checkout started: 2 items, €25.00" }
      - store_text: { selector: "express-checkout >>> p.status", as: status }
      - assert_url: /cart
"##
    );
    let out = run_steps(&shop, browser, "shadow", &steps).await;
    assert_passed(&out);
}

/// A path that finds nothing says which of its parts found nothing: the inner selector, a
/// host without a shadow root, or the host itself.
async fn a_missing_part_of_the_path_is_named(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "{FILL_CART}{}",
        r##"
  - step: inner-missing
    timeout: 2s
    do:
      - click: "express-checkout >>> button.buy-now"
  - step: no-shadow-root
    always: true
    timeout: 2s
    do:
      - assert_text: { selector: "#checkout >>> span", contains: Checkout }
  - step: host-missing
    always: true
    timeout: 2s
    do:
      - wait_for: "checkout-widget >>> button.pay"
"##
    );
    let out = run_steps(&shop, browser, "shadow", &steps).await;
    let inner = failed_at(&out, "inner-missing", "element_missing");
    assert_contains(
        &inner,
        "click `express-checkout >>> button.buy-now`: no element matches `express-checkout >>> button.buy-now` (`express-checkout` is there, but nothing in its shadow root matches `button.buy-now`)",
    );
    let step = |name: &str| {
        let step = out.step(name);
        assert_eq!(step["outcome"], "failed", "{}", out.describe());
        step["reason"].as_str().expect("reason").to_string()
    };
    assert_contains(
        &step("no-shadow-root"),
        "(`#checkout` is there, but has no open shadow root to look into)",
    );
    assert_contains(
        &step("host-missing"),
        "(no shadow host matches `checkout-widget`)",
    );
}

/// A `mask` path and a secret shown inside the shadow root are both covered before a
/// screenshot: two boxes, where page-level masking would find neither.
async fn masks_and_secrets_inside_shadow_roots_are_blacked_out(browser: &str) {
    require_browser(browser);
    let shop = start_shop().await;
    let secret = format!("shadow-secret-{}", std::process::id());
    let yaml = format!(
        "journey: shadow\nbase_url: http://127.0.0.1:1\nmask: [\"express-checkout >>> button.pay\"]\nvars:\n  token: {{ secret: env:SHADOW_SECRET }}\nsteps:\n{FILL_CART}{}",
        r##"
  - step: shot
    do:
      - execute: { script: "document.querySelector('express-checkout').shadowRoot.querySelector('.status').textContent = 'Token ' + arguments[0]", args: ["${token}"] }
      - screenshot: cart
"##
    );
    let out = Run::journey(&yaml, &shop.url(), browser)
        .env("SHADOW_SECRET", secret.clone())
        .env("SHOPWATCH_LOG", "debug")
        .go()
        .await;
    assert_passed(&out);
    let masked: u32 = out
        .stderr
        .lines()
        .find_map(|l| l.split("screenshot cart: masked ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("masking logged\n{}", out.describe()));
    assert_eq!(masked, 2, "the button and the secret: {}", out.describe());
    assert!(!out.stderr.contains(&secret), "{}", out.describe());
}
