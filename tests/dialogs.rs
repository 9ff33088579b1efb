//! Dialogs (`alert`, `confirm`, `prompt`) and optional actions, run for real: the `shopwatch`
//! binary in Firefox and Chromium against the demo shop, whose cart asks "Empty the cart?"
//! with `confirm()` and a gift message with `prompt()`, whose out-of-stock page answers
//! "Notify me" with `alert()`, and whose cookie banner (the `cookie_banner` fault) covers the
//! page until it is answered.

mod util;

use demo_shop::BannerMode;
use util::steps::*;
use util::*;

in_both_browsers!(
    accepting_the_confirm_empties_the_cart,
    dismissing_the_confirm_keeps_the_cart,
    text_typed_into_the_prompt_reaches_the_shop,
    a_wrong_dialog_text_fails_naming_both_texts,
    a_dialog_that_never_opens_fails_at_its_timeout,
    an_unexpected_dialog_fails_the_step_at_once_with_its_text,
    an_optional_click_accepts_the_banner_when_it_shows,
    an_optional_click_is_skipped_when_the_banner_does_not_show,
    a_click_that_is_not_optional_still_fails_on_a_missing_element,
    the_shipped_journey_accepts_the_banner,
);

/// Runs `steps` as the journey `dialogs` against `shop`.
async fn run(shop: &RunningShop, browser: &str, steps: &str) -> Outcome {
    run_steps(shop, browser, "dialogs", steps).await
}

fn duration_ms(out: &Outcome, step: &str) -> f64 {
    out.step(step)["duration_ms"].as_f64().expect("duration")
}

/// Puts one Ethiopia Yirgacheffe in the cart and shows the cart.
const FILL_CART: &str = r##"
  - step: fill-cart
    do:
      - open: /product/ethiopia-yirgacheffe
      - click: "#add-to-cart"
      - wait_for: { selector: ".cart-count", text: "1" }
      - open: /cart
      - assert_count: { selector: "tr.cart-line", equals: 1 }
"##;

// confirm

/// Accepting "Empty the cart?" posts the form: the shop's cart is empty, also on a fresh load.
async fn accepting_the_confirm_empties_the_cart(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "{FILL_CART}{}",
        r##"
  - step: empty
    do:
      - click: "#empty-cart"
      - dialog: { accept: true, text: "Empty the cart?" }
      - wait_for: ".cart-empty"
  - step: reload
    do:
      - open: /cart
      - assert_text: { selector: ".cart-empty", equals: Your cart is empty }
      - assert_text: { selector: ".cart-count", equals: "0" }
"##
    );
    let out = run(&shop, browser, &steps).await;
    assert_passed(&out);
}

/// Dismissing it posts nothing: the line is still in the cart after a fresh load.
async fn dismissing_the_confirm_keeps_the_cart(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "{FILL_CART}{}",
        r##"
  - step: keep
    do:
      - click: "#empty-cart"
      - dialog: dismiss
      # Time for a form post, had the dismiss posted one.
      - sleep: 500ms
  - step: reload
    do:
      - open: /cart
      - assert_count: { selector: "tr.cart-line", equals: 1 }
      - assert_text: { selector: ".cart-count", equals: "1" }
"##
    );
    let out = run(&shop, browser, &steps).await;
    assert_passed(&out);
}

// prompt

/// The text typed into "Gift message for the recipient:" is posted, stored and shown.
async fn text_typed_into_the_prompt_reaches_the_shop(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "{FILL_CART}{}",
        r##"
  - step: gift
    do:
      - click: "#gift-message"
      - dialog: { accept: true, text: { contains: Gift message }, type: "Happy birthday, ${who}!" }
      - wait_for: { selector: ".gift-message", text: "Happy birthday, Sam!" }
  - step: reload
    do:
      - open: /cart
      - assert_text: { selector: ".gift-message", equals: "Happy birthday, Sam!" }
"##
    );
    let yaml = format!(
        "journey: dialogs\nbase_url: http://127.0.0.1:1\nvars: {{ who: Sam }}\nsteps:\n{steps}"
    );
    require_browser(browser);
    let out = Run::journey(&yaml, &shop.url(), browser).go().await;
    assert_passed(&out);
}

// dialog text

/// A dialog that says something else fails the step with both texts; the dialog is dismissed
/// (the cart stays full), the screenshot is taken, and the cleanup step still runs.
async fn a_wrong_dialog_text_fails_naming_both_texts(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "{FILL_CART}{}",
        r##"
  - step: empty
    do:
      - click: "#empty-cart"
      - dialog: { accept: true, text: "Remove everything?" }
  - step: after
    always: true
    do:
      - open: /cart
      - assert_count: { selector: "tr.cart-line", equals: 1 }
"##
    );
    let out = run(&shop, browser, &steps).await;
    let reason = failed_at(&out, "empty", "assertion");
    assert_contains(
        &reason,
        "dialog accept (text to equal \"Remove everything?\"): the dialog says \"Empty the cart?\"",
    );
    assert_screenshot(&out, "empty");
    assert_eq!(out.step("after")["outcome"], "ok", "{}", out.describe());
}

/// `dialog` waits for the dialog until its timeout (here shorter than the step's), then fails
/// saying none opened.
async fn a_dialog_that_never_opens_fails_at_its_timeout(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "{FILL_CART}{}",
        r##"
  - step: no-dialog
    do:
      - click: "#checkout"
      - dialog: { dismiss: true, timeout: 1s }
"##
    );
    let out = run(&shop, browser, &steps).await;
    let reason = failed_at(&out, "no-dialog", "dialog");
    assert_contains(&reason, "dialog dismiss: no dialog opened");
    let took = duration_ms(&out, "no-dialog");
    assert!(
        (1000.0..10_000.0).contains(&took),
        "the wait ends at its own 1s timeout, not the step's 15 s: {took} ms"
    );
}

// unexpected dialogs

/// An alert nobody expected fails the action that meets it at once (not at the 15 s step
/// timeout), with the alert's text, whether it waits (`assert_text`) or acts (`click`). It is
/// dismissed, so the failed step's screenshot is taken and the next step can run.
async fn an_unexpected_dialog_fails_the_step_at_once_with_its_text(browser: &str) {
    let shop = start_shop().await;
    let out = run(
        &shop,
        browser,
        r##"
  - step: load
    do:
      - open: /product/geisha-reserve
  - step: notify
    do:
      - click: "#notify-me"
      - assert_text: { selector: h1.product-name, equals: Geisha Reserve }
  - step: notify-and-leave
    always: true
    do:
      - click: "#notify-me"
      - click: a.logo
  - step: after
    always: true
    do:
      - open: /
      - assert_text: { selector: h1, equals: Welcome to Demo Shop }
"##,
    )
    .await;
    let text = "an unexpected dialog is open: \"We will e-mail you when Geisha Reserve is back in stock.\"";
    let reason = failed_at(&out, "notify", "dialog");
    assert_contains(
        &reason,
        &format!("assert_text `h1.product-name` to equal \"Geisha Reserve\": {text}"),
    );
    let step = out.step("notify-and-leave");
    assert_eq!(step["outcome"], "failed", "{}", out.describe());
    assert_eq!(step["reason_class"], "dialog", "{}", out.describe());
    assert_contains(
        step["reason"].as_str().expect("reason"),
        &format!("click `a.logo`: {text}"),
    );
    for name in ["notify", "notify-and-leave"] {
        let took = duration_ms(&out, name);
        assert!(
            took < 5000.0,
            "{name} failed at once, not at 15 s: {took} ms"
        );
        assert_screenshot(&out, name);
    }
    assert_eq!(out.step("after")["outcome"], "ok", "{}", out.describe());
}

// optional actions and the cookie banner

/// With the banner on every session, the optional click accepts it (not skipped), and the
/// category link under it can be clicked; the banner stays away on the next page. A journey
/// that ignores the banner fails: the banner takes the click.
async fn an_optional_click_accepts_the_banner_when_it_shows(browser: &str) {
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::CookieBanner(BannerMode::Always)]);
    let out = run(
        &shop,
        browser,
        r##"
  - step: home
    do:
      - open: /
      - click: { selector: "#cookie-accept", optional: true }
      - click: "a.category[href='/category/tea']"
      - assert_text: { selector: h1, equals: Tea }
  - step: next-page
    do:
      - open: /category/coffee
      - assert_absent: "#cookie-banner"
"##,
    )
    .await;
    assert_passed(&out);
    assert!(
        out.step("home").get("skipped_actions").is_none(),
        "{}",
        out.describe()
    );

    let out = run(
        &shop,
        browser,
        r##"
  - step: home
    do:
      - open: /
  - step: ignore-banner
    timeout: 3s
    do:
      - click: "a.category[href='/category/tea']"
"##,
    )
    .await;
    let reason = failed_at(&out, "ignore-banner", "element_missing");
    assert_contains(&reason, "click `a.category[href='/category/tea']`");
    assert_contains(&reason, "cookie-banner");
}

/// Without the banner the optional actions are skipped, each after its own short wait (2 s by
/// default, `optional_wait` otherwise), not the step's 15 s, and the report says so.
async fn an_optional_click_is_skipped_when_the_banner_does_not_show(browser: &str) {
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::CookieBanner(BannerMode::Never)]);
    let out = run(
        &shop,
        browser,
        r##"
  - step: load
    do:
      - open: /
  - step: home
    do:
      - click: { selector: "#cookie-accept", optional: true }
      - click: "a.category[href='/category/tea']"
      - assert_text: { selector: h1, equals: Tea }
  - step: short
    do:
      - hover: { selector: "#cookie-banner", optional: true, optional_wait: 300ms }
      - fill: { selector: "#cookie-name", value: x, optional: true, optional_wait: 300ms }
"##,
    )
    .await;
    assert_passed(&out);
    assert_eq!(
        out.step("home")["skipped_actions"],
        serde_json::json!([{
            "action": "click `#cookie-accept`",
            "reason": "no element matches `#cookie-accept` within 2s",
        }]),
        "{}",
        out.describe()
    );
    let home = duration_ms(&out, "home");
    assert!(
        (1900.0..10_000.0).contains(&home),
        "the optional click waits 2 s, not 15: {home} ms"
    );
    let skipped = out.step("short")["skipped_actions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(skipped.len(), 2, "{}", out.describe());
    assert_eq!(skipped[0]["action"], "hover `#cookie-banner`");
    assert_eq!(skipped[1]["action"], "fill `#cookie-name` with \"x\"");
    assert!(
        skipped
            .iter()
            .all(|s| s["reason"].as_str().unwrap_or("").ends_with("within 300ms")),
        "{skipped:?}"
    );
    let short = duration_ms(&out, "short");
    assert!(
        // A wait ends at its last look before the deadline: up to a poll (100 ms) early.
        (400.0..2000.0).contains(&short),
        "two waits of 300 ms: {short} ms"
    );
    assert_contains(&out.stderr, "skipped (optional): click `#cookie-accept`");
}

/// Without `optional`, a click on an element that is not there fails as before.
async fn a_click_that_is_not_optional_still_fails_on_a_missing_element(browser: &str) {
    let shop = start_shop().await;
    let out = run(
        &shop,
        browser,
        r##"
  - step: load
    do:
      - open: /
  - step: accept
    timeout: 2s
    do:
      - click: "#cookie-accept"
"##,
    )
    .await;
    let reason = failed_at(&out, "accept", "element_missing");
    assert_contains(
        &reason,
        "click `#cookie-accept`: no element matches `#cookie-accept`",
    );
}

/// The shipped journey gets through the banner when every session shows it.
async fn the_shipped_journey_accepts_the_banner(browser: &str) {
    require_browser(browser);
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::CookieBanner(BannerMode::Always)]);
    let yaml = std::fs::read_to_string(repo_path("journeys/demo-shop.yaml"))
        .unwrap()
        .replace("retries: 1", "retries: 0");
    let out = Run::journey(&yaml, &shop.url(), browser).go().await;
    assert_passed(&out);
    assert!(
        out.step("browse").get("skipped_actions").is_none(),
        "the banner was there to accept\n{}",
        out.describe()
    );
}
