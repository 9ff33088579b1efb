//! Operations basics with the real binary: logs fit for a journal or a log shipper (no colour
//! codes off a terminal or with `NO_COLOR`, JSON lines with `--log-format json`, secrets
//! redacted in both), and the endpoints a supervisor or load balancer asks.

mod util;

use std::process::Command;
use std::time::Duration;
use util::monitor::{free_port, write, Monitor};

/// A journey with no browser whose one request fails, its URL holding a secret: the monitor
/// logs the failure (with the URL) every 10 s.
fn failing_journey_with_a_secret(dir: &std::path::Path) -> std::path::PathBuf {
    let closed = free_port();
    write(
        dir,
        "leaky.yaml",
        &format!(
            "journey: leaky\nbase_url: http://127.0.0.1:{closed}\nevery: 10s\nvars:\n  token: {{secret: env:OPS_TOKEN}}\nsteps:\n  - step: call\n    do:\n      - http: {{url: \"http://127.0.0.1:{closed}/orders/${{token}}\"}}\n"
        ),
    )
}

fn monitor_config(work: &tempfile::TempDir) -> std::path::PathBuf {
    let journey = failing_journey_with_a_secret(work.path());
    write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\njourneys: [{}]\nartifacts: {{dir: {}}}\n",
            journey.display(),
            work.path().join("artifacts").display()
        ),
    )
}

const TOKEN: &str = "tok-8f3a9c2e71";

/// stderr is a pipe here (as under systemd or in a container): plain text, no escape codes,
/// and the secret redacted.
#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let work = tempfile::tempdir().unwrap();
    let config = monitor_config(&work);
    let mut monitor = Monitor::start_with_env(
        &config,
        tempfile::tempdir().unwrap(),
        &[("OPS_TOKEN", TOKEN)],
    );
    let line = monitor.wait_for_log("failed at step `call`", Duration::from_secs(90));
    let log = monitor.stop();
    assert!(!log.contains('\x1b'), "no escape codes: {log:?}");
    assert!(
        line.contains(" WARN ") && line.contains("journey=leaky") && line.contains("[redacted]"),
        "{line}"
    );
    assert!(!log.contains(TOKEN), "{log}");
}

/// `--log-format json`: every line is one JSON object with the event's fields at the top
/// level; the secret is redacted there too.
#[test]
fn json_logs_are_one_object_per_line_with_the_fields_on_top() {
    let work = tempfile::tempdir().unwrap();
    let config = monitor_config(&work);
    let mut monitor = Monitor::start_with_args(
        &config,
        tempfile::tempdir().unwrap(),
        &[("OPS_TOKEN", TOKEN)],
        &["--log-format", "json"],
    );
    monitor.wait_for_log("failed at step `call`", Duration::from_secs(90));
    let log = monitor.stop();
    assert!(!log.contains(TOKEN), "{log}");
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect();
    let started = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("metrics on http://127.0.0.1:"))
        })
        .expect("the start line");
    assert_eq!(started["level"], "INFO", "{started}");
    assert_eq!(started["target"], "shopwatch::daemon", "{started}");
    assert!(started["timestamp"].is_string(), "{started}");
    let failed = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("failed at step"))
        })
        .expect("the failed run");
    assert_eq!(failed["level"], "WARN", "{failed}");
    assert_eq!(failed["journey"], "leaky", "{failed}");
    assert!(failed["run_id"].is_string(), "{failed}");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("/orders/[redacted]"),
        "{failed}"
    );
    assert_eq!(events.last().unwrap()["message"], "stopped");
}

/// What `shopwatch validate` logs at debug level (the open files limit), written on a real
/// pseudo-terminal (util-linux `script`).
fn log_on_a_terminal(env: &[(&str, &str)]) -> String {
    let work = tempfile::tempdir().unwrap();
    let journey = failing_journey_with_a_secret(work.path());
    let command_line = format!(
        "'{}' validate '{}'",
        env!("CARGO_BIN_EXE_shopwatch"),
        journey.display()
    );
    let output = Command::new("script")
        .args(["--quiet", "--flush", "--return", "--command", &command_line])
        .arg("/dev/null")
        .env("TERM", "xterm-256color")
        .env("SHOPWATCH_LOG", "debug")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .expect("util-linux `script` runs (it gives the command a real pseudo-terminal)");
    assert!(output.status.success(), "{output:?}");
    let screen = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(screen.contains("open files limit"), "{screen:?}");
    screen
}

#[test]
fn logs_on_a_terminal_are_coloured_unless_no_color_is_set() {
    let coloured = log_on_a_terminal(&[]);
    assert!(
        coloured.contains("\x1b["),
        "colour on a terminal: {coloured:?}"
    );
    let plain = log_on_a_terminal(&[("NO_COLOR", "1")]);
    assert!(!plain.contains('\x1b'), "NO_COLOR: {plain:?}");
    assert!(
        plain.contains("DEBUG shopwatch: open files limit"),
        "{plain:?}"
    );
}

/// A bad `--log-format` is a usage error naming the choices.
#[test]
fn an_unknown_log_format_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_shopwatch"))
        .args(["--log-format", "xml", "validate", "x.yaml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value 'xml'")
            && stderr.contains("text")
            && stderr.contains("json"),
        "{stderr}"
    );
}

/// The status and body of a request to the monitor.
async fn ask(method: reqwest::Method, url: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .request(method.clone(), url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

async fn healthz(base: &str) -> serde_json::Value {
    let (status, body) = ask(reqwest::Method::GET, &format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("healthz JSON ({e}): {body}"))
}

/// `http://127.0.0.1:PORT` of a monitor, from the URL it announced.
fn base_of(metrics_url: &str) -> String {
    metrics_url.trim_end_matches("/metrics").to_string()
}

/// `POST /-/reload` as SIGHUP, but the caller hears the result: 500 with the located errors
/// for a bad file (the old configuration keeps running, `/healthz` says why it is degraded),
/// 200 for a good one (and `/healthz` is `ok` again). `/-/healthy` and `/-/ready` answer 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_over_http_answers_whether_it_applied_and_healthz_says_why_it_is_degraded() {
    let shop = util::start_shop().await;
    let work = tempfile::tempdir().unwrap();
    let probe = |name: &str| {
        format!(
            "listen: 127.0.0.1:0\nprobes:\n  - http: {{name: {name}, url: '{}/', every: 10s}}\n",
            shop.url()
        )
    };
    let config = write(work.path(), "shopwatch.yaml", &probe("first"));
    let mut monitor = Monitor::start(&config, tempfile::tempdir().unwrap());
    let metrics_url = monitor.metrics_url();
    let base = base_of(&metrics_url);

    let (status, body) = ask(reqwest::Method::GET, &format!("{base}/-/healthy")).await;
    assert_eq!((status, body.as_str()), (200, "shopwatch is Healthy.\n"));
    let (status, body) = ask(reqwest::Method::GET, &format!("{base}/-/ready")).await;
    assert_eq!((status, body.as_str()), (200, "shopwatch is Ready.\n"));
    let health = healthz(&base).await;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["reasons"], serde_json::json!([]), "{health}");
    // No journey opens a browser: WebDriver is not asked about.
    assert_eq!(health["webdriver_reachable"], serde_json::Value::Null);

    // Only POST and PUT reload: a GET (a crawler, a browser tab) does not.
    let (status, _) = ask(reqwest::Method::GET, &format!("{base}/-/reload")).await;
    assert_eq!(status, 405);

    std::fs::write(&config, probe("second").replace("every:", "evry:")).unwrap();
    let (status, body) = ask(reqwest::Method::POST, &format!("{base}/-/reload")).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.starts_with("reload rejected, the running configuration stays:\n"),
        "{body}"
    );
    assert!(
        body.contains("shopwatch.yaml:3:") && body.contains("unknown key `evry`"),
        "located error: {body}"
    );
    let health = healthz(&base).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["last_reload_ok"], false, "{health}");
    assert_eq!(health["probes"], 1, "{health}");
    let reasons = health["reasons"].as_array().expect("reasons");
    assert_eq!(reasons.len(), 1, "{health}");
    let reason = reasons[0].as_str().unwrap();
    assert!(
        reason.starts_with("the last reload was rejected, the previous configuration runs: ")
            && reason.contains("shopwatch.yaml:3:"),
        "{reason}"
    );
    let text = util::monitor::get_text(&metrics_url).await;
    assert!(
        text.contains("shopwatch_config_last_reload_successful 0"),
        "{text}"
    );
    // Still ready: the previous configuration runs.
    let (status, _) = ask(reqwest::Method::GET, &format!("{base}/-/ready")).await;
    assert_eq!(status, 200);

    std::fs::write(&config, probe("second")).unwrap();
    let (status, body) = ask(reqwest::Method::PUT, &format!("{base}/-/reload")).await;
    assert_eq!((status, body.as_str()), (200, "reloaded\n"));
    let health = healthz(&base).await;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["last_reload_ok"], true, "{health}");
    monitor
        .wait_for_text(
            &metrics_url,
            r#"shopwatch_probe_runs_total{probe="second",kind="http",outcome="ok"}"#,
            Duration::from_secs(30),
        )
        .await;
    let text = util::monitor::get_text(&metrics_url).await;
    assert!(
        text.contains("shopwatch_config_last_reload_successful 1"),
        "{text}"
    );
    monitor.stop();
}

/// While stopping (a run is still finishing), `/-/ready` says 503 so a load balancer or
/// supervisor stops sending, a reload is refused with 503, and `/-/healthy` still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_stopping_it_is_not_ready_and_refuses_reloads_but_is_healthy() {
    // A server that takes the journey's request and never answers: the run stays going.
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hanging.local_addr().unwrap().port();
    let work = tempfile::tempdir().unwrap();
    let journey = write(
        work.path(),
        "hanging.yaml",
        &format!(
            "journey: hanging\nbase_url: http://127.0.0.1:{port}\nevery: 10s\ntimeout: 2m\ndefaults: {{timeout: 60s}}\nsteps:\n  - step: call\n    do:\n      - http: {{url: \"http://127.0.0.1:{port}/slow\"}}\n"
        ),
    );
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!("listen: 127.0.0.1:0\njourneys: [{}]\n", journey.display()),
    );
    let mut monitor = Monitor::start(&config, tempfile::tempdir().unwrap());
    let base = base_of(&monitor.metrics_url());
    let accepted = tokio::task::spawn_blocking(move || hanging.accept().map(|(stream, _)| stream));
    let _request = tokio::time::timeout(Duration::from_secs(30), accepted)
        .await
        .expect("the journey's request came within 30 s")
        .unwrap()
        .unwrap();

    monitor.signal(libc::SIGTERM);
    monitor.wait_for_log("stopping: no new runs", Duration::from_secs(10));
    let (status, body) = ask(reqwest::Method::GET, &format!("{base}/-/ready")).await;
    assert_eq!((status, body.as_str()), (503, "shopwatch is not ready.\n"));
    let (status, body) = ask(reqwest::Method::POST, &format!("{base}/-/reload")).await;
    assert_eq!((status, body.as_str()), (503, "shopwatch is stopping\n"));
    let (status, _) = ask(reqwest::Method::GET, &format!("{base}/-/healthy")).await;
    assert_eq!(status, 200);
    // A second SIGTERM cancels the hanging run.
    monitor.signal(libc::SIGTERM);
    assert_eq!(
        monitor.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        monitor.log()
    );
}

/// A geckodriver on `port` (a real remote WebDriver endpoint), killed when dropped.
struct Geckodriver(std::process::Child);

impl Geckodriver {
    fn start(port: u16) -> Geckodriver {
        util::require_browser("firefox");
        let child = Command::new("geckodriver")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start geckodriver");
        Geckodriver(child)
    }
}

impl Drop for Geckodriver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A journey that opens a browser, every hour (its one run is not what is looked at).
fn browser_journey(dir: &std::path::Path) -> std::path::PathBuf {
    write(
        dir,
        "browse.yaml",
        "journey: browse\nbase_url: http://127.0.0.1:9\nevery: 1h\nbrowser: firefox\nsteps:\n  - step: home\n    do:\n      - open: /\n",
    )
}

/// `/healthz` is `degraded` while the WebDriver endpoint the journeys need does not answer
/// (every browser run would be an `error`), and `ok` once a driver listens there; the
/// endpoint's password is not shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_degraded_while_the_webdriver_endpoint_is_unreachable() {
    let port = free_port();
    let work = tempfile::tempdir().unwrap();
    let journey = browser_journey(work.path());
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\nwebdriver: {{url: 'http://grid:s3cret-pw@127.0.0.1:{port}'}}\njourneys: [{}]\n",
            journey.display()
        ),
    );
    let mut monitor = Monitor::start(&config, tempfile::tempdir().unwrap());
    let base = base_of(&monitor.metrics_url());
    let health = healthz(&base).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["webdriver_reachable"], false, "{health}");
    let reason = health["reasons"][0].as_str().expect("a reason");
    assert!(
        reason.starts_with(&format!(
            "the WebDriver endpoint http://grid@127.0.0.1:{port}/ is unreachable: "
        )),
        "{reason}"
    );
    assert!(!health.to_string().contains("s3cret-pw"), "{health}");

    let _driver = Geckodriver::start(port);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let health = healthz(&base).await;
        if health["status"] == "ok" {
            assert_eq!(health["webdriver_reachable"], true, "{health}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still degraded with geckodriver on :{port}: {health}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let log = monitor.stop();
    assert!(!log.contains("s3cret-pw"), "{log}");
}

/// Without `webdriver.url` shopwatch starts the driver itself: `/healthz` says so when the
/// driver program is not on PATH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_degraded_when_the_local_driver_is_not_on_path() {
    let work = tempfile::tempdir().unwrap();
    let journey = browser_journey(work.path());
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!("listen: 127.0.0.1:0\njourneys: [{}]\n", journey.display()),
    );
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap().to_string();
    let mut monitor =
        Monitor::start_with_env(&config, tempfile::tempdir().unwrap(), &[("PATH", &path)]);
    let base = base_of(&monitor.metrics_url());
    let health = healthz(&base).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["webdriver_reachable"], false, "{health}");
    assert_eq!(
        health["reasons"][0],
        "geckodriver not found on PATH (no `webdriver.url` is set, so shopwatch starts the driver itself)",
        "{health}"
    );
    monitor.stop();
}

/// The value of the sample `series` (name and labels, exactly) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

/// The standard `process_*` metrics are the monitor's own process, as `/proc/<pid>` and the
/// limit it was started under tell it; `shopwatch_build_info` names the commit it was built
/// from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_metrics_are_the_monitors_own_and_build_info_names_the_commit() {
    let shop = util::start_shop().await;
    let work = tempfile::tempdir().unwrap();
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\nlocation: ops-lab\nprobes:\n  - http: {{name: home, url: '{}/', every: 1h}}\n",
            shop.url()
        ),
    );
    let spawned = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut monitor = Monitor::start_with_fd_limit(&config, tempfile::tempdir().unwrap(), 300);
    let metrics_url = monitor.metrics_url();
    let text = util::monitor::get_text(&metrics_url).await;
    let loc = r#"{location="ops-lab"}"#;
    let value = |name: &str| {
        sample(&text, &format!("{name}{loc}")).unwrap_or_else(|| panic!("no {name}:\n{text}"))
    };
    for (name, kind) in [
        ("process_cpu_seconds_total", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_max_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name}:\n{text}"
        );
    }
    assert_eq!(value("process_max_fds"), 300.0);
    let start = value("process_start_time_seconds");
    assert!(
        (start - spawned).abs() < 5.0,
        "started at {start}, spawned at {spawned}"
    );
    let pid = monitor.pid();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count() as f64;
    let open = value("process_open_fds");
    assert!(
        open >= 3.0 && (open - fds).abs() <= 8.0,
        "{open} open, /proc says {fds}"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    let rss = value("process_resident_memory_bytes");
    assert!(
        rss > 1e6 && (rss / (rss_kib * 1024.0) - 1.0).abs() < 0.5,
        "{rss} bytes resident, /proc says {rss_kib} KiB"
    );
    let cpu = value("process_cpu_seconds_total");
    assert!((0.0..60.0).contains(&cpu), "{cpu}");

    let git = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git runs");
    assert!(git.status.success(), "the tests run in a git checkout");
    let revision = String::from_utf8(git.stdout).unwrap().trim().to_string();
    let build = text
        .lines()
        .find(|l| l.starts_with("shopwatch_build_info{"))
        .unwrap_or_else(|| panic!("no build info:\n{text}"));
    assert!(
        build.starts_with(&format!(
            "shopwatch_build_info{{version=\"{}\",revision=\"{revision}\",rustc=\"",
            env!("CARGO_PKG_VERSION")
        )) && build.contains(",target=\"")
            && build.ends_with(",location=\"ops-lab\"} 1"),
        "{build}"
    );
    monitor.stop();
}

/// `${env:NAME}` in the monitor's configuration and in a journey, read when the files load:
/// `listen` and a request's URL from the environment; the token the URL takes from it is also
/// read as a secret, so it is redacted where `${env:...}` put it too.
#[test]
fn env_values_in_config_and_journeys_are_expanded_and_secrets_stay_redacted() {
    let closed = free_port();
    let work = tempfile::tempdir().unwrap();
    let journey = write(
        work.path(),
        "env.yaml",
        "journey: from-env\nbase_url: \"http://127.0.0.1:${env:OPS_SHOP_PORT}\"\nevery: 10s\nvars:\n  token: {secret: env:OPS_TOKEN}\nsteps:\n  - step: call\n    do:\n      - http: {url: \"/orders/${env:OPS_TOKEN}?literal=$${env:OPS_TOKEN}\", headers: {X-Token: \"${token}\"}}\n",
    );
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: ${{env:OPS_LISTEN}}\njourneys: [{}]\nartifacts: {{dir: {}}}\n",
            journey.display(),
            work.path().join("artifacts").display()
        ),
    );
    let port = closed.to_string();
    let mut monitor = Monitor::start_with_env(
        &config,
        tempfile::tempdir().unwrap(),
        &[
            ("OPS_TOKEN", TOKEN),
            ("OPS_LISTEN", "127.0.0.1:0"),
            ("OPS_SHOP_PORT", &port),
        ],
    );
    let line = monitor.wait_for_log("failed at step `call`", Duration::from_secs(90));
    let log = monitor.stop();
    assert!(
        line.contains(&format!(
            "http://127.0.0.1:{closed}/orders/[redacted]?literal=${{env:OPS_TOKEN}}"
        )),
        "{line}"
    );
    assert!(!log.contains(TOKEN), "{log}");
}

/// `shopwatch validate` says which variable is missing, where, and exits 2.
#[test]
fn a_missing_env_variable_is_a_located_error() {
    let work = tempfile::tempdir().unwrap();
    let config = write(
        work.path(),
        "shopwatch.yaml",
        "listen: ${env:OPS_NOT_SET_LISTEN}\nprobes:\n  - http: {name: home, url: 'http://127.0.0.1:9/', every: 10s}\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_shopwatch"))
        .arg("validate")
        .arg(&config)
        .env_remove("OPS_NOT_SET_LISTEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:1:9: environment variable `OPS_NOT_SET_LISTEN` is not set",
            config.display()
        )),
        "{stderr}"
    );
}

/// The release profile keeps panics unwinding: the daemon catches a panicking run
/// (`catch_unwind`) and keeps monitoring, which `panic = "abort"` would turn into the end of
/// the process (tests/hardening.rs shows the caught panic in a debug build).
#[test]
fn the_release_profile_does_not_abort_on_panic() {
    let manifest = std::fs::read_to_string(util::repo_path("Cargo.toml")).unwrap();
    let release = manifest
        .split("[profile.release]")
        .nth(1)
        .expect("Cargo.toml has [profile.release]")
        .split("\n[")
        .next()
        .unwrap();
    let setting = |key: &str| {
        release
            .lines()
            .find_map(|l| l.trim().strip_prefix(key)?.trim().strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    assert_eq!(setting("panic").as_deref(), Some("unwind"), "{release}");
    assert_eq!(setting("strip").as_deref(), Some("symbols"), "{release}");
    assert_eq!(setting("codegen-units").as_deref(), Some("1"), "{release}");
    let daemon = std::fs::read_to_string(util::repo_path("src/daemon.rs")).unwrap();
    assert!(
        daemon.contains("catch_unwind"),
        "the reason for unwind is gone: revisit"
    );
}
