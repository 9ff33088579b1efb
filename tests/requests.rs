//! A failed step names the page's broken requests: the `shopwatch` binary in Firefox and
//! Chromium against the demo shop, whose mini cart (`GET /api/cart`, at page load) and
//! shipping quote (`POST /api/shipping-quote`, on a click) are broken or slowed by request
//! faults. The reason ends with the failed requests; the JSON report's step and the failed
//! step's `<step>.txt` artifact hold them and the page's console errors, secrets redacted.

mod util;

use util::steps::*;
use util::*;

in_both_browsers!(
    a_failing_quote_call_is_named_with_the_toast_text,
    a_quote_call_that_does_not_answer_is_named_at_the_timeout,
    a_call_made_while_the_page_loads_is_named_without_its_method,
    a_page_answering_an_error_is_a_failed_document_request,
    console_errors_and_failed_requests_are_kept_per_step_with_secrets_redacted,
    a_step_without_failures_records_nothing,
);

/// Logged in with one coffee in the cart, on the checkout page with a postcode filled in.
const TO_CHECKOUT: &str = r##"
  - step: to-checkout
    do:
      - open: /login
      - fill: { selector: "#email", value: shopper@example.com }
      - fill: { selector: "#password", value: demo-password-123 }
      - click: "#login-button"
      - open: /product/ethiopia-yirgacheffe
      - click: "#add-to-cart"
      - wait_for: { selector: ".cart-count", text: "1" }
      - open: /checkout
      - fill: { selector: "#postcode", value: "10115" }
"##;

/// A JSON step's `failed_requests`, each as `500 POST /api/x`.
fn failed_requests(step: &serde_json::Value) -> Vec<String> {
    step["failed_requests"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| {
                    let mut text = String::new();
                    if let Some(status) = r["status"].as_u64() {
                        text.push_str(&format!("{status} "));
                    }
                    if let Some(method) = r["method"].as_str() {
                        text.push_str(&format!("{method} "));
                    }
                    text.push_str(r["url"].as_str().expect("url"));
                    if let Some(error) = r["error"].as_str() {
                        text.push_str(&format!(": {error}"));
                    }
                    text
                })
                .collect()
        })
        .unwrap_or_default()
}

fn console_errors(step: &serde_json::Value) -> Vec<String> {
    step["console_errors"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| e.as_str().expect("text").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The failed step's `<step>.txt` artifact, and that its masked screenshot is a PNG.
fn artifacts_of(out: &Outcome, step: &str) -> String {
    let artifacts: Vec<String> = out.step(step)["artifacts"]
        .as_array()
        .unwrap_or_else(|| panic!("step {step} has artifacts\n{}", out.describe()))
        .iter()
        .map(|a| a.as_str().expect("path").to_string())
        .collect();
    let png = artifacts
        .iter()
        .find(|a| a.ends_with(&format!("{step}.png")))
        .unwrap_or_else(|| panic!("no screenshot of {step}: {artifacts:?}"));
    assert!(std::fs::read(png).expect("png").starts_with(b"\x89PNG"));
    let txt = artifacts
        .iter()
        .find(|a| a.ends_with(&format!("{step}.txt")))
        .unwrap_or_else(|| panic!("no {step}.txt: {artifacts:?}"));
    std::fs::read_to_string(txt).expect("txt")
}

/// The quote API answers 500: the toast (a `fail_on` element) fails the step at once, and
/// the reason ends with the request that failed; the report, the artifacts and the console
/// say it too.
async fn a_failing_quote_call_is_named_with_the_toast_text(browser: &str) {
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/api/shipping-quote".into(),
        code: 500,
    }]);
    let steps = format!(
        "{TO_CHECKOUT}{}",
        r##"
  - step: quote
    fail_on: [".toast--error"]
    do:
      - click: "#get-quote"
      - wait_for: { selector: ".shipping-quote-result[data-state=ready]" }
"##
    );
    let out = run_steps(&shop, browser, "requests", &steps).await;
    let reason = failed_at(&out, "quote", "page_error");
    assert_contains(
        &reason,
        "the page shows an error (`.toast--error`): \"Could not get a shipping quote (HTTP 500)\"",
    );
    assert!(
        reason.ends_with("; failed requests: 500 POST /api/shipping-quote"),
        "{reason}"
    );
    let step = out.step("quote");
    assert_eq!(
        step["failed_requests"],
        serde_json::json!([{"method": "POST", "url": "/api/shipping-quote", "kind": "fetch", "status": 500}]),
        "{}",
        out.describe()
    );
    assert_eq!(
        console_errors(step),
        ["console.error: shipping quote: POST /api/shipping-quote failed: HTTP 500"],
        "{}",
        out.describe()
    );
    let txt = artifacts_of(&out, "quote");
    assert_contains(&txt, "failed requests:\n  500 POST /api/shipping-quote\n");
    assert_contains(
        &txt,
        "console errors:\n  console.error: shipping quote: POST /api/shipping-quote failed: HTTP 500\n",
    );
    assert_contains(
        &out.stderr,
        "console error: console.error: shipping quote: POST /api/shipping-quote failed: HTTP 500",
    );
    // The steps before it had nothing to report.
    assert!(out.step("to-checkout").get("failed_requests").is_none());
}

/// The quote API takes 8 s, the step has 3: the step times out naming the request that has
/// not answered yet.
async fn a_quote_call_that_does_not_answer_is_named_at_the_timeout(browser: &str) {
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Delay {
        path_prefix: "/api/shipping-quote".into(),
        ms: 8000,
    }]);
    let steps = format!(
        "{TO_CHECKOUT}{}",
        r##"
  - step: quote
    timeout: 3s
    do:
      - click: "#get-quote"
      - wait_for: { selector: ".shipping-quote-result[data-state=ready]" }
"##
    );
    let out = run_steps(&shop, browser, "requests", &steps).await;
    let reason = failed_at(&out, "quote", "element_missing");
    assert_contains(
        &reason,
        "wait_for `.shipping-quote-result[data-state=ready]` (present): timed out",
    );
    let tail = reason
        .split("; failed requests: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no failed requests in {reason}"));
    assert!(
        tail.starts_with("POST /api/shipping-quote: no answer after ") && tail.ends_with(" s"),
        "{reason}"
    );
    let requests = failed_requests(out.step("quote"));
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("POST /api/shipping-quote: no answer after "),
        "{requests:?}"
    );
    artifacts_of(&out, "quote");
}

/// The mini cart's call runs while the page loads, before shopwatch can wrap `fetch`:
/// Resource Timing names it, without the method it does not know.
async fn a_call_made_while_the_page_loads_is_named_without_its_method(browser: &str) {
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/api/cart".into(),
        code: 500,
    }]);
    let out = run_steps(
        &shop,
        browser,
        "requests",
        r##"
  - step: home
    timeout: 3s
    do:
      - open: /
      - wait_for: "#mini-cart[data-state=ready]"
"##,
    )
    .await;
    let reason = failed_at(&out, "home", "element_missing");
    assert!(
        reason.ends_with("; failed requests: 500 /api/cart"),
        "{reason}"
    );
    assert_eq!(
        out.step("home")["failed_requests"],
        serde_json::json!([{"url": "/api/cart", "kind": "fetch", "status": 500}]),
        "{}",
        out.describe()
    );
    assert_contains(
        &artifacts_of(&out, "home"),
        "failed requests:\n  500 /api/cart\n",
    );
}

/// The page itself answers 404: the step fails for its status, and the document is its
/// failed request.
async fn a_page_answering_an_error_is_a_failed_document_request(browser: &str) {
    let shop = start_shop().await;
    let out = run_steps(
        &shop,
        browser,
        "requests",
        r##"
  - step: lost
    do:
      - open: /no-such-page?session=abc
"##,
    )
    .await;
    let reason = failed_at(&out, "lost", "http_status");
    assert_contains(&reason, "the page answered HTTP 404");
    assert!(
        reason.ends_with("; failed requests: 404 /no-such-page"),
        "{reason}"
    );
    assert_eq!(
        out.step("lost")["failed_requests"],
        serde_json::json!([{"url": "/no-such-page", "kind": "document", "status": 404}]),
        "{}",
        out.describe()
    );
}

/// A passing step keeps what its page reported (fetch and XHR failures, `console.error`,
/// an uncaught error, an unhandled rejection); the next step keeps only its own. A secret in
/// a request's path or in console text is redacted everywhere; the query is never shown.
async fn console_errors_and_failed_requests_are_kept_per_step_with_secrets_redacted(browser: &str) {
    const TOKEN: &str = "tok-3f9a71c2e5";
    let shop = start_shop().await;
    let yaml = r##"journey: requests
base_url: http://127.0.0.1:1
vars:
  token: { secret: env:SHOPWATCH_TEST_TOKEN }
steps:
  - step: noisy
    do:
      - open: /
      - execute:
          script: |
            fetch('/api/missing/' + arguments[0] + '?key=' + arguments[0]).catch(() => {});
            const xhr = new XMLHttpRequest();
            xhr.open('POST', '/api/nothing');
            xhr.send('{}');
            console.error('token', arguments[0], 'refused');
            // The page's own script: errors of the driver's scripts are muted ("Script error.").
            const own = document.createElement('script');
            own.textContent = "setTimeout(function () { throw new Error('thrown later'); }, 0);"
              + " Promise.reject(new Error('rejected'));";
            document.body.appendChild(own);
          args: ["${token}"]
      - sleep: 700ms
  - step: broken
    timeout: 2s
    do:
      - execute:
          script: "fetch('/api/orders/' + arguments[0] + '/cancel', {method: 'DELETE'}).catch(() => {});"
          args: ["${token}"]
      - wait_for: "#never-there"
"##;
    require_browser(browser);
    let out = Run::journey(yaml, &shop.url(), browser)
        .env("SHOPWATCH_TEST_TOKEN", TOKEN)
        .go()
        .await;
    let noisy = out.step("noisy");
    assert_eq!(noisy["outcome"], "ok", "{}", out.describe());
    let mut requests = failed_requests(noisy);
    requests.sort();
    assert_eq!(
        requests,
        ["404 GET /api/missing/[redacted]", "404 POST /api/nothing"],
        "{}",
        out.describe()
    );
    let mut errors = console_errors(noisy);
    errors.sort();
    assert_eq!(
        errors,
        [
            "console.error: token [redacted] refused",
            "uncaught Error: thrown later",
            "unhandled rejection: Error: rejected",
        ],
        "{}",
        out.describe()
    );
    let reason = failed_at(&out, "broken", "element_missing");
    assert!(
        reason.ends_with("; failed requests: 405 DELETE /api/orders/[redacted]/cancel"),
        "{reason}"
    );
    assert!(console_errors(out.step("broken")).is_empty());
    let txt = artifacts_of(&out, "broken");
    assert_contains(&txt, "405 DELETE /api/orders/[redacted]/cancel");
    for (what, text) in [
        ("stdout", &out.stdout),
        ("stderr", &out.stderr),
        ("txt", &txt),
    ] {
        assert!(!text.contains(TOKEN), "the secret is in {what}: {text}");
    }
    for file in files_under(&out.artifacts_dir()) {
        let bytes = std::fs::read(&file).expect("artifact");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(TOKEN),
            "the secret is in {}",
            file.display()
        );
    }
}

/// The mini cart loads, the quote comes: nothing failed, nothing is recorded.
async fn a_step_without_failures_records_nothing(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "{TO_CHECKOUT}{}",
        r##"
  - step: quote
    do:
      - wait_for: "#mini-cart[data-state=ready]"
      - click: "#get-quote"
      - wait_for: { selector: ".shipping-quote-result", text: "Standard shipping to Germany: €4.90" }
"##
    );
    let out = run_steps(&shop, browser, "requests", &steps).await;
    assert_passed(&out);
    for step in out.run()["steps"].as_array().expect("steps") {
        assert!(step.get("failed_requests").is_none(), "{step}");
        assert!(step.get("console_errors").is_none(), "{step}");
    }
}
