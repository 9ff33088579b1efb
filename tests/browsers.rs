//! Journeys run for real: the `shopwatch` binary, real geckodriver + Firefox ESR and
//! chromedriver + Chromium, against the demo shop with injected faults. Every run also proves
//! that no driver, browser or temp profile is left behind (see util::Run::go).

mod util;

use serde_json::Value;
use std::time::Duration;
use util::*;

fn step_outcomes(outcome: &util::Outcome) -> Vec<(String, String)> {
    outcome.run()["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_string(),
                s["outcome"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn demo_journey_passes(browser: &str) {
    require_browser(browser);
    let shop = start_shop().await;
    let out = Run::new(&args(&demo_journey_args(&shop, browser)))
        .go()
        .await;
    assert_eq!(out.code, 0, "{}", out.describe());
    let run = out.run();
    assert!(
        matches!(run["outcome"].as_str(), Some("ok" | "degraded")),
        "{}",
        out.describe()
    );
    assert_eq!(run["browser"], browser);
    let steps = step_outcomes(&out);
    let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "browse",
            "add-to-cart",
            "login",
            "checkout",
            "gift-card-payment",
            "cancel-test-order"
        ]
    );
    for (name, outcome) in &steps {
        assert!(
            outcome == "ok" || outcome == "slow",
            "step {name} was {outcome}\n{}",
            out.describe()
        );
        assert!(
            out.step(name)["duration_ms"].as_f64().unwrap_or(0.0) > 0.0,
            "step {name} has a duration"
        );
    }
    // The order was placed, and the always step cancelled it through the admin API.
    let orders: Value = reqwest::Client::new()
        .get(format!("{}/api/orders", shop.url()))
        .bearer_auth("demo-admin-token")
        .send()
        .await
        .expect("orders")
        .json()
        .await
        .expect("orders JSON");
    let orders = orders.as_array().expect("order list");
    assert_eq!(orders.len(), 1, "one order placed: {orders:?}");
    assert_eq!(orders[0]["status"], "cancelled");
    // Console output names each step live.
    assert!(
        out.stderr.contains("gift-card-payment"),
        "{}",
        out.describe()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_journey_passes_in_firefox() {
    demo_journey_passes("firefox").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_journey_passes_in_chromium() {
    demo_journey_passes("chrome").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_cart_makes_the_run_degraded_naming_the_cart_step() {
    require_browser("firefox");
    let shop = start_shop().await;
    // The add-to-cart button posts to /api/cart from the page's script; its slow budget is 3 s.
    shop.set_faults(vec![Fault::Delay {
        path_prefix: "/api/cart".into(),
        ms: 3500,
    }]);
    let out = Run::new(&args(&demo_journey_args(&shop, "firefox")))
        .go()
        .await;
    assert_eq!(out.code, 0, "degraded still passes: {}", out.describe());
    assert_eq!(out.run()["outcome"], "degraded", "{}", out.describe());
    assert_eq!(
        out.step("add-to-cart")["outcome"],
        "slow",
        "{}",
        out.describe()
    );
    assert!(out.step("add-to-cart")["duration_ms"].as_f64().unwrap() >= 3500.0);
    assert!(
        out.stderr.contains("SLOW  add-to-cart"),
        "{}",
        out.describe()
    );
}

async fn checkout_500_fails_at_checkout(browser: &str) {
    require_browser(browser);
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/checkout".into(),
        code: 500,
    }]);
    let out = Run::new(&args(&demo_journey_args(&shop, browser)))
        .go()
        .await;
    assert_eq!(out.code, 1, "{}", out.describe());
    let run = out.run();
    assert_eq!(run["outcome"], "failed");
    assert_eq!(
        run["attempts"], 2,
        "retries: 1 gives a second attempt in a fresh session"
    );
    let checkout = out.step("checkout");
    assert_eq!(checkout["outcome"], "failed");
    assert_eq!(checkout["reason_class"], "http_status");
    let reason = checkout["reason"].as_str().unwrap();
    assert!(
        reason.contains("HTTP 500"),
        "status in the reason: {reason}"
    );
    assert!(
        reason.contains("click `#checkout`"),
        "the action in the reason: {reason}"
    );
    assert_eq!(out.step("gift-card-payment")["outcome"], "skipped");
    // Artifacts of the failed step: screenshot, HTML and page info, paths printed.
    let artifacts: Vec<String> = checkout["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    for ending in ["checkout.png", "checkout.html", "checkout.txt"] {
        let path = artifacts
            .iter()
            .find(|p| p.ends_with(ending))
            .unwrap_or_else(|| panic!("{ending} in {artifacts:?}"));
        assert!(
            std::fs::metadata(path)
                .map(|m| m.len() > 0)
                .unwrap_or(false),
            "{path} written"
        );
        assert!(out.stderr.contains(path.as_str()), "{path} printed");
    }
    let png = std::fs::read(artifacts.iter().find(|p| p.ends_with(".png")).unwrap()).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let page =
        std::fs::read_to_string(artifacts.iter().find(|p| p.ends_with(".txt")).unwrap()).unwrap();
    assert!(
        page.contains("/checkout") && page.contains("http_status: 500"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn checkout_500_fails_at_checkout_in_chromium() {
    checkout_500_fails_at_checkout("chrome").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn checkout_500_fails_at_checkout_in_firefox() {
    checkout_500_fails_at_checkout("firefox").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn removed_pay_button_fails_the_payment_step() {
    require_browser("chrome");
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::RemoveElement {
        selector: "#pay".into(),
    }]);
    let yaml = std::fs::read_to_string(repo_path("journeys/demo-shop.yaml"))
        .unwrap()
        .replace("retries: 1", "retries: 0")
        .replace("    slow: 4s\n", "    slow: 4s\n    timeout: 3s\n");
    let out = Run::journey(&yaml, &shop.url(), "chrome").go().await;
    assert_eq!(out.code, 1, "{}", out.describe());
    let pay = out.step("gift-card-payment");
    assert_eq!(pay["outcome"], "failed");
    assert_eq!(pay["reason_class"], "element_missing");
    assert!(
        pay["reason"].as_str().unwrap().contains("`#pay`"),
        "{}",
        pay
    );
    // Passed: `ok`, or `slow` on a loaded machine; the point is that only payment failed.
    for earlier in ["browse", "add-to-cart", "login", "checkout"] {
        let outcome = &out.step(earlier)["outcome"];
        assert!(outcome == "ok" || outcome == "slow", "{}", out.describe());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn declined_gift_card_fails_with_the_page_message() {
    require_browser("firefox");
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::DeclineGiftCards]);
    let out = Run::new(&args(&demo_journey_args(&shop, "firefox")))
        .go()
        .await;
    assert_eq!(out.code, 1, "{}", out.describe());
    let pay = out.step("gift-card-payment");
    assert_eq!(pay["outcome"], "failed");
    let reason = pay["reason"].as_str().unwrap();
    assert!(
        reason.contains("Gift card declined by the payment provider"),
        "{reason}"
    );
    // The cleanup step needs the order number the failed run never stored: skipped, not failed.
    assert_eq!(out.step("cancel-test-order")["outcome"], "skipped");
}

/// `fail_on`: the shop's own error element fails the step as soon as it shows, with its text
/// and class `page_error`, instead of the wait for the confirmation running into the step's
/// 15 s timeout and saying only that it timed out.
async fn fail_on_fails_at_once_with_the_shops_message(browser: &str) {
    require_browser(browser);
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::DeclineGiftCards]);
    let journey = std::fs::read_to_string(repo_path("journeys/demo-shop.yaml")).unwrap();
    assert!(journey.contains("\n      - assert_absent: \".payment-error\"\n"));
    assert!(journey.contains("\nmask: "));
    let journey = journey
        .replace("\n      - assert_absent: \".payment-error\"\n", "\n")
        .replace("\nmask: ", "\nfail_on: [\".payment-error\"]\nmask: ");
    let out = Run::journey(&journey, &shop.url(), browser).go().await;
    assert_eq!(out.code, 1, "{}", out.describe());
    let pay = out.step("gift-card-payment");
    assert_eq!(pay["outcome"], "failed", "{}", out.describe());
    assert_eq!(pay["reason_class"], "page_error", "{}", out.describe());
    let reason = pay["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("wait_for `.order-confirmation`")
            && reason.contains(": the page shows an error (`.payment-error`): \"Gift card declined by the payment provider\""),
        "{reason}"
    );
    let took = pay["duration_ms"].as_f64().unwrap();
    assert!(
        took < 10_000.0,
        "failed at once, not at the 15 s timeout: {took} ms"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_on_fails_at_once_with_the_shops_message_in_firefox() {
    fail_on_fails_at_once_with_the_shops_message("firefox").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_on_fails_at_once_with_the_shops_message_in_chromium() {
    fail_on_fails_at_once_with_the_shops_message("chrome").await;
}

const HANG_JOURNEY: &str = r#"
journey: hang
base_url: http://127.0.0.1:1
steps:
  - step: home
    do:
      - open: /
  - step: review
    timeout: 4s
    do:
      - open: /checkout/review
  - step: never
    do:
      - open: /
"#;

async fn hang_times_out(browser: &str) {
    require_browser(browser);
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Hang {
        path_prefix: "/checkout".into(),
    }]);
    let out = Run::journey(HANG_JOURNEY, &shop.url(), browser).go().await;
    assert_eq!(out.code, 1, "{}", out.describe());
    let review = out.step("review");
    assert_eq!(review["outcome"], "failed");
    assert_eq!(review["reason_class"], "timeout");
    let took = review["duration_ms"].as_f64().unwrap();
    assert!(
        (4000.0..6000.0).contains(&took),
        "reported within the timeout plus 2 s: {took} ms"
    );
    assert!(
        review["reason"]
            .as_str()
            .unwrap()
            .contains("step timeout (4s)"),
        "{review}"
    );
    assert_eq!(out.step("home")["outcome"], "ok");
    assert_eq!(out.step("never")["outcome"], "skipped");
}

#[tokio::test(flavor = "multi_thread")]
async fn hanging_page_times_out_the_step_in_firefox() {
    hang_times_out("firefox").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hanging_page_times_out_the_step_in_chromium() {
    hang_times_out("chrome").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn journey_timeout_names_the_running_step_and_keeps_finished_timings() {
    require_browser("chrome");
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Delay {
        path_prefix: "/category".into(),
        ms: 20_000,
    }]);
    let yaml = r#"
journey: journey-timeout
base_url: http://127.0.0.1:1
timeout: 5s
steps:
  - step: home
    do:
      - open: /
  - step: category
    timeout: 30s
    do:
      - open: /category/coffee
"#;
    let out = Run::journey(yaml, &shop.url(), "chrome").go().await;
    assert_eq!(out.code, 1, "{}", out.describe());
    assert_eq!(out.step("home")["outcome"], "ok");
    assert!(out.step("home")["duration_ms"].as_f64().unwrap() > 0.0);
    let category = out.step("category");
    assert_eq!(category["outcome"], "failed");
    assert!(
        category["reason"]
            .as_str()
            .unwrap()
            .contains("journey timeout (5s)"),
        "{category}"
    );
    assert!(
        out.elapsed < Duration::from_secs(20),
        "the journey timeout cut the 20 s delay: {:?}",
        out.elapsed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn webdriver_down_is_a_monitor_error_exit_3() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let shop = start_shop().await;
    let mut list = demo_journey_args(&shop, "firefox");
    list.extend(["--webdriver".to_string(), url]);
    let out = Run::new(&args(&list)).go().await;
    assert_eq!(out.code, 3, "{}", out.describe());
    assert_eq!(out.run()["outcome"], "error");
    assert_eq!(out.step("browse")["outcome"], "error");
    assert!(
        out.stderr.contains("the monitor failed, not the shop"),
        "{}",
        out.describe()
    );
}

async fn unreachable_shop_is_failed(browser: &str) {
    require_browser(browser);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = Run::journey(HANG_JOURNEY, &url, browser).go().await;
    assert_eq!(
        out.code,
        1,
        "the shop failing, not the monitor: {}",
        out.describe()
    );
    let home = out.step("home");
    assert_eq!(home["outcome"], "failed");
    assert_eq!(home["reason_class"], "unreachable", "{home}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_shop_is_failed_in_firefox() {
    unreachable_shop_is_failed("firefox").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_shop_is_failed_in_chromium() {
    unreachable_shop_is_failed("chrome").await;
}

/// Answers 500 to the first request and 200 to the rest: a fault that heals by itself.
async fn flaky_endpoint() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/flaky", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut served = 0;
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let status = if served == 0 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            served += 1;
            let response =
                format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi");
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_on_retry_is_flaky_not_ok() {
    require_browser("chrome");
    let shop = start_shop().await;
    let flaky = flaky_endpoint().await;
    let yaml = format!(
        r#"
journey: flaky
base_url: http://127.0.0.1:1
retries: 2
steps:
  - step: home
    do:
      - open: /
      - assert_title: {{ contains: Demo Shop }}
  - step: api
    do:
      - http: {{ url: "{flaky}", expect_status: 200 }}
"#
    );
    let out = Run::journey(&yaml, &shop.url(), "chrome").go().await;
    assert_eq!(
        out.code,
        0,
        "flaky passes with a warning: {}",
        out.describe()
    );
    let run = out.run();
    assert_eq!(run["outcome"], "flaky");
    assert_eq!(run["attempts"], 2);
    assert_eq!(run["previous_attempts"][0]["outcome"], "failed");
    assert!(out.stderr.contains("FLAKY"), "{}", out.describe());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_always_step_does_not_hide_the_first_failure() {
    require_browser("chrome");
    let shop = start_shop().await;
    let yaml = r#"
journey: cleanup
base_url: http://127.0.0.1:1
steps:
  - step: home
    do:
      - open: /
  - step: closed
    timeout: 3s
    do:
      - assert_text: { selector: h1, equals: "Closed for good" }
  - step: more
    do:
      - open: /cart
  - step: cleanup
    always: true
    do:
      - http: { method: POST, url: /api/orders/SW-999999/cancel, expect_status: 200 }
"#;
    let out = Run::journey(yaml, &shop.url(), "chrome").go().await;
    assert_eq!(out.code, 1, "{}", out.describe());
    assert_eq!(out.step("home")["outcome"], "ok");
    assert_eq!(out.step("closed")["outcome"], "failed");
    assert!(
        out.step("closed")["reason"]
            .as_str()
            .unwrap()
            .contains("Welcome to Demo Shop"),
        "what the page showed"
    );
    assert_eq!(out.step("more")["outcome"], "skipped");
    let cleanup = out.step("cleanup");
    assert_eq!(
        cleanup["outcome"], "failed",
        "the always step ran and its failure is reported"
    );
    assert!(
        cleanup["reason"].as_str().unwrap().contains("HTTP 401"),
        "{cleanup}"
    );
    assert!(
        out.stderr.contains("first failure in step `closed`"),
        "{}",
        out.describe()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_closes_every_session() {
    require_browser("firefox");
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Hang {
        path_prefix: "/checkout".into(),
    }]);
    let yaml = HANG_JOURNEY.replace("timeout: 4s", "timeout: 60s");
    let mut run = Run::journey(&yaml, &shop.url(), "firefox");
    run.while_running = Some(Box::new(|pid, tmp| {
        // Wait until the browser is up and hanging on the page, then interrupt.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while processes_under(tmp).iter().all(|p| !p.contains("firefox")) {
            assert!(
                std::time::Instant::now() < deadline,
                "firefox never started"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_secs(3));
        // SAFETY: signalling the child process this test started.
        unsafe { libc::kill(pid as i32, libc::SIGINT) };
    }));
    let out = run.go().await;
    assert_eq!(out.code, 130, "{}", out.describe());
    assert!(
        out.elapsed < Duration::from_secs(40),
        "stopped promptly: {:?}",
        out.elapsed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_values_appear_in_no_output_or_artifact() {
    require_browser("chrome");
    let unique = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let password = format!("pw-{unique}-hunter2");
    let gift_card = format!("GIFT-{}", unique.to_uppercase());
    let token = format!("tok-{unique}-admin");
    let shop = start_shop_with(ShopConfig {
        customer_password: password.clone(),
        admin_token: token.clone(),
        gift_cards: vec![(gift_card.clone(), 100_000)],
        ..ShopConfig::default()
    })
    .await;
    let mut outputs = Vec::new();
    let mut artifact_files = Vec::new();
    // One passing run (the cleanup uses the admin token), one failing after the secrets were
    // typed, so that a screenshot and an HTML dump of the payment page are written.
    for faults in [vec![], vec![Fault::DeclineGiftCards]] {
        shop.set_faults(faults);
        let junit_dir = tempfile::tempdir().unwrap();
        let junit = junit_dir.path().join("junit.xml");
        let mut list = demo_journey_args(&shop, "chrome");
        list.extend(["--junit".to_string(), junit.display().to_string()]);
        let out = Run::new(&args(&list))
            .env("DEMO_SHOP_PASSWORD", password.clone())
            .env("DEMO_SHOP_GIFT_CARD", gift_card.clone())
            .env("DEMO_SHOP_ADMIN_TOKEN", token.clone())
            .env("SHOPWATCH_LOG", "trace")
            .go()
            .await;
        outputs.push(("stdout".to_string(), out.stdout.clone()));
        outputs.push(("stderr".to_string(), out.stderr.clone()));
        outputs.push((
            "junit".to_string(),
            std::fs::read_to_string(&junit).expect("junit written"),
        ));
        for file in files_under(&out.artifacts_dir()) {
            artifact_files.push((file.display().to_string(), std::fs::read(&file).unwrap()));
        }
        if out.code == 1 {
            assert!(
                out.stderr.contains("screenshot gift-card-payment: masked"),
                "masking ran: {}",
                out.describe()
            );
        } else {
            assert_eq!(out.code, 0, "{}", out.describe());
        }
    }
    assert!(
        artifact_files
            .iter()
            .any(|(name, _)| name.ends_with("gift-card-payment.html")),
        "the failing run wrote an HTML dump"
    );
    for secret in [&password, &gift_card, &token] {
        for (name, text) in &outputs {
            assert!(!text.contains(secret.as_str()), "secret found in {name}");
        }
        for (name, bytes) in &artifact_files {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "secret found in artifact {name}");
        }
    }
    // The secrets were really used: the shop took the order with them.
    assert!(outputs
        .iter()
        .any(|(_, text)| text.contains("\"outcome\":\"ok\"")
            || text.contains("\"outcome\":\"degraded\"")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_the_page_shows_is_redacted_from_reasons_and_html_and_masked_in_screenshots() {
    require_browser("chrome");
    let shop = start_shop().await;
    let secret = format!("leak-{}", std::process::id());
    let yaml = r#"
journey: leaky
base_url: http://127.0.0.1:1
vars:
  token: { secret: env:LEAKY_SECRET }
steps:
  - step: home
    do:
      - open: /
  - step: leak
    timeout: 3s
    do:
      - execute: { script: "document.querySelector('h1').textContent = 'Token ' + arguments[0]", args: ["${token}"] }
      - assert_text: { selector: h1, equals: nothing }
"#;
    let out = Run::journey(yaml, &shop.url(), "chrome")
        .env("LEAKY_SECRET", secret.clone())
        .env("SHOPWATCH_LOG", "debug")
        .go()
        .await;
    assert_eq!(out.code, 1, "{}", out.describe());
    let reason = out.step("leak")["reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("the text was \"Token [redacted]\""),
        "{reason}"
    );
    assert!(
        !out.stdout.contains(&secret) && !out.stderr.contains(&secret),
        "{}",
        out.describe()
    );
    let html = files_under(&out.artifacts_dir())
        .into_iter()
        .find(|f| f.extension().is_some_and(|e| e == "html"))
        .expect("HTML dump");
    let html = std::fs::read_to_string(html).unwrap();
    assert!(
        html.contains("Token [redacted]") && !html.contains(&secret),
        "HTML dump redacted"
    );
    // The heading showing the secret was covered before the screenshot.
    let masked: u32 = out
        .stderr
        .lines()
        .find_map(|l| l.split("screenshot leak: masked ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("masking logged");
    assert!(masked >= 1, "{}", out.describe());
}

/// What a text says once percent-encoding (`%20` or `+`), HTML entities and JSON escapes are
/// undone, in any order up to three layers deep: every form a secret could be written in.
fn decoded_forms(text: &str) -> Vec<String> {
    fn percent(text: &str, plus: bool) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            match bytes[i] {
                b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                },
                b'+' if plus => out.push(b' '),
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).to_string()
    }
    fn html(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('&') {
            out.push_str(&rest[..at]);
            let after = &rest[at..];
            let entity = after
                .find(';')
                .filter(|end| *end <= 10)
                .map(|end| &after[..=end]);
            let decoded = entity.and_then(|e| match e {
                "&amp;" => Some('&'),
                "&lt;" => Some('<'),
                "&gt;" => Some('>'),
                "&quot;" => Some('"'),
                "&apos;" => Some('\''),
                "&nbsp;" => Some('\u{a0}'),
                _ => {
                    let number = e.strip_prefix("&#")?.strip_suffix(';')?;
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => number.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            });
            match (entity, decoded) {
                (Some(e), Some(c)) => {
                    out.push(c);
                    rest = &after[e.len()..];
                }
                _ => {
                    out.push('&');
                    rest = &after[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
    fn json(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        let mut units: Vec<u16> = Vec::new();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.peek().copied() {
                    Some('u') => {
                        chars.next();
                        let hex: String = chars.by_ref().take(4).collect();
                        if let Ok(unit) = u16::from_str_radix(&hex, 16) {
                            units.push(unit);
                            continue;
                        }
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                    Some(e @ ('"' | '\\' | '/' | 'n' | 't' | 'r')) => {
                        chars.next();
                        out.push_str(&String::from_utf16_lossy(&std::mem::take(&mut units)));
                        out.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            e => e,
                        });
                    }
                    _ => out.push('\\'),
                }
                continue;
            }
            out.push_str(&String::from_utf16_lossy(&std::mem::take(&mut units)));
            out.push(c);
        }
        out.push_str(&String::from_utf16_lossy(&units));
        out
    }
    let mut forms = vec![text.to_string()];
    for _ in 0..3 {
        let mut next = forms.clone();
        for form in &forms {
            for decoded in [
                percent(form, false),
                percent(form, true),
                html(form),
                json(form),
            ] {
                if !next.contains(&decoded) {
                    next.push(decoded);
                }
            }
        }
        forms = next;
    }
    forms
}

/// A secret with a space, `&`, `<`, `"` and non-ASCII goes into a URL the browser opens, a form
/// the browser submits (the shop echoes it into the page), and a URL the HTTP client requests;
/// each step fails, so reasons and artifacts are written. No output (console, `--json`, JUnit,
/// log) and no artifact holds it in any form: raw, percent-encoded, HTML-escaped, JSON-escaped,
/// or layered.
#[tokio::test(flavor = "multi_thread")]
async fn an_encoded_secret_appears_in_no_output_or_artifact_in_any_form() {
    require_browser("chrome");
    let shop = start_shop().await;
    let secret = format!("Zq7 tok&en<9>\"ü-{}", std::process::id());
    let yaml = r##"
journey: encoded-secret
base_url: http://127.0.0.1:1
vars:
  token: { secret: env:ENCODED_SECRET }
steps:
  - step: in-url
    timeout: 10s
    do:
      - open: /login?next=/${token}
      - assert_title: nothing
  - step: in-form
    always: true
    timeout: 10s
    do:
      - execute: { script: 'document.body.insertAdjacentHTML("beforeend", "<form method=get action=/login><input id=sw-next name=next><button id=sw-go>Go</button></form>")' }
      - fill: { selector: "#sw-next", value: "/${token}" }
      - click: "#sw-go"
      - wait_url: { contains: "next=%2F" }
      - assert_title: nothing
  - step: in-request
    always: true
    timeout: 5s
    do:
      - http: { url: "http://127.0.0.1:1/api?code=${token}" }
"##;
    let junit_dir = tempfile::tempdir().unwrap();
    let junit = junit_dir.path().join("junit.xml");
    let mut run = Run::journey(yaml, &shop.url(), "chrome")
        .env("ENCODED_SECRET", secret.clone())
        .env("SHOPWATCH_LOG", "trace");
    run.args
        .extend(["--junit".to_string(), junit.display().to_string()]);
    let out = run.go().await;
    assert_eq!(out.code, 1, "{}", out.describe());

    // The secret went where the journey put it, and shows redacted there.
    let reason = |step: &str| out.step(step)["reason"].as_str().unwrap_or("").to_string();
    assert!(
        reason("in-url").contains("/login?next=/[redacted]"),
        "{}",
        reason("in-url")
    );
    assert!(
        reason("in-form").contains("/login?next=%2F[redacted]"),
        "{}",
        reason("in-form")
    );
    assert!(
        reason("in-request").contains("/api?code=[redacted]"),
        "{}",
        reason("in-request")
    );
    let artifacts = files_under(&out.artifacts_dir());
    let page = artifacts
        .iter()
        .find(|f| f.ends_with("in-form.html"))
        .unwrap_or_else(|| panic!("HTML dump of in-form in {artifacts:?}"));
    let page = std::fs::read_to_string(page).unwrap();
    assert!(
        page.contains("name=\"next\" value=\"/[redacted]\""),
        "the shop echoed the submitted secret into its page:\n{page}"
    );
    for step in ["in-url", "in-form"] {
        for extension in ["png", "html", "txt"] {
            let name = format!("{step}.{extension}");
            assert!(
                artifacts.iter().any(|f| f.ends_with(&name)),
                "{name} in {artifacts:?}"
            );
        }
    }

    let mut outputs = vec![
        ("stdout (--json)".to_string(), out.stdout.clone()),
        ("stderr (console and log)".to_string(), out.stderr.clone()),
        (
            "junit".to_string(),
            std::fs::read_to_string(&junit).expect("junit written"),
        ),
    ];
    assert!(outputs[2].1.contains("[redacted]"), "{}", outputs[2].1);
    for file in &artifacts {
        let bytes = std::fs::read(file).unwrap();
        outputs.push((
            file.display().to_string(),
            String::from_utf8_lossy(&bytes).to_string(),
        ));
    }
    for (name, text) in &outputs {
        for form in decoded_forms(text) {
            assert!(
                !form.contains(&secret),
                "{name} holds the secret in some form:\n{text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_webdriver_endpoint_runs_the_journey() {
    require_browser("chrome");
    let shop = start_shop().await;
    let driver = start_outside_driver(shopwatch::journey::model::Browser::Chrome).await;
    let mut list = demo_journey_args(&shop, "chrome");
    list.extend(["--webdriver".to_string(), driver.url().to_string()]);
    let out = Run::new(&args(&list)).go().await;
    driver.stop().await;
    assert_eq!(out.code, 0, "{}", out.describe());
    assert!(
        matches!(out.run()["outcome"].as_str(), Some("ok" | "degraded")),
        "{}",
        out.describe()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webdriver_that_refuses_the_session_is_a_monitor_error() {
    use shopwatch::journey::model::Browser;
    use shopwatch::webdriver::{Endpoint, Session, SessionOptions};
    require_browser("firefox");
    let shop = start_shop().await;
    // geckodriver serves one session at a time: hold it, so shopwatch's request is refused.
    let driver = start_outside_driver(Browser::Firefox).await;
    let endpoint = Endpoint::Remote(driver.url().to_string());
    let capabilities = serde_json::Map::new();
    let holder = Session::start(&SessionOptions {
        browser: Browser::Firefox,
        endpoint: &endpoint,
        extra_capabilities: &capabilities,
        viewport: Default::default(),
        page_load_timeout: Duration::from_secs(10),
        drivers: &Default::default(),
    })
    .await
    .expect("first session");
    let mut list = demo_journey_args(&shop, "firefox");
    list.extend(["--webdriver".to_string(), driver.url().to_string()]);
    let out = Run::new(&args(&list)).go().await;
    holder.close().await;
    driver.stop().await;
    assert_eq!(out.code, 3, "{}", out.describe());
    assert_eq!(out.run()["outcome"], "error");
    assert!(
        out.step("browse")["reason"]
            .as_str()
            .unwrap()
            .contains("did not create a session"),
        "{}",
        out.describe()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unwritable_artifacts_dir_is_a_monitor_error_not_a_shop_failure() {
    require_browser("chrome");
    let shop = start_shop().await;
    let yaml = r#"
journey: no-disk
base_url: http://127.0.0.1:1
steps:
  - step: home
    do:
      - open: /
      - screenshot: home
"#;
    let mut run = Run::journey(yaml, &shop.url(), "chrome");
    run.block_artifacts = true;
    let out = run.go().await;
    assert_eq!(out.code, 3, "{}", out.describe());
    let home = out.step("home");
    assert_eq!(home["outcome"], "error");
    assert_eq!(home["reason_class"], "artifacts");
    assert!(
        home["reason"].as_str().unwrap().contains("cannot write"),
        "{home}"
    );
}

/// `wait_url: /cart` is the whole path: it does not pass on `/login?next=/cart` (it once did,
/// and the next check then looked at the login page: a false alert under load).
#[tokio::test(flavor = "multi_thread")]
async fn wait_url_matches_the_whole_path_not_a_part_of_the_url() {
    require_browser("chrome");
    let shop = start_shop().await;
    let yaml = r#"journey: wait-url
base_url: http://127.0.0.1:1
steps:
  - step: login-page
    timeout: 2s
    do:
      - open: /login?next=/cart
      - wait_url: /cart
"#;
    let out = Run::journey(yaml, &shop.url(), "chrome").go().await;
    assert_eq!(out.code, 1, "{}", out.describe());
    let step = out.step("login-page");
    assert_eq!(step["reason_class"], "timeout", "{step}");
    assert!(
        step["reason"]
            .as_str()
            .unwrap()
            .contains("/login?next=/cart"),
        "{step}"
    );
}

/// A slow cart page after logging in: `wait_url` waits for the cart's path and `assert_count`
/// looks again until the cart lines are there, so the login step passes.
#[tokio::test(flavor = "multi_thread")]
async fn assertions_wait_for_a_slow_page_after_a_redirect() {
    require_browser("chrome");
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Delay {
        path_prefix: "/cart".into(),
        ms: 1500,
    }]);
    let yaml = std::fs::read_to_string(repo_path("journeys/demo-shop.yaml"))
        .unwrap()
        .replace("retries: 1", "retries: 0");
    let out = Run::journey(&yaml, &shop.url(), "chrome").go().await;
    assert_eq!(out.code, 0, "{}", out.describe());
    let login = &out.step("login")["outcome"];
    assert!(login == "ok" || login == "slow", "{}", out.describe());
}

/// `check` on a monitor configuration runs the journeys it names (`--journey` picks), and an
/// unknown name lists the ones there are.
#[tokio::test(flavor = "multi_thread")]
async fn check_runs_the_journeys_a_configuration_names() {
    require_browser("firefox");
    let shop = start_shop().await;
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["home", "catalog"] {
        let path = if name == "home" {
            "/"
        } else {
            "/product/ethiopia-yirgacheffe"
        };
        std::fs::write(
            dir.path().join(format!("{name}.yaml")),
            format!(
                "journey: {name}\nbase_url: http://127.0.0.1:1\nsteps:\n  - step: open\n    do:\n      - open: {path}\n"
            ),
        )
        .expect("write journey");
    }
    let config = dir.path().join("shopwatch.yaml");
    std::fs::write(&config, "journeys:\n  - home.yaml\n  - catalog.yaml\n").expect("write config");
    let config = config.to_str().expect("UTF-8 temp path");
    let url = shop.url();
    let check = |more: &[&str]| {
        let mut list = vec!["check", config, "--base-url", &url, "--browser", "firefox"];
        list.extend(more);
        Run::new(&list)
    };

    let both = check(&[]).go().await;
    assert_eq!(both.code, 0, "{}", both.describe());
    let names: Vec<&str> = both
        .runs
        .iter()
        .map(|r| r["journey"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["home", "catalog"], "{}", both.describe());

    let one = check(&["--journey", "catalog"]).go().await;
    assert_eq!(one.code, 0, "{}", one.describe());
    assert_eq!(one.run()["journey"], "catalog", "{}", one.describe());

    let unknown = check(&["--journey", "checkout"]).go().await;
    assert_eq!(unknown.code, 2, "{}", unknown.describe());
    assert!(
        unknown.stderr.contains(
            "--journey checkout: no journey has that name; the journeys are `home`, `catalog`"
        ),
        "{}",
        unknown.describe()
    );
}
