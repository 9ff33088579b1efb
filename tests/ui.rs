//! The web UI, the status page and badges of a real `shopwatch run` against the demo shop: a
//! journey in Chromium passes, then fails at its login (a fault removes the button), and a
//! real headless Chromium driven over WebDriver walks every page and checks what a person
//! looks for. A screenshot of each page is saved under `<target>/tmp/ui-pages/`.
//!
//! Also: `/ui/` closed (403) without `ui.auth`, 401 with wrong credentials; `/status` and
//! badges public, listing only what `status_pages` names; no secret in any page; `/healthz`
//! degraded while the history store cannot be opened.

mod util;

use base64::Engine;
use fantoccini::{Client, Locator};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::alerting::WebhookReceiver;
use util::monitor::{write, Monitor};
use util::{start_shop, Fault};

const SHOP_PASSWORD: &str = "demo-password-123";
const UI_USER: &str = "admin";
const UI_PASSWORD: &str = "ui-Pass-7c3e9a1f";
const SALT: &str = "c2hvcHdhdGNodWl0ZXN0";

fn journey(dir: &Path, shop_url: &str) -> PathBuf {
    write(
        dir,
        "journey.yaml",
        &format!(
            "journey: ui-shop
base_url: {shop_url}
every: 10s
browser: chrome
vars:
  email: shopper@example.com
  password: {{secret: env:SHOP_PASSWORD}}
defaults: {{timeout: 3s}}
steps:
  - step: home
    do:
      - open: /
  - step: login
    do:
      - open: /login?next=/cart
      - fill: {{ selector: \"#email\", value: \"${{email}}\" }}
      - fill: {{ selector: \"#password\", value: \"${{password}}\" }}
      - click: \"#login-button\"
      - wait_url: /cart
      - screenshot: login-done
"
        ),
    )
}

fn base(monitor: &mut Monitor) -> String {
    monitor
        .metrics_url()
        .trim_end_matches("/metrics")
        .to_string()
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Status, content type and body of a GET, with an `Authorization` header when given.
async fn get(url: &str, authorization: Option<&str>) -> (u16, String, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, response.text().await.unwrap())
}

async fn api(base: &str, path: &str) -> serde_json::Value {
    let (status, _, body) = get(&format!("{base}{path}"), Some(&basic(UI_USER, UI_PASSWORD))).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits until `check` finds what it wants in the API's answer at `path`.
async fn wait_api<T>(
    base: &str,
    path: &str,
    within: Duration,
    check: impl Fn(&serde_json::Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        let answer = api(base, path).await;
        if let Some(found) = check(&answer) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "not seen within {within:?} at {path}: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn pages_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-pages");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn save_screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    assert!(png.len() > 1000, "the screenshot of {name} is empty");
    std::fs::write(pages_dir().join(format!("{name}.png")), png).unwrap();
}

async fn text(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap(),
        Err(e) => {
            let url = client.current_url().await;
            let source = client.source().await.unwrap_or_default();
            panic!("no `{css}` on {url:?}: {e}\n{source}")
        }
    }
}

async fn count(client: &Client, css: &str) -> usize {
    client.find_all(Locator::Css(css)).await.unwrap().len()
}

/// The image's natural width: more than 0 when it loaded.
async fn image_width(client: &Client, css: &str) -> u64 {
    // Loaded, or given up on: wait for `complete` first.
    let script = "const img = document.querySelector(arguments[0]); return img && img.complete ? img.naturalWidth : -1;";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let width = client
            .execute(script, vec![serde_json::json!(css)])
            .await
            .unwrap();
        if let Some(w) = width.as_i64().filter(|w| *w >= 0) {
            return w as u64;
        }
        assert!(Instant::now() < deadline, "`{css}` never loaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{what} holds a secret ({secret}):\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_shows_real_runs_in_chromium_and_the_status_page_only_what_it_lists() {
    util::require_browser("chrome");
    let _slot = util::browser_slot().await;
    let mut shop = start_shop().await;
    let tls_addr = util::start_self_signed_tls(&mut shop).await;
    let hook = WebhookReceiver::start().await;
    let keep = tempfile::tempdir().unwrap();
    let journey = journey(keep.path(), &shop.url());
    let hash = shopwatch::ui::auth::hash_password(UI_PASSWORD, SALT).unwrap();
    let config = write(
        keep.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0
state_dir: state
artifacts: {{dir: artifacts}}
journeys: [{journey}]
probes:
  - http: {{name: shop-home, url: \"{shop}/\", every: 10s, timeout: 5s}}
  - http: {{name: hidden-backend, url: \"{shop}/cart\", every: 10s, timeout: 5s}}
  - tls: {{name: shop-cert, target: \"{tls_addr}\", server_name: localhost, insecure_skip_verify: true, every: 10s}}
alerting:
  failure_threshold: 1
  state_file: state/alerts.json
  sinks:
    - webhook: {{url: \"{hook}\"}}
ui:
  auth:
    basic: {{user: {UI_USER}, password_hash: {{secret: env:UI_HASH}}}}
status_pages:
  - name: shop
    title: Demo shop status
    journeys: [ui-shop]
    probes: [shop-home]
",
            journey = journey.display(),
            shop = shop.url(),
            hook = hook.url,
        ),
    );
    let env = [("SHOP_PASSWORD", SHOP_PASSWORD), ("UI_HASH", hash.as_str())];
    let mut monitor = Monitor::start_with_env(&config, tempfile::tempdir().unwrap(), &env);
    let base = base(&mut monitor);
    let runs = "/api/v1/runs?journey=ui-shop&limit=100";
    let passed = |n: usize| {
        move |page: &serde_json::Value| {
            let ok = page["runs"]
                .as_array()?
                .iter()
                .filter(|r| r["outcome"] == "ok")
                .count();
            (ok >= n).then_some(())
        }
    };
    wait_api(&base, runs, Duration::from_secs(90), passed(2)).await;
    shop.set_faults(vec![Fault::RemoveElement {
        selector: "#login-button".into(),
    }]);
    let failed_id = wait_api(&base, runs, Duration::from_secs(60), |page| {
        page["runs"]
            .as_array()?
            .iter()
            .find(|r| r["outcome"] == "failed")
            .map(|r| r["id"].as_str().unwrap().to_string())
    })
    .await;
    // The alert went out and is kept.
    wait_api(
        &base,
        "/api/v1/notifications",
        Duration::from_secs(30),
        |n| {
            n["notifications"]
                .as_array()?
                .iter()
                .any(|n| {
                    n["event"] == "firing"
                        && n["alert"].as_str().is_some_and(|a| a.contains("ui-shop"))
                })
                .then_some(())
        },
    )
    .await;

    // Access: the UI is behind `ui.auth`, the status page and badges are not.
    let (status, _, _) = get(&format!("{base}/ui/"), None).await;
    assert_eq!(status, 401);
    let (status, _, _) = get(&format!("{base}/ui/"), Some(&basic(UI_USER, "wrong"))).await;
    assert_eq!(status, 401);
    let (status, content_type, _) =
        get(&format!("{base}/ui/"), Some(&basic(UI_USER, UI_PASSWORD))).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let (status, _, _) = get(&format!("{base}/ui/no-such-page"), None).await;
    assert_eq!(status, 401, "what is under /ui/ is closed, served or not");
    let (status, _, status_html) = get(&format!("{base}/status"), None).await;
    assert_eq!(status, 200, "{status_html}");
    let (status, content_type, badge) = get(&format!("{base}/badge/ui-shop.svg"), None).await;
    assert_eq!(status, 200, "{badge}");
    assert_eq!(content_type, "image/svg+xml");
    assert!(badge.contains("failing"), "{badge}");
    let (status, _, badge) = get(
        &format!("{base}/badge/ui-shop.svg?type=availability&period=7d"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{badge}");
    assert!(
        badge.contains("ui-shop 7d") && badge.contains('%'),
        "{badge}"
    );
    for hidden in ["shop-home", "hidden-backend", "no-such-journey"] {
        let (status, _, _) = get(&format!("{base}/badge/{hidden}.svg"), None).await;
        assert_eq!(
            status, 404,
            "{hidden} has no badge: it is no journey on a status page"
        );
    }
    let (status, _, _) = get(&format!("{base}/badge/ui-shop.svg?period=7d"), None).await;
    assert_eq!(status, 400);
    let (status, _, _) = get(&format!("{base}/status/no-such-page"), None).await;
    assert_eq!(status, 404);

    // Every page's HTML, for the secrets.
    let mut pages = vec![
        "/ui/".to_string(),
        "/ui/journeys/ui-shop".to_string(),
        "/ui/journeys/ui-shop?period=day&browser=chrome".to_string(),
        format!("/ui/runs/{failed_id}"),
        "/ui/probes/shop-home".to_string(),
        "/ui/alerts".to_string(),
        "/status".to_string(),
        "/status/shop".to_string(),
        "/badge/ui-shop.svg".to_string(),
    ];
    let good_id = api(&base, &format!("/api/v1/runs/{failed_id}")).await["last_good"]
        .as_str()
        .expect("the failed run has a last good run")
        .to_string();
    pages.push(format!("/ui/runs/{good_id}"));
    for page in &pages {
        let (status, _, body) =
            get(&format!("{base}{page}"), Some(&basic(UI_USER, UI_PASSWORD))).await;
        assert_eq!(status, 200, "{page}: {body}");
        assert_no_secret(page, &body, &[SHOP_PASSWORD, UI_PASSWORD, &hash]);
    }

    // The certificate's expiry, read by the tls probe.
    let (status, _, cert_page) = get(
        &format!("{base}/ui/probes/shop-cert"),
        Some(&basic(UI_USER, UI_PASSWORD)),
    )
    .await;
    assert_eq!(status, 200, "{cert_page}");
    assert!(
        cert_page.contains("certificate (earliest presented)") && cert_page.contains("4096-01-01"),
        "{cert_page}"
    );

    // A person's walk through the pages, in Chromium.
    let drivers = Arc::new(shopwatch::webdriver::DriverPool::default());
    let capabilities = serde_json::Map::new();
    let session = shopwatch::webdriver::Session::start(&shopwatch::webdriver::SessionOptions {
        browser: shopwatch::journey::model::Browser::Chrome,
        endpoint: &shopwatch::webdriver::Endpoint::Local,
        extra_capabilities: &capabilities,
        viewport: Default::default(),
        page_load_timeout: Duration::from_secs(20),
        drivers: &drivers,
    })
    .await
    .expect("a Chromium session");
    let walked = walk(&session.client, &base, &failed_id).await;
    session.close().await;
    drop(drivers);
    walked.unwrap_or_else(|e| panic!("{e}\n{}", monitor.log()));
    monitor.stop();
}

/// Every page, as a person looks at it; Err with what was wrong (the session is closed
/// either way).
async fn walk(client: &Client, base: &str, failed_id: &str) -> Result<(), String> {
    let authority = base.trim_start_matches("http://");
    // The browser's login prompt, answered by the URL: Chromium keeps the credentials for
    // the other pages of the same realm.
    client
        .goto(&format!("http://{UI_USER}:{UI_PASSWORD}@{authority}/ui/"))
        .await
        .map_err(|e| format!("open the overview: {e}"))?;
    let row = "tr.journey[data-name='ui-shop']";
    let state = text(client, &format!("{row} .state")).await;
    assert_eq!(state, "failed", "the journey's state is its last run's");
    let availability: Vec<String> = {
        let mut out = Vec::new();
        for cell in client
            .find_all(Locator::Css(&format!("{row} td.availability")))
            .await
            .unwrap()
        {
            out.push(cell.text().await.unwrap());
        }
        out
    };
    assert_eq!(availability.len(), 3, "24 h, 7 d and 30 d");
    for a in &availability {
        let share: f64 = a
            .trim_end_matches('%')
            .parse()
            .map_err(|_| format!("`{a}`"))?;
        assert!(share > 0.0 && share < 100.0, "passed and failed runs: {a}");
    }
    assert_eq!(text(client, &format!("{row} td.errors")).await, "0");
    assert_eq!(
        count(client, &format!("{row} svg.chart polyline")).await,
        2,
        "p50 and p95"
    );
    assert_eq!(
        text(client, "tr.probe[data-name='shop-home'] .state").await,
        "ok"
    );
    assert_eq!(
        count(client, "tr.probe[data-name='hidden-backend']").await,
        1,
        "the UI shows every probe"
    );
    save_screenshot(client, "overview").await;

    // The journey: runs over time, failures by step and reason, step charts, the filter.
    client
        .find(Locator::Css(&format!("{row} a")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#strip"))
        .await
        .map_err(|e| format!("the journey page: {e}"))?;
    assert!(
        count(client, "#strip rect.ok").await >= 2,
        "passed runs in the strip"
    );
    assert!(
        count(client, "#strip rect.bad").await >= 1,
        "the failed run in the strip"
    );
    let failures = text(client, "#failures").await;
    assert!(failures.contains("login"), "failures by step: {failures}");
    let week_failed: i64 = text(client, "#week-failed").await.parse().unwrap();
    assert!(week_failed >= 1);
    assert!(
        count(client, ".step-chart").await >= 2,
        "the whole run and its steps"
    );
    save_screenshot(client, "journey").await;
    client
        .find(Locator::Css(
            "select[name='browser'] option[value='chrome']",
        ))
        .await
        .map_err(|e| format!("the browser filter offers chrome: {e}"))?
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Css("form.filter button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client
        .current_url()
        .await
        .unwrap()
        .as_str()
        .contains("browser=chrome")
    {
        assert!(Instant::now() < deadline, "the filter form did not submit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(count(client, "#strip rect.bad").await >= 1, "chrome's runs");

    // The failed run: waterfall, reason, screenshot beside the last good run's.
    client
        .goto(&format!("{base}/ui/runs/{failed_id}"))
        .await
        .map_err(|e| format!("the run page: {e}"))?;
    assert_eq!(text(client, "#outcome").await, "failed");
    assert_eq!(text(client, "#failed-step").await, "login");
    let reason = text(client, "#reason").await;
    assert!(
        reason.contains("#login-button"),
        "the reason names the selector: {reason}"
    );
    assert_eq!(
        count(client, "#waterfall svg rect").await,
        2,
        "a bar per step"
    );
    assert!(
        image_width(client, "#failed-screenshot").await > 0,
        "the failing step's screenshot loads"
    );
    assert!(
        count(client, "#failed-html").await == 1,
        "the page's HTML is linked"
    );
    assert_eq!(
        count(client, "#last-good-link").await,
        1,
        "the last good run is named"
    );
    assert!(
        image_width(client, "#good-screenshot").await > 0,
        "the last good run's screenshot of the same step loads"
    );
    save_screenshot(client, "run").await;

    // The probe.
    client
        .goto(&format!("{base}/ui/probes/shop-home"))
        .await
        .map_err(|e| format!("the probe page: {e}"))?;
    assert_eq!(text(client, "#state").await, "ok");
    let results: i64 = text(client, "#results").await.parse().unwrap();
    assert!(results >= 1);
    assert_eq!(text(client, "#passed-share").await, "100%");
    assert_eq!(count(client, "#latency svg polyline").await, 2);
    save_screenshot(client, "probe").await;

    // The alerts: what fired, where it went.
    client
        .goto(&format!("{base}/ui/alerts"))
        .await
        .map_err(|e| format!("the alerts page: {e}"))?;
    let table = text(client, "#notifications").await;
    assert!(
        table.contains("firing") && table.contains("ui-shop") && table.contains("webhook"),
        "{table}"
    );
    save_screenshot(client, "alerts").await;

    // The public status page: only what it lists, no reason.
    client
        .goto(&format!("{base}/status"))
        .await
        .map_err(|e| format!("the status page: {e}"))?;
    let item = |name: &str| format!(".item[data-name='{name}'] .state");
    assert_eq!(text(client, &item("ui-shop")).await, "Down");
    assert_eq!(text(client, &item("shop-home")).await, "Operational");
    assert_eq!(
        text(client, "#summary").await,
        "Some systems are not operational"
    );
    assert_eq!(
        count(client, ".item[data-name='ui-shop'] .bars svg rect").await,
        90,
        "90 days of bars"
    );
    let incidents = text(client, "#page-shop").await;
    assert!(incidents.contains("ui-shop: down"), "{incidents}");
    let page = client.source().await.unwrap();
    for hidden in [
        "hidden-backend",
        "#login-button",
        "login",
        "/artifacts/",
        "<img",
    ] {
        assert!(
            !page.contains(hidden),
            "the status page shows `{hidden}`:\n{page}"
        );
    }
    save_screenshot(client, "status").await;
    client
        .goto(&format!("{base}/badge/ui-shop.svg"))
        .await
        .map_err(|e| format!("the badge: {e}"))?;
    save_screenshot(client, "badge").await;
    Ok(())
}

/// Without `ui.auth` the UI is closed (403, saying what to set) while the status page is
/// open; with a history that cannot be opened, `/healthz` says so and the status page says it
/// cannot tell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ui_auth_the_ui_is_closed_and_a_failing_store_degrades_healthz() {
    let shop = start_shop().await;
    let keep = tempfile::tempdir().unwrap();
    let unused = util::monitor::free_port();
    let config = write(
        keep.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0
state_dir: state
history:
  url: postgres://shopwatch@127.0.0.1:{unused}/shopwatch
probes:
  - http: {{name: shop-home, url: \"{}/\", every: 10s, timeout: 5s}}
status_pages:
  - {{name: shop, journeys: [], probes: [shop-home]}}
",
            shop.url()
        ),
    );
    let mut monitor = Monitor::start(&config, tempfile::tempdir().unwrap());
    let base = base(&mut monitor);
    let (status, _, body) = get(&format!("{base}/ui/"), None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("ui.auth"), "{body}");
    let (status, _, body) = get(&format!("{base}/status/shop"), None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("cannot be read"), "{body}");
    let (status, _, body) = get(&format!("{base}/badge/shop-home.svg"), None).await;
    assert_eq!(status, 404, "a probe has no badge: {body}");
    let (_, _, health) = get(&format!("{base}/healthz"), None).await;
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["history_ok"], false, "{health}");
    assert!(
        health["reasons"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .contains("history store is failing")
            && r.as_str().unwrap().contains(&unused.to_string())),
        "{health}"
    );
    monitor.stop();
}
