//! The history inside `shopwatch run`, against the demo shop: the API lists runs, keeps them
//! over a restart, is closed without credentials, and never answers a secret; with PostgreSQL
//! going away, runs and alerts go on and writing resumes when it is back.

mod util;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use util::alerting::WebhookReceiver;
use util::monitor::{write, Monitor};
use util::postgres::{Postgres, PASSWORD};
use util::{start_shop, Fault};

const API_TOKEN: &str = "api-Token-4f9e2c7a1b3d5e6f";
const SHOP_TOKEN: &str = "shop-Key-8c1d9e0f7a6b";

/// An HTTP-only journey (no browser): the home page with a secret in its query, every 10 s.
fn journey(dir: &Path, shop_url: &str, failing: bool) -> PathBuf {
    let second = if failing {
        "  - step: missing\n    do:\n      - http: { url: \"/no-such-page/${token}\", expect_status: 200 }\n"
    } else {
        ""
    };
    write(
        dir,
        "journey.yaml",
        &format!(
            "journey: shop-api\nbase_url: {shop_url}\nevery: 10s\nvars:\n  token: {{secret: env:SHOP_TOKEN}}\nsteps:\n  - step: home\n    do:\n      - http: {{ url: \"/?key=${{token}}\", expect_status: 200 }}\n{second}"
        ),
    )
}

fn api_base(monitor: &mut Monitor) -> String {
    monitor
        .metrics_url()
        .trim_end_matches("/metrics")
        .to_string()
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let client = reqwest::Client::new();
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn api(base: &str, path: &str) -> serde_json::Value {
    let (status, body) = get(&format!("{base}{path}"), Some(API_TOKEN)).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits until the API lists at least `n` runs of `shop-api`; their ids, newest first.
async fn wait_for_runs(base: &str, n: usize, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let page = api(base, "/api/v1/runs?journey=shop-api&limit=100").await;
        let ids: Vec<String> = page["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        if ids.len() >= n {
            return ids;
        }
        assert!(
            Instant::now() < deadline,
            "{n} runs not listed within {within:?}: {page}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{what} holds a secret:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_runs_over_a_restart_behind_auth_and_without_secrets() {
    let shop = start_shop().await;
    let keep = tempfile::tempdir().unwrap();
    let journey = journey(keep.path(), &shop.url(), true);
    let config = write(
        keep.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\nstate_dir: state\njourneys: [{}]\nui:\n  auth:\n    bearer: {{token: {{secret: env:API_TOKEN}}}}\n",
            journey.display()
        ),
    );
    let env = [("API_TOKEN", API_TOKEN), ("SHOP_TOKEN", SHOP_TOKEN)];
    let mut monitor = Monitor::start_with_env(&config, tempfile::tempdir().unwrap(), &env);
    let base = api_base(&mut monitor);
    let earlier = wait_for_runs(&base, 2, Duration::from_secs(40)).await;
    assert!(
        keep.path().join("state/history.db").is_file(),
        "the state directory is made on first start"
    );

    // Closed without the token, or with a wrong one; the challenge says how to authenticate.
    let (status, _) = get(&format!("{base}/api/v1/runs"), None).await;
    assert_eq!(status, 401);
    let (status, _) = get(&format!("{base}/api/v1/runs"), Some("not-the-token-at-all")).await;
    assert_eq!(status, 401);
    // What is not the API stays open, and what is not served a 404.
    let (status, _) = get(&format!("{base}/healthz"), None).await;
    assert_eq!(status, 200);
    let (status, _) = get(&format!("{base}/no-such-page"), None).await;
    assert_eq!(status, 404);

    // The run: its failing step, with the reason (the secret in the URL redacted).
    let run = api(&base, &format!("/api/v1/runs/{}", earlier[0])).await;
    assert_eq!(run["journey"], "shop-api");
    assert_eq!(run["outcome"], "failed");
    assert_eq!(run["failed_step"], "missing");
    assert_eq!(run["steps"].as_array().unwrap().len(), 2);
    assert_eq!(run["steps"][0]["outcome"], "ok");
    assert!(run["reason"].as_str().unwrap().contains("404"), "{run}");
    let journeys = api(&base, "/api/v1/journeys").await;
    assert_eq!(journeys["journeys"][0]["name"], "shop-api");
    assert!(
        journeys["journeys"][0]["day"]["failed"].as_i64().unwrap() >= 2,
        "{journeys}"
    );
    let bad = get(
        &format!("{base}/api/v1/runs?outcome=broken"),
        Some(API_TOKEN),
    )
    .await;
    assert_eq!(bad.0, 400, "{}", bad.1);

    // No answer holds a secret.
    let mut answers = Vec::new();
    for path in [
        "/api/v1/journeys".to_string(),
        "/api/v1/runs?limit=100".to_string(),
        format!("/api/v1/runs/{}", earlier[0]),
        "/api/v1/journeys/shop-api/steps?period=day&since=7d".to_string(),
        "/api/v1/notifications".to_string(),
        "/api/v1/status".to_string(),
    ] {
        answers.push(get(&format!("{base}{path}"), Some(API_TOKEN)).await.1);
    }
    for answer in &answers {
        assert_no_secret("an API answer", answer, &[API_TOKEN, SHOP_TOKEN]);
    }
    assert_no_secret("the log", &monitor.log(), &[API_TOKEN, SHOP_TOKEN]);

    monitor.signal(libc::SIGTERM);
    assert_eq!(
        monitor.wait_exit(Duration::from_secs(40)),
        0,
        "{}",
        monitor.log()
    );

    // Started again: the runs of before are listed at once.
    let mut monitor = Monitor::start_with_env(&config, tempfile::tempdir().unwrap(), &env);
    let base = api_base(&mut monitor);
    let after = wait_for_runs(&base, earlier.len(), Duration::from_secs(10)).await;
    for id in &earlier {
        assert!(
            after.contains(id),
            "run {id} of before the restart is listed: {after:?}"
        );
    }
    monitor.signal(libc::SIGTERM);
    assert_eq!(
        monitor.wait_exit(Duration::from_secs(40)),
        0,
        "{}",
        monitor.log()
    );
}

fn metric(text: &str, line: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(line))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn wait_metric(url: &str, line: &str, above: f64, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let text = get(url, None).await.1;
        if metric(&text, line) > above {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{line} not above {above} within {within:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_gone_runs_and_alerts_go_on_and_writing_resumes() {
    let mut pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let shop = start_shop().await;
    let hook = WebhookReceiver::start().await;
    let keep = tempfile::tempdir().unwrap();
    let journey = journey(keep.path(), &shop.url(), false);
    let config = write(
        keep.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\njourneys: [{}]\nhistory:\n  url: {}\n  password: {{secret: env:PG_PASSWORD}}\nui:\n  auth: none\nalerting:\n  failure_threshold: 1\n  state_file: state/alerts.json\n  sinks:\n    - webhook: {{url: \"{}/hook\"}}\n",
            journey.display(),
            pg.url(),
            hook.url
        ),
    );
    let env = [("PG_PASSWORD", PASSWORD), ("SHOP_TOKEN", SHOP_TOKEN)];
    let mut monitor = Monitor::start_with_env(&config, tempfile::tempdir().unwrap(), &env);
    let metrics = monitor.metrics_url();
    let base = metrics.trim_end_matches("/metrics").to_string();
    let before = wait_for_runs(&base, 1, Duration::from_secs(40)).await;

    // PostgreSQL goes away; the shop breaks meanwhile.
    pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        pg
    })
    .await
    .unwrap();
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/".into(),
        code: 503,
    }]);
    let text = wait_metric(
        &metrics,
        "shopwatch_history_write_errors_total{reason=\"unavailable\"}",
        0.0,
        Duration::from_secs(40),
    )
    .await;
    let runs = "shopwatch_journey_runs_total{journey=\"shop-api\",outcome=\"failed\"}";
    wait_metric(&metrics, runs, 0.0, Duration::from_secs(40)).await;
    // The alert still goes out.
    let received = hook.wait_for(1, Duration::from_secs(40)).await;
    assert_eq!(received[0].json()["status"], "firing");
    let status = api(&base, "/api/v1/status").await;
    assert!(
        status["error"].as_str().unwrap().contains("PostgreSQL"),
        "{status}"
    );
    assert_no_secret("the status", &status.to_string(), &[PASSWORD]);
    let written = metric(&text, "shopwatch_history_writes_total");

    // Back: the next runs are written, and the API answers again.
    shop.set_faults(vec![]);
    let pg = tokio::task::spawn_blocking(move || {
        pg.restart();
        pg
    })
    .await
    .unwrap();
    wait_metric(
        &metrics,
        "shopwatch_history_writes_total",
        written,
        Duration::from_secs(60),
    )
    .await;
    let after = wait_for_runs(&base, before.len() + 1, Duration::from_secs(40)).await;
    assert!(after.contains(&before[0]));
    assert_no_secret("the log", &monitor.log(), &[PASSWORD, SHOP_TOKEN]);
    monitor.signal(libc::SIGTERM);
    assert_eq!(
        monitor.wait_exit(Duration::from_secs(40)),
        0,
        "{}",
        monitor.log()
    );
    drop(pg);
}
