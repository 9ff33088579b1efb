//! Blocks of actions in real Firefox and Chromium against the demo shop: `frame` (the payment
//! provider's card form, another origin, with the card number in a nested frame), `window`
//! (its 3-D Secure popup), the redirect to the provider and back, `assert_windows` and
//! `if_present`.

mod util;

use demo_shop::{BannerMode, Fault};
use util::steps::{assert_contains, assert_passed, failed_at, in_both_browsers, run_steps};
use util::*;

/// DemoPay's test cards (fixtures/demo-shop/src/provider.rs).
const CARD_DECLINED: &str = "4000000000000002";
const CARD_3DS_REDIRECT: &str = "4000000000003063";

fn card_journey() -> String {
    std::fs::read_to_string(repo_path("journeys/demo-shop-card.yaml")).expect("card journey")
}

/// The shipped card journey with its `card-payment` step replaced by `step` (YAML, a list item
/// of `steps:`), no retries; the cleanup step cancels the order `step` stores, if `cleanup`.
fn card_journey_paying_with(step: &str, cleanup: bool) -> String {
    let journey = card_journey().replace("retries: 1", "retries: 0");
    let start = journey
        .find("  - step: card-payment")
        .expect("card-payment step");
    let end = journey
        .find("  - step: cancel-test-order")
        .expect("cleanup step");
    let rest = if cleanup { &journey[end..] } else { "" };
    format!("{}{step}\n{rest}", &journey[..start])
}

async fn the_shipped_card_journey_pays_through_the_iframe_and_the_3ds_popup(browser: &str) {
    require_browser(browser);
    let shop = start_shop().await;
    let file = repo_path("journeys/demo-shop-card.yaml");
    let out = Run::new(&[
        "check",
        file.to_str().unwrap(),
        "--base-url",
        &shop.url(),
        "--browser",
        browser,
    ])
    .go()
    .await;
    assert_passed(&out);
    assert_eq!(out.run()["attempts"], 1, "{}", out.describe());
    // The banner is off by default: the block was skipped, and said so.
    let skipped = &out.step("browse")["skipped_actions"];
    assert_eq!(
        skipped[0]["action"],
        "if_present `#cookie-banner`",
        "{}",
        out.describe()
    );
}

async fn the_3ds_redirect_leaves_the_shop_and_comes_back(browser: &str) {
    let shop = start_shop().await;
    let journey = card_journey_paying_with(
        r##"  - step: card-payment
    do:
      - frame:
          selector: "iframe#card-frame"
          do:
            - frame:
                selector: "iframe[name=card-number]"
                do:
                  - fill: { selector: "#card-number", value: "${card}" }
            - fill: { selector: "#expiry", value: "12/34" }
            - fill: { selector: "#cvc", value: "123" }
            - click: "#card-pay"
      - wait_url: { contains: /demopay/3ds/ }
      - fill: { selector: "#otp", value: "123456" }
      - click: "#otp-submit"
      - wait_for: ".order-confirmation"
      - assert_url: { contains: /order/SW- }
      - assert_text: { selector: ".order-payment", contains: card ending 3063 }
      - store_text: { selector: ".order-number", as: order }"##,
        true,
    );
    let out = Run::journey(&journey, &shop.url(), browser)
        .env("DEMO_SHOP_CARD", CARD_3DS_REDIRECT)
        .go()
        .await;
    assert_passed(&out);
}

/// A declined card: the error shows inside the provider's frame, and `fail_on` finds it there;
/// the screenshot blacks out the card number, which sits two frames down.
async fn a_declined_card_fails_with_the_frames_error_and_the_number_masked(browser: &str) {
    let shop = start_shop().await;
    let out = Run::journey(
        &card_journey().replace("retries: 1", "retries: 0"),
        &shop.url(),
        browser,
    )
    .env("DEMO_SHOP_CARD", CARD_DECLINED)
    .env("SHOPWATCH_LOG", "debug")
    .go()
    .await;
    let reason = failed_at(&out, "card-payment", "page_error");
    assert_contains(
        &reason,
        "in frame `iframe#card-frame`: wait_for `.card-status`",
    );
    assert_contains(
        &reason,
        "the page shows an error (`.card-error`): \"Your card was declined.\"",
    );
    let took = out.step("card-payment")["duration_ms"].as_f64().unwrap();
    assert!(
        took < 10_000.0,
        "failed at once, not at the timeout: {took} ms"
    );
    // The journey masks nothing and the shop's page shows no secret: every box drawn is in
    // the provider's frames.
    let masked: u32 = out
        .stderr
        .lines()
        .find_map(|l| l.split("screenshot card-payment: masked ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("masking logged");
    assert!(masked >= 1, "{}", out.describe());
    for file in files_under(&out.artifacts_dir()) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(CARD_DECLINED),
            "{} holds the card",
            file.display()
        );
    }
    assert!(!out.stdout.contains(CARD_DECLINED) && !out.stderr.contains(CARD_DECLINED));
}

/// After a failure inside a frame, the next (`always`) step acts in the shop's page again.
async fn a_failure_inside_a_frame_leaves_the_page_for_the_next_step(browser: &str) {
    let shop = start_shop().await;
    let journey = card_journey_paying_with(
        r##"  - step: card-payment
    timeout: 3s
    do:
      - frame:
          selector: "iframe#card-frame"
          do:
            - click: "#no-such-button"
  - step: back-in-the-shop
    always: true
    do:
      - assert_text: { selector: h1, equals: Review your order }
      - frame:
          selector: "iframe#card-frame"
          do:
            - screenshot: card-form
            # The screenshot is taken from the top; the frame is entered again after it.
            - fill: { selector: "#expiry", value: "12/34" }"##,
        false,
    );
    let out = Run::journey(&journey, &shop.url(), browser).go().await;
    let reason = failed_at(&out, "card-payment", "element_missing");
    assert_contains(
        &reason,
        "in frame `iframe#card-frame`: click `#no-such-button`: no element matches `#no-such-button`",
    );
    let back = out.step("back-in-the-shop");
    assert_eq!(back["outcome"], "ok", "{}", out.describe());
    assert!(back["artifacts"][0]
        .as_str()
        .is_some_and(|a| a.ends_with("card-form.png")));
}

async fn a_frame_that_is_no_iframe_is_named_so(browser: &str) {
    let shop = start_shop().await;
    let out = run_steps(
        &shop,
        browser,
        "not-a-frame",
        r##"  - step: home
    timeout: 3s
    do:
      - open: /
      - frame:
          selector: h1
          do:
            - click: a
"##,
    )
    .await;
    let reason = failed_at(&out, "home", "assertion");
    assert_contains(&reason, "frame `h1`: it is a <h1>, not an <iframe>");
}

/// Popups a page opens: found by URL, left open or closed, counted.
async fn windows_are_found_by_url_closed_or_left_open_and_counted(browser: &str) {
    let shop = start_shop().await;
    let out = run_steps(
        &shop,
        browser,
        "popups",
        r##"  - step: popups
    do:
      - open: /
      - execute: "window.open('/help', 'help'); window.open('/cart', 'cart');"
      - assert_windows: 3
      - window:
          url: /help
          close: never
          do:
            - assert_text: { selector: h1, equals: Help }
      - assert_title: Demo Shop
      - window:
          url: /cart
          close: after_do
          do:
            - assert_url: /cart
      - assert_windows: 2
      - window:
          close: after_do
          do:
            - assert_url: /help
      - assert_windows: 1
      - assert_url: /
"##,
    )
    .await;
    assert_passed(&out);
}

async fn a_window_that_never_opens_or_never_closes_fails_saying_so(browser: &str) {
    let shop = start_shop().await;
    let out = run_steps(
        &shop,
        browser,
        "no-popup",
        r##"  - step: no-popup
    do:
      - open: /
      - window:
          timeout: 1s
          do:
            - assert_url: /help
"##,
    )
    .await;
    let reason = failed_at(&out, "no-popup", "element_missing");
    assert_contains(&reason, "window: no other window opened");

    let out = run_steps(
        &shop,
        browser,
        "popup-stays",
        r##"  - step: popup-stays
    timeout: 3s
    do:
      - open: /
      - execute: "window.open('/help', 'help');"
      - window:
          url: { contains: /help }
          do:
            - assert_text: { selector: h1, equals: Help }
  - step: after
    always: true
    do:
      - assert_url: /
"##,
    )
    .await;
    let reason = failed_at(&out, "popup-stays", "timeout");
    assert_contains(
        &reason,
        "the window did not close after its actions (give `close: after_do` to close it, or `close: never` to leave it open)",
    );
    assert_eq!(out.step("after")["outcome"], "ok", "{}", out.describe());
}

/// A failure inside a popup names the popup and keeps its picture.
async fn a_failure_inside_a_window_names_it_and_keeps_its_screenshot(browser: &str) {
    let shop = start_shop().await;
    let out = run_steps(
        &shop,
        browser,
        "popup-fails",
        r##"  - step: popup-fails
    timeout: 3s
    do:
      - open: /
      - execute: "window.open('/help', 'help');"
      - window:
          do:
            - click: "#no-such-link"
"##,
    )
    .await;
    let reason = failed_at(&out, "popup-fails", "element_missing");
    assert_contains(&reason, "in window http://");
    assert_contains(&reason, "/help: click `#no-such-link`");
    let artifacts = out.step("popup-fails")["artifacts"].to_string();
    assert!(
        artifacts.contains("window.png") && artifacts.contains("popup-fails.png"),
        "{artifacts}"
    );
}

/// `if_present` runs its block when the element shows, and is skipped (not failed) when not.
async fn if_present_runs_only_when_the_element_shows(browser: &str) {
    let steps = r##"  - step: home
    do:
      - open: /
      - if_present:
          selector: "#cookie-banner"
          wait: 1s
          do:
            - click: "#cookie-accept"
            - assert_absent: "#cookie-banner"
      - click: "a.category[href='/category/coffee']"
      - wait_for: ".product-card"
"##;
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::CookieBanner(BannerMode::Always)]);
    let out = run_steps(&shop, browser, "banner", steps).await;
    assert_passed(&out);
    assert!(
        out.step("home")["skipped_actions"].is_null(),
        "the block ran: {}",
        out.describe()
    );

    shop.set_faults(vec![Fault::CookieBanner(BannerMode::Never)]);
    let out = run_steps(&shop, browser, "no-banner", steps).await;
    assert_passed(&out);
    let skipped = &out.step("home")["skipped_actions"][0];
    assert_eq!(skipped["action"], "if_present `#cookie-banner`");
    assert_eq!(
        skipped["reason"],
        "no element matches `#cookie-banner` within 1s"
    );
}

in_both_browsers!(
    the_shipped_card_journey_pays_through_the_iframe_and_the_3ds_popup,
    the_3ds_redirect_leaves_the_shop_and_comes_back,
    a_declined_card_fails_with_the_frames_error_and_the_number_masked,
    a_failure_inside_a_frame_leaves_the_page_for_the_next_step,
    a_frame_that_is_no_iframe_is_named_so,
    windows_are_found_by_url_closed_or_left_open_and_counted,
    a_window_that_never_opens_or_never_closes_fails_saying_so,
    a_failure_inside_a_window_names_it_and_keeps_its_screenshot,
    if_present_runs_only_when_the_element_shows,
);
