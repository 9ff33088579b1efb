//! Waits look again as soon as the page changes (a script in the page watching for DOM
//! mutations), at most a poll apart; a page that is replaced or blocked by a dialog while such
//! a watch runs is handled as before: the new page is waited on, the dialog fails the step with
//! its text. The `shopwatch` binary in Firefox and Chromium against the demo shop.

mod util;

use util::steps::*;
use util::*;

in_both_browsers!(
    an_element_that_a_script_adds_later_is_found,
    a_wait_that_outlives_its_page_finds_the_element_on_the_next_one,
    a_dialog_opened_during_a_wait_fails_the_step_with_its_text,
    an_element_shown_without_a_dom_change_is_still_found,
);

async fn an_element_that_a_script_adds_later_is_found(browser: &str) {
    let shop = start_shop().await;
    let out = run_steps(
        &shop,
        browser,
        "later",
        r##"
  - step: later
    do:
      - open: /
      - execute: "setTimeout(function () { var p = document.createElement('p'); p.id = 'late'; p.textContent = 'here now'; document.body.appendChild(p); }, 700)"
      - wait_for: { selector: "#late", text: "here now" }
"##,
    )
    .await;
    assert_passed(&out);
}

/// The page navigates away while the wait watches it: the wait goes on in the next page.
async fn a_wait_that_outlives_its_page_finds_the_element_on_the_next_one(browser: &str) {
    let shop = start_shop().await;
    let out = run_steps(
        &shop,
        browser,
        "away",
        r##"
  - step: away
    do:
      - open: /
      - execute: "setTimeout(function () { location.href = '/category/coffee'; }, 400)"
      - wait_for: { selector: ".product-card", visible: true }
      - assert_url: /category/coffee
"##,
    )
    .await;
    assert_passed(&out);
}

async fn a_dialog_opened_during_a_wait_fails_the_step_with_its_text(browser: &str) {
    let shop = start_shop().await;
    let out = run_steps(
        &shop,
        browser,
        "blocked",
        r##"
  - step: blocked
    do:
      - open: /
      - execute: "setTimeout(function () { alert('Your session ends soon'); }, 400)"
      - wait_for: "#never-there"
"##,
    )
    .await;
    let reason = failed_at(&out, "blocked", "dialog");
    assert_contains(
        &reason,
        "an unexpected dialog is open: \"Your session ends soon\"",
    );
}

/// An element that becomes visible by time alone (a CSS animation: no DOM mutation to see) is
/// found by the poll the watch falls back to.
async fn an_element_shown_without_a_dom_change_is_still_found(browser: &str) {
    let shop = start_shop().await;
    let out = run_steps(
        &shop,
        browser,
        "animated",
        r##"
  - step: animated
    do:
      - open: /
      - execute: "var s = document.createElement('style'); s.textContent = '@keyframes show { from { visibility: hidden } to { visibility: visible } } #fade { visibility: hidden; animation: show 0s 800ms forwards; }'; document.head.appendChild(s); var p = document.createElement('p'); p.id = 'fade'; p.textContent = 'shown by time'; document.body.appendChild(p);"
      - wait_for: { selector: "#fade", visible: true }
"##,
    )
    .await;
    assert_passed(&out);
}
