//! Alerts from the real `shopwatch run` to real receivers: a real Alertmanager (Debian's
//! `prometheus-alertmanager`, checked through its API and `amtool`), a real SMTP server
//! (aiosmtpd), and a local webhook receiver (an HTTP server that records what it gets), all on
//! 127.0.0.1. Faults are injected in the demo shop; the WebDriver is killed for real.

mod util;

use std::path::Path;
use std::time::{Duration, Instant};
use util::alerting::{hmac_sha256_hex, Alertmanager, Received, SmtpServer, WebhookReceiver};
use util::monitor::{free_port, get_text, write, Monitor};
use util::{repo_path, require_browser, start_shop, Fault};

const WEBHOOK_SECRET: &str = "whsec-test-3f9a1c";
/// The demo journey's secret values (journeys/demo-shop.yaml): none may be in an alert.
const DEMO_SECRETS: [&str; 3] = ["demo-password-123", "GIFT-1000-AAAA", "demo-admin-token"];

/// The `alerting:` block the README shows, from the ```yaml block after
/// `<!-- alerting-config -->`.
fn readme_alerting_block() -> String {
    let readme = std::fs::read_to_string(repo_path("README.md")).expect("README");
    readme
        .split("<!-- alerting-config -->")
        .nth(1)
        .and_then(|rest| rest.split("```yaml\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a ```yaml block after <!-- alerting-config -->")
        .to_string()
}

/// The shipped demo journey, every 10 s instead of every minute (its `base_url` is set in the
/// configuration).
fn demo_journey(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo_path("journeys/demo-shop.yaml")).expect("demo");
    assert!(text.contains("\nevery: 1m\n"));
    write(
        dir,
        "demo-shop.yaml",
        &text.replace("\nevery: 1m\n", "\nevery: 10s\n"),
    )
}

fn work_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("shopwatch-alerts-")
        .tempdir()
        .expect("temp dir")
}

fn events(received: &[Received]) -> Vec<(String, String)> {
    received
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["event"].as_str().unwrap_or("?").to_string(),
                body["key"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{what} holds the secret {secret:?}:\n{text}"
        );
    }
}

/// The README's alerting configuration, as written, with the receivers' real ports, for the
/// demo journey failing at checkout: Alertmanager gets `JourneyStepFailed` with the right labels
/// and sees it resolved, the webhook gets signed JSON, the email has journey, step and reason,
/// the screenshot link works, and no secret is in any of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_alerting_config_alerts_every_sink_and_resolves() {
    require_browser("firefox");
    let _slot = util::browser_slot().await;
    let alertmanager = Alertmanager::start().await;
    let smtp = SmtpServer::start().await;
    let hook = WebhookReceiver::start().await;
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/checkout".into(),
        code: 500,
    }]);

    let block = readme_alerting_block();
    for written in [
        "http://127.0.0.1:9093",
        "http://127.0.0.1:9000/hook",
        "smtp://127.0.0.1:2525",
    ] {
        assert!(
            block.contains(written),
            "the README's block has {written}:\n{block}"
        );
    }
    let block = block
        .replace("http://127.0.0.1:9093", &alertmanager.url)
        .replace("http://127.0.0.1:9000/hook", &format!("{}/hook", hook.url))
        .replace(
            "smtp://127.0.0.1:2525",
            &format!("smtp://127.0.0.1:{}", smtp.port),
        );
    let work = work_dir();
    let journey = demo_journey(work.path());
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\nlocation: test-lab\njourneys:\n  - file: {}\n    base_url: {}\n{block}",
            journey.display(),
            shop.url()
        ),
    );
    let mut monitor = Monitor::start_with_env(&config, work, &[("WEBHOOK_SECRET", WEBHOOK_SECRET)]);
    let metrics_url = monitor.metrics_url();

    // Alertmanager: the alert with its labels, through the API and amtool.
    let alert = alertmanager
        .wait_for_alert("JourneyStepFailed", Duration::from_secs(120))
        .await;
    let labels = &alert["labels"];
    assert_eq!(labels["journey"], "demo-checkout", "{alert}");
    assert_eq!(labels["step"], "checkout", "{alert}");
    assert_eq!(labels["severity"], "critical", "{alert}");
    assert_eq!(labels["location"], "test-lab", "{alert}");
    assert!(
        alert["annotations"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("500"),
        "the reason says what the page showed: {alert}"
    );
    assert!(alert["annotations"]["run_id"].is_string(), "{alert}");
    let amtool = alertmanager.amtool_query(&["alertname=JourneyStepFailed"]);
    assert!(amtool.contains("\"step\":\"checkout\""), "amtool: {amtool}");
    let alerts = alertmanager.alerts().await;
    assert!(
        alerts
            .iter()
            .all(|a| a["labels"]["alertname"] != "MonitorUnhealthy"),
        "a shop failure is not the monitor's: {alerts:?}"
    );

    // The webhook (critical only): signed JSON with what on-call needs.
    let received = hook.wait_for(1, Duration::from_secs(30)).await;
    let firing = &received[0];
    let body = firing.json();
    assert_eq!(body["event"], "firing", "{body}");
    assert_eq!(body["alert"], "JourneyStepFailed");
    assert_eq!(body["journey"], "demo-checkout");
    assert_eq!(body["step"], "checkout");
    assert_eq!(body["location"], "test-lab");
    assert!(body["reason"].as_str().unwrap().contains("500"), "{body}");
    assert!(body["steps"].as_array().unwrap().len() >= 4, "{body}");
    assert_eq!(
        firing.header("x-shopwatch-signature-256"),
        Some(
            format!(
                "sha256={}",
                hmac_sha256_hex(WEBHOOK_SECRET.as_bytes(), &firing.body)
            )
            .as_str()
        ),
        "the signature is HMAC-SHA256 of the body with the secret"
    );
    // Its screenshot is served by shopwatch.
    let screenshot = body["screenshot_url"]
        .as_str()
        .expect("a screenshot link")
        .to_string();
    assert!(
        screenshot.starts_with(metrics_url.trim_end_matches("/metrics")),
        "{screenshot}"
    );
    let response = reqwest::get(&screenshot).await.expect("GET screenshot");
    assert_eq!(response.status(), 200, "{screenshot}");
    assert_eq!(response.headers()["content-type"], "image/png");
    let listing = reqwest::get(format!(
        "{}/artifacts/",
        metrics_url.trim_end_matches("/metrics")
    ))
    .await
    .unwrap();
    assert_eq!(listing.status(), 404, "no directory listings");

    // The email: journey, step and reason.
    let mails = smtp.wait_for_messages(1, Duration::from_secs(30)).await;
    let mail = mails
        .iter()
        .find(|m| m.contains("JourneyStepFailed"))
        .expect("the alert email");
    for needle in [
        "demo-checkout / checkout",
        "Journey: demo-checkout",
        "Step: checkout",
        "Reason: ",
        "500",
    ] {
        assert!(mail.contains(needle), "{needle:?} in the email:\n{mail}");
    }
    assert!(mail.contains("X-Envelope-To: oncall@example.com"), "{mail}");

    // Fixed: resolved everywhere it fired.
    shop.clear_faults();
    alertmanager
        .wait_for(
            "JourneyStepFailed resolved",
            Duration::from_secs(120),
            |alerts| {
                alerts
                    .iter()
                    .all(|a| a["labels"]["alertname"] != "JourneyStepFailed")
            },
        )
        .await;
    let received = hook.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(received[1].json()["event"], "resolved");
    smtp.wait_for_messages(2, Duration::from_secs(30)).await;

    let metrics = get_text(&metrics_url).await;
    assert!(
        metrics.contains(
            r#"shopwatch_notifications_total{sink="webhook",result="sent",location="test-lab"} 2"#
        ),
        "{metrics}"
    );
    let log = monitor.stop();
    // No secret in any alert, nor in the log.
    let mut secrets = DEMO_SECRETS.to_vec();
    secrets.push(WEBHOOK_SECRET);
    for r in hook.received() {
        assert_no_secret(
            "a webhook body",
            &String::from_utf8_lossy(&r.body),
            &secrets,
        );
    }
    for mail in smtp.messages() {
        assert_no_secret("an email", &mail, &secrets);
    }
    assert_no_secret("the Alertmanager log", &alertmanager.log(), &secrets);
    assert_no_secret("shopwatch's log", &log, &secrets);
}

/// A config with one http probe of the shop's home page every 10 s and a webhook at `hook_url`.
fn probe_config(dir: &Path, shop_url: &str, hook_url: &str) -> std::path::PathBuf {
    write(
        dir,
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0
probes:
  - http: {{name: shop-home, url: \"{shop_url}/\", every: 10s, timeout: 5s}}
alerting:
  failure_threshold: 1
  recovery_threshold: 1
  state_file: state/alerts.json
  sinks:
    - webhook: {{url: \"{hook_url}\"}}
"
        ),
    )
}

fn down_fault() -> Fault {
    Fault::Status {
        path_prefix: "/".into(),
        code: 503,
    }
}

/// The webhook is down when the alert fires and back before it resolves (then refuses once):
/// each notification arrives exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_was_down_gets_every_alert_exactly_once() {
    let shop = start_shop().await;
    shop.set_faults(vec![down_fault()]);
    let port = free_port();
    let work = work_dir();
    let config = probe_config(
        work.path(),
        &shop.url(),
        &format!("http://127.0.0.1:{port}/hook"),
    );
    let mut monitor = Monitor::start(&config, work);
    let metrics_url = monitor.metrics_url();
    // Nothing listens yet: the firing is retried.
    monitor.wait_for_log("failed (attempt 2)", Duration::from_secs(60));
    let hook = WebhookReceiver::start_on(port).await;
    let received = hook.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(
        events(&received),
        [("firing".into(), "ProbeFailed{probe=shop-home}".into())]
    );
    // It answers 503 once: retried, not lost, not doubled.
    hook.fail_next(1);
    shop.clear_faults();
    let received = hook.wait_for(3, Duration::from_secs(60)).await;
    assert_eq!(received[1].status, 503);
    assert_eq!(
        received[1].body, received[2].body,
        "the same notification, retried"
    );
    // A few more probe runs: nothing else comes.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let delivered: Vec<Received> = hook
        .received()
        .into_iter()
        .filter(|r| r.status == 200)
        .collect();
    assert_eq!(
        events(&delivered),
        [
            ("firing".into(), "ProbeFailed{probe=shop-home}".into()),
            ("resolved".into(), "ProbeFailed{probe=shop-home}".into())
        ]
    );
    let metrics = get_text(&metrics_url).await;
    assert!(
        metrics.contains(r#"shopwatch_notifications_total{sink="webhook",result="sent"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"shopwatch_notification_queue_length{sink="webhook"} 0"#),
        "{metrics}"
    );
    let failed: f64 = metrics
        .lines()
        .find(|l| l.starts_with(r#"shopwatch_notifications_total{sink="webhook",result="failed"}"#))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .expect("failed count");
    assert!(failed >= 2.0, "{metrics}");
    monitor.stop();
}

/// Restarted while the alert fires: no second `firing`, and the `resolved` still comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_incident_sends_no_duplicate_and_still_resolves() {
    let shop = start_shop().await;
    shop.set_faults(vec![down_fault()]);
    let hook = WebhookReceiver::start().await;
    // The configuration and its state file outlive the first monitor's work directory.
    let conf = work_dir();
    let dir = conf.path().to_path_buf();
    let config = probe_config(&dir, &shop.url(), &format!("{}/hook", hook.url));
    let monitor = Monitor::start(&config, work_dir());
    hook.wait_for(1, Duration::from_secs(60)).await;
    monitor.stop();
    assert!(dir.join("state/alerts.json").is_file());

    // Same directory, same state file: the probe still fails for two more runs.
    let again = tempfile::Builder::new()
        .prefix("shopwatch-alerts-")
        .tempdir()
        .unwrap();
    let mut monitor = Monitor::start(&config, again);
    monitor.wait_for_log("state loaded from", Duration::from_secs(10));
    let runs_done = Instant::now() + Duration::from_secs(22);
    while Instant::now() < runs_done {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        hook.received().len(),
        1,
        "no second firing after the restart"
    );
    shop.clear_faults();
    let received = hook.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(
        events(&received),
        [
            ("firing".into(), "ProbeFailed{probe=shop-home}".into()),
            ("resolved".into(), "ProbeFailed{probe=shop-home}".into())
        ]
    );
    monitor.stop();
}

/// The WebDriver dies in the middle of a run: the monitor is unhealthy, the shop is not
/// failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_webdriver_raises_monitor_unhealthy_only() {
    require_browser("firefox");
    let _slot = util::browser_slot().await;
    let shop = start_shop().await;
    // The product page takes 4 s: the session is surely open when the driver dies.
    shop.set_faults(vec![Fault::Delay {
        path_prefix: "/product".into(),
        ms: 4000,
    }]);
    let hook = WebhookReceiver::start().await;
    let work = work_dir();
    let driver_tmp = work_dir();
    let driver_port = free_port();
    let mut driver = std::process::Command::new("geckodriver")
        .arg("--port")
        .arg(driver_port.to_string())
        .arg("--host")
        .arg("127.0.0.1")
        .env("TMPDIR", driver_tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start geckodriver");
    let journey = demo_journey(work.path());
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0
webdriver: {{url: \"http://127.0.0.1:{driver_port}\"}}
journeys:
  - file: {}
    base_url: {}
alerting:
  failure_threshold: 1
  recovery_threshold: 1
  sinks:
    - webhook: {{url: \"{}/hook\"}}
",
            journey.display(),
            shop.url(),
            hook.url
        ),
    );
    let mut monitor = Monitor::start(&config, work);
    let metrics_url = monitor.metrics_url();
    monitor.wait_for_open_session(&metrics_url).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    driver.kill().expect("kill geckodriver");
    let _ = driver.wait();
    // The Firefox it started outlives it: end that too, as a crash of the driver host would.
    util::kill_processes_under(driver_tmp.path());

    let received = hook.wait_for(1, Duration::from_secs(90)).await;
    assert_eq!(
        events(&received),
        [(
            "firing".into(),
            "MonitorUnhealthy{journey=demo-checkout}".into()
        )]
    );
    let body = received[0].json();
    assert_eq!(body["severity"], "warning");
    assert_eq!(body["outcome"], "error");
    // More runs while the driver stays gone: still nothing about the shop.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let all = events(&hook.received());
    assert!(
        all.iter().all(|(_, key)| !key.starts_with("JourneyStep")),
        "a dead WebDriver is not a failing shop: {all:?}\n{}",
        monitor.log()
    );
    monitor.stop();
}

/// `shopwatch alert test` sends a marked test alert through each sink and says which took it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_test_reports_each_sink() {
    let alertmanager = Alertmanager::start().await;
    let smtp = SmtpServer::start().await;
    let hook = WebhookReceiver::start().await;
    let slack = WebhookReceiver::start().await;
    let dead = free_port();
    let work = work_dir();
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "probes:
  - http: {{name: home, url: \"http://127.0.0.1:9/\", every: 1m}}
alerting:
  sinks:
    - alertmanager: {{url: \"{}\"}}
    - webhook: {{url: \"{}/hook\", secret: {{secret: env:WEBHOOK_SECRET}}, severity: [critical]}}
    - slack: {{url: {{secret: env:SLACK_URL}}, channel: \"#shop\"}}
    - email: {{smtp: \"smtp://127.0.0.1:{}\", from: shopwatch@example.com, to: [oncall@example.com]}}
    - webhook: {{name: nobody-home, url: \"http://127.0.0.1:{dead}/hook\"}}
",
            alertmanager.url, hook.url, smtp.port
        ),
    );
    let slack_url = format!("{}/services/T000/B000/s3cr3t", slack.url);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_shopwatch"))
            .args(args)
            .env("WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("SLACK_URL", &slack_url)
            .output()
            .expect("run shopwatch")
    };
    let config_arg = config.to_str().unwrap();
    let out = run(&["alert", "test", "--config", config_arg]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "one sink is down:\n{stdout}");
    for line in [
        "ok      alertmanager (alertmanager): accepted the test alert",
        "ok      webhook (webhook): accepted the test alert",
        "ok      slack (slack): accepted the test alert",
        "ok      email (email): accepted the test alert",
        "FAILED  nobody-home (webhook): ",
    ] {
        assert!(stdout.contains(line), "{line:?} in\n{stdout}");
    }
    assert_no_secret("alert test output", &stdout, &[WEBHOOK_SECRET, "s3cr3t"]);

    let test_alert = alertmanager
        .wait_for_alert("ShopwatchTest", Duration::from_secs(10))
        .await;
    assert_eq!(test_alert["labels"]["test"], "true");
    let body = hook.received()[0].json();
    assert_eq!(
        body["event"], "test",
        "filters do not apply to the test: {body}"
    );
    let slack_message = slack.received()[0].json();
    assert_eq!(slack.received()[0].path, "/services/T000/B000/s3cr3t");
    assert_eq!(slack_message["channel"], "#shop");
    assert!(slack_message["text"]
        .as_str()
        .unwrap()
        .starts_with("[TEST] ShopwatchTest"));
    let mail = &smtp.wait_for_messages(1, Duration::from_secs(10)).await[0];
    assert!(mail.contains("Subject: [TEST] ShopwatchTest"), "{mail}");
    assert!(mail.contains("nothing is wrong"), "{mail}");

    // One sink by name.
    let out = run(&["alert", "test", "--config", config_arg, "--sink", "webhook"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(hook.received().len(), 2);
    let out = run(&["alert", "test", "--config", config_arg, "--sink", "pager"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no sink named `pager`; the sinks are `alertmanager`, `webhook`"),
        "{stderr}"
    );
}

/// Email through an SMTP server that wants a login: the password from a secret is accepted,
/// a wrong one is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_logs_in_with_the_password_from_its_secret() {
    let smtp = SmtpServer::start_with_auth("shopwatch", "mail-pass-77").await;
    let work = work_dir();
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "probes:
  - http: {{name: home, url: \"http://127.0.0.1:9/\", every: 1m}}
alerting:
  sinks:
    - email:
        smtp: smtp://127.0.0.1:{}
        username: shopwatch
        password: {{secret: env:SMTP_PASSWORD}}
        from: Shop Monitor <shopwatch@example.com>
        to: [oncall@example.com, shop-owner@example.com]
",
            smtp.port
        ),
    );
    let send = |password: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_shopwatch"))
            .args(["alert", "test", "--config", config.to_str().unwrap()])
            .env("SMTP_PASSWORD", password)
            .output()
            .expect("run shopwatch")
    };
    let out = send("mail-pass-77");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let mail = &smtp.wait_for_messages(1, Duration::from_secs(10)).await[0];
    assert!(mail.contains("X-Authenticated-As: shopwatch"), "{mail}");
    assert!(
        mail.contains("X-Envelope-To: oncall@example.com, shop-owner@example.com"),
        "{mail}"
    );
    assert_no_secret("the email", mail, &["mail-pass-77"]);

    let out = send("wrong-password");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED  email (email): "), "{stdout}");
    assert_no_secret("alert test output", &stdout, &["wrong-password"]);
    assert_eq!(smtp.messages().len(), 1);
}

/// `depends_on`: the cart page's probe depends on the home page's. With the whole shop down,
/// only the home page's alert is sent (naming the cart's as affected); the cart's runs are
/// still counted, its alert fires folded and is never sent, and resolves with the shop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_whose_dependency_fails_is_folded_into_it() {
    let shop = start_shop().await;
    shop.set_faults(vec![down_fault()]);
    let hook = WebhookReceiver::start().await;
    let work = work_dir();
    let url = shop.url();
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0
probes:
  - http: {{name: shop-home, url: \"{url}/\", every: 10s, timeout: 5s}}
  - http: {{name: shop-cart, url: \"{url}/cart\", every: 10s, timeout: 5s}}
alerting:
  failure_threshold: 1
  recovery_threshold: 1
  probes:
    # A dependent alert fires a run later than its dependency: the dependency has been seen first.
    shop-cart: {{depends_on: [shop-home], failure_threshold: 2}}
  state_file: state/alerts.json
  sinks:
    - webhook: {{url: \"{}/hook\"}}
",
            hook.url
        ),
    );
    let mut monitor = Monitor::start(&config, work);
    let metrics_url = monitor.metrics_url();
    monitor
        .wait_for_text(
            &metrics_url,
            r#"shopwatch_alerts_folded{alertname="ProbeFailed",severity="critical"} 1"#,
            Duration::from_secs(40),
        )
        .await;
    let metrics = get_text(&metrics_url).await;
    assert!(
        metrics
            .contains(r#"shopwatch_alerts_firing{alertname="ProbeFailed",severity="critical"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"shopwatch_probe_runs_total{probe="shop-cart",kind="http",outcome="failed"} 2"#
        ) || metrics.contains(
            r#"shopwatch_probe_runs_total{probe="shop-cart",kind="http",outcome="failed"} 3"#
        ),
        "the dependent's runs are counted as ever:\n{metrics}"
    );
    let received = hook.received();
    assert_eq!(
        events(&received),
        [("firing".into(), "ProbeFailed{probe=shop-home}".into())]
    );
    shop.clear_faults();
    monitor.wait_for_log("alert resolved", Duration::from_secs(30));
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        events(&hook.received()),
        [
            ("firing".into(), "ProbeFailed{probe=shop-home}".into()),
            ("resolved".into(), "ProbeFailed{probe=shop-home}".into())
        ],
        "the cart's alert was folded from its start to its end"
    );
    let log = monitor.stop();
    assert!(
        log.contains("folded into probe shop-home, which fails"),
        "{log}"
    );
}
