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

/// chromedriver once answered a Find Elements that an alert interrupted with `{"value": null}`
/// instead of "unexpected alert open". That race cannot be made to happen on demand, so a proxy
/// in front of a real chromedriver gives that answer to every Find Element(s) while an alert is
/// open: the step still fails as the shop's dialog, with its text, not as a monitor error.
#[tokio::test(flavor = "multi_thread")]
async fn a_driver_answering_null_while_a_dialog_is_open_still_reports_the_dialog() {
    require_browser("chrome");
    let shop = start_shop().await;
    let driver = start_outside_driver(shopwatch::journey::model::Browser::Chrome).await;
    let proxy = null_while_alert_proxy(driver.url().trim_end_matches('/').to_string()).await;
    let steps = r##"
  - step: blocked
    do:
      - open: /
      - execute: "setTimeout(function () { alert('Your session ends soon'); }, 400)"
      - wait_for: "#never-there"
"##;
    let mut run = steps_run(&shop, "chrome", "blocked", steps);
    run.args.extend(["--webdriver".to_string(), proxy]);
    let out = run.go().await;
    driver.stop().await;
    let reason = failed_at(&out, "blocked", "dialog");
    assert_contains(
        &reason,
        "an unexpected dialog is open: \"Your session ends soon\"",
    );
}

/// Forwards every request to `driver`, but answers a Find Element(s) with a bare `null` while
/// the session's alert is open (asked with Get Alert Text first).
async fn null_while_alert_proxy(driver: String) -> String {
    use axum::body::Bytes;
    use axum::http::{header, Method, StatusCode, Uri};
    const JSON: [(header::HeaderName, &str); 1] = [(header::CONTENT_TYPE, "application/json")];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let http = reqwest::Client::new();
    let forward = move |method: Method, uri: Uri, body: Bytes| {
        let (http, driver) = (http.clone(), driver.clone());
        async move {
            let path = uri.path().to_string();
            let finds = method == Method::POST
                && (path.ends_with("/element") || path.ends_with("/elements"));
            if finds {
                let session = path.split('/').nth(2).unwrap_or_default();
                let alert = http
                    .get(format!("{driver}/session/{session}/alert/text"))
                    .send()
                    .await;
                if alert.is_ok_and(|a| a.status().is_success()) {
                    return (
                        StatusCode::OK,
                        JSON,
                        Bytes::from_static(b"{\"value\":null}"),
                    );
                }
            }
            let answer = http
                .request(method, format!("{driver}{uri}"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("chromedriver answers");
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            (status, JSON, answer.bytes().await.unwrap_or_default())
        }
    };
    let app = axum::Router::new().fallback(forward);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
