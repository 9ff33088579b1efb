//! `shopwatch run`, the real binary: scraped by a real Prometheus, stopped with SIGTERM in the
//! middle of a browser run, reloaded with SIGHUP, and the README's minimal configuration run
//! exactly as written.

mod util;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use util::monitor::{get_text, promtool_check_metrics, write, Monitor};
use util::prometheus::Prometheus;
use util::{repo_path, require_browser, start_shop, Fault};

/// The shipped demo journey, every 10 s instead of every minute, so a test sees runs soon.
fn demo_journey_every_10s(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo_path("journeys/demo-shop.yaml")).expect("demo");
    assert!(
        text.contains("\nevery: 1m\n"),
        "the demo journey runs every minute"
    );
    let path = dir.join("demo-shop.yaml");
    std::fs::write(&path, text.replace("\nevery: 1m\n", "\nevery: 10s\n")).expect("write");
    path
}

/// A TLS certificate for localhost signed by a CA made now: (CA PEM, leaf PEM, key PEM).
fn localhost_certificate() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "shopwatch test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

const DEMO_STEPS: [&str; 6] = [
    "browse",
    "add-to-cart",
    "login",
    "checkout",
    "gift-card-payment",
    "cancel-test-order",
];

fn label<'a>(labels: &'a serde_json::Value, name: &str) -> &'a str {
    labels[name].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_step_quantiles_buckets_probes_and_failed_runs() {
    require_browser("firefox");
    let _slot = util::browser_slot().await;
    let mut shop = start_shop().await;
    let (ca, cert, key) = localhost_certificate();
    let tls_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_addr = shop
        .start_tls(tls_listener, cert.as_bytes(), key.as_bytes())
        .await
        .expect("TLS listener");
    let work = tempfile::Builder::new()
        .prefix("shopwatch-monitor-")
        .tempdir()
        .unwrap();
    let journey = demo_journey_every_10s(work.path());
    write(work.path(), "ca.pem", &ca);
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            r#"listen: 127.0.0.1:0
location: test-lab
webdriver:
  max_sessions: 1
journeys:
  - file: {journey}
    base_url: {shop}
probes:
  - http:
      name: shop-home
      url: {shop}/
      every: 10s
      body_contains: Demo
  - tls:
      name: shop-cert
      target: {tls_addr}
      server_name: localhost
      ca_file: ca.pem
      every: 10s
"#,
            journey = journey.display(),
            shop = shop.url(),
        ),
    );
    let mut monitor = Monitor::start(&config, work);
    let metrics_url = monitor.metrics_url();
    let target = metrics_url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_string();
    let prometheus = Prometheus::start(&target).await;

    // A passing run: every step's quantiles and buckets reach Prometheus.
    let journey_filter = r#"journey="demo-checkout",location="test-lab""#;
    let quantiles = prometheus
        .wait_for(
            &format!(
                r#"shopwatch_step_duration_window_seconds{{{journey_filter},quantile="0.99"}}"#
            ),
            Duration::from_secs(120),
            &monitor,
            |r| r.len() == DEMO_STEPS.len(),
        )
        .await;
    for step in DEMO_STEPS {
        let (_, value) = quantiles
            .iter()
            .find(|(labels, _)| label(labels, "step") == step)
            .unwrap_or_else(|| panic!("no p99 for step {step}: {quantiles:?}"));
        assert!(*value > 0.0 && *value < 30.0, "p99 of {step}: {value}");
    }
    for quantile in ["0.5", "0.9", "0.999", "1"] {
        let series = prometheus
            .query(&format!(r#"shopwatch_step_duration_window_seconds{{{journey_filter},quantile="{quantile}"}}"#))
            .await;
        assert_eq!(
            series.len(),
            DEMO_STEPS.len(),
            "quantile {quantile}: {series:?}"
        );
    }
    let buckets = prometheus
        .query(&format!(
            r#"shopwatch_step_duration_seconds_bucket{{{journey_filter},le="+Inf"}}"#
        ))
        .await;
    assert_eq!(buckets.len(), DEMO_STEPS.len(), "{buckets:?}");
    assert!(
        buckets.iter().all(|(_, count)| *count >= 1.0),
        "{buckets:?}"
    );
    // Buckets aggregate across locations, as a histogram should.
    let p90 = prometheus
        .query(r#"histogram_quantile(0.9, sum by (le, step) (shopwatch_step_duration_seconds_bucket{journey="demo-checkout"}))"#)
        .await;
    assert_eq!(
        p90.len(),
        DEMO_STEPS.len(),
        "histogram_quantile over the buckets: {p90:?}"
    );
    assert!(
        p90.iter().all(|(_, v)| v.is_finite() && *v > 0.0),
        "{p90:?}"
    );
    // A run on a loaded machine may fail (a step past its timeout); one passes in time.
    let ok_runs = prometheus
        .wait_for(
            &format!(r#"shopwatch_journey_runs_total{{{journey_filter},outcome=~"ok|degraded"}}"#),
            Duration::from_secs(120),
            &monitor,
            |r| r.iter().map(|(_, v)| v).sum::<f64>() >= 1.0,
        )
        .await;
    assert!(
        ok_runs.iter().map(|(_, v)| v).sum::<f64>() >= 1.0,
        "{ok_runs:?}"
    );

    // The demo journey publishes its order total and the gift card balance left: the card's
    // 1000 euros less the order (cancelling refunds it, so every run reads the same).
    let values = prometheus
        .query(&format!(r#"shopwatch_journey_value{{{journey_filter}}}"#))
        .await;
    let value = |name: &str| {
        values
            .iter()
            .find(|(l, _)| label(l, "name") == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {name} in {values:?}"))
    };
    assert!(value("order_total") > 0.0, "{values:?}");
    assert!(
        (value("gift_card_balance_left") - (1000.0 - value("order_total"))).abs() < 0.005,
        "{values:?}"
    );

    // Probes, with blackbox_exporter's names.
    let home = prometheus
        .wait_for(
            r#"probe_success{probe="shop-home"}"#,
            Duration::from_secs(30),
            &monitor,
            |r| !r.is_empty(),
        )
        .await;
    assert_eq!(home[0].1, 1.0, "{home:?}");
    assert_eq!(label(&home[0].0, "location"), "test-lab");
    let status = prometheus
        .query(r#"probe_http_status_code{probe="shop-home"}"#)
        .await;
    assert_eq!(status[0].1, 200.0);
    let phases = prometheus
        .query(r#"probe_http_duration_seconds{probe="shop-home"}"#)
        .await;
    let mut names: Vec<&str> = phases.iter().map(|(l, _)| label(l, "phase")).collect();
    names.sort();
    assert_eq!(
        names,
        ["connect", "processing", "resolve", "tls", "transfer"]
    );
    let cert_ok = prometheus
        .wait_for(
            r#"probe_success{probe="shop-cert"}"#,
            Duration::from_secs(30),
            &monitor,
            |r| !r.is_empty(),
        )
        .await;
    assert_eq!(
        cert_ok[0].1, 1.0,
        "the test CA signs the shop's certificate: {cert_ok:?}"
    );
    let expiry = prometheus
        .query(r#"probe_ssl_earliest_cert_expiry{probe="shop-cert"}"#)
        .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(expiry[0].1 > now, "expiry in the future: {expiry:?}");
    let verified = prometheus
        .query(r#"shopwatch_probe_tls_chain_verified{probe="shop-cert"}"#)
        .await;
    assert_eq!(verified[0].1, 1.0);

    // promtool finds nothing wrong with what we serve now.
    let exposition = get_text(&metrics_url).await;
    promtool_check_metrics(&exposition);

    // Break the checkout: failed runs are counted, by step and reason.
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/checkout".to_string(),
        code: 500,
    }]);
    prometheus
        .wait_for(
            &format!(r#"shopwatch_journey_runs_total{{{journey_filter},outcome="failed"}}"#),
            Duration::from_secs(120),
            &monitor,
            |r| r.first().is_some_and(|(_, v)| *v >= 1.0),
        )
        .await;
    let failures = prometheus
        .query(r#"shopwatch_step_failures_total{journey="demo-checkout",step="checkout"}"#)
        .await;
    assert!(
        failures
            .iter()
            .any(|(l, v)| label(l, "reason") == "http_status" && *v >= 1.0),
        "{failures:?}"
    );
    let passed = prometheus
        .query(r#"shopwatch_journey_last_run_passed{journey="demo-checkout"}"#)
        .await;
    assert_eq!(passed[0].1, 0.0, "the last run failed: {passed:?}");
    let exposition = get_text(&metrics_url).await;
    let log = monitor.stop();
    assert!(log.contains("failed at step `checkout`"), "{log}");
    // The demo journey's secrets (their documented defaults here) are in no log line (debug
    // level) and no metric, passing runs and failing ones alike.
    for secret in ["demo-password-123", "GIFT-1000-AAAA", "demo-admin-token"] {
        assert!(!log.contains(secret), "secret {secret} in the log:\n{log}");
        assert!(!exposition.contains(secret), "secret {secret} in /metrics");
    }
}

/// The demo shop with `fault`, and a monitor running `journey` (YAML with `{base_url}` for the
/// shop's URL) every 10 s, returned once a browser session of it is open.
async fn monitor_with_an_open_session(
    fault: Fault,
    journey: &str,
) -> (util::RunningShop, Monitor, String) {
    let shop = start_shop().await;
    shop.set_faults(vec![fault]);
    let work = tempfile::Builder::new()
        .prefix("shopwatch-monitor-")
        .tempdir()
        .unwrap();
    let journey = write(
        work.path(),
        "journey.yaml",
        &journey.replace("{base_url}", &shop.url()),
    );
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!("listen: 127.0.0.1:0\njourneys: [{}]\n", journey.display()),
    );
    let mut monitor = Monitor::start(&config, work);
    let metrics_url = monitor.metrics_url();
    monitor.wait_for_open_session(&metrics_url).await;
    (shop, monitor, metrics_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_run_lets_it_finish_and_leaves_no_browser_or_driver() {
    require_browser("firefox");
    let _slot = util::browser_slot().await;
    // The product page takes 3 s: the run is surely going when SIGTERM comes.
    let (_shop, monitor, _) = monitor_with_an_open_session(
        Fault::Delay {
            path_prefix: "/product".to_string(),
            ms: 3000,
        },
        "journey: slow-product\nbase_url: {base_url}\nevery: 10s\nbrowser: firefox\nsteps:\n  - step: home\n    do:\n      - open: /\n  - step: product\n    do:\n      - open: /product/ethiopia-yirgacheffe\n      - wait_for: h1.product-name\n",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !util::processes_under(&monitor.tmp).is_empty(),
        "a browser runs under the monitor's TMPDIR"
    );
    let log = monitor.stop();
    assert!(log.contains("stopping: no new runs"), "{log}");
    // The run in progress finished and was reported, not abandoned.
    assert!(
        log.lines()
            .any(|l| l.contains("slow-product")
                && (l.contains("ok in") || l.contains("degraded in"))),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_cancels_the_running_journey_and_still_closes_everything() {
    require_browser("firefox");
    let _slot = util::browser_slot().await;
    let (_shop, mut monitor, _) = monitor_with_an_open_session(
        Fault::Hang {
            path_prefix: "/product".to_string(),
        },
        "journey: hanging-product\nbase_url: {base_url}\nevery: 10s\ntimeout: 2m\nbrowser: firefox\ndefaults: {timeout: 60s}\nsteps:\n  - step: product\n    do:\n      - open: /product/ethiopia-yirgacheffe\n",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    monitor.signal(libc::SIGTERM);
    monitor.wait_for_log("stopping: no new runs", Duration::from_secs(10));
    let asked = Instant::now();
    monitor.signal(libc::SIGTERM);
    let code = monitor.wait_exit(Duration::from_secs(30));
    assert_eq!(code, 0, "{}", monitor.log());
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "the hanging step (60 s timeout) was cancelled, not waited for: {:?}",
        asked.elapsed()
    );
    monitor.assert_nothing_left();
    assert!(
        monitor.log().contains("cancelling running journeys"),
        "{}",
        monitor.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_bad_config_keeps_the_old_one_running_and_a_good_one_applies() {
    let shop = start_shop().await;
    let work = tempfile::Builder::new()
        .prefix("shopwatch-monitor-")
        .tempdir()
        .unwrap();
    let probe = |name: &str| {
        format!(
            "listen: 127.0.0.1:0\nprobes:\n  - http: {{name: {name}, url: '{}/', every: 10s}}\n",
            shop.url()
        )
    };
    let config = write(work.path(), "shopwatch.yaml", &probe("first"));
    let mut monitor = Monitor::start(&config, work);
    let metrics_url = monitor.metrics_url();
    let runs_of = |text: &str, name: &str| -> f64 {
        text.lines()
            .find(|l| {
                l.starts_with(&format!(
                    r#"shopwatch_probe_runs_total{{probe="{name}",kind="http",outcome="ok"}}"#
                ))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while runs_of(&get_text(&metrics_url).await, "first") < 1.0 {
        assert!(
            Instant::now() < deadline,
            "probe `first` never ran:\n{}",
            monitor.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A typo: rejected, with its location in the log; the old probe keeps running.
    std::fs::write(&config, probe("second").replace("every:", "evry:")).unwrap();
    monitor.signal(libc::SIGHUP);
    monitor.wait_for_log("reload rejected", Duration::from_secs(10));
    let log = monitor.log();
    assert!(log.contains("shopwatch.yaml:3:"), "located error: {log}");
    assert!(log.contains("unknown key `evry`"), "{log}");
    let text = get_text(&metrics_url).await;
    assert!(
        text.contains("shopwatch_config_last_reload_successful 0"),
        "{text}"
    );
    let health: serde_json::Value =
        serde_json::from_str(&get_text(&metrics_url.replace("/metrics", "/healthz")).await)
            .expect("healthz JSON");
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["last_reload_ok"], false, "{health}");
    assert_eq!(health["probes"], 1, "{health}");
    let before = runs_of(&text, "first");
    let deadline = Instant::now() + Duration::from_secs(25);
    while runs_of(&get_text(&metrics_url).await, "first") <= before {
        assert!(
            Instant::now() < deadline,
            "the old configuration stopped:\n{}",
            monitor.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A good one: applied; the removed probe's series go.
    std::fs::write(&config, probe("second")).unwrap();
    monitor.signal(libc::SIGHUP);
    monitor.wait_for_log("reloaded", Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(70);
    loop {
        let text = get_text(&metrics_url).await;
        if runs_of(&text, "second") >= 1.0 {
            assert!(
                text.contains("shopwatch_config_last_reload_successful 1"),
                "{text}"
            );
            assert!(
                !text.contains(r#"probe="first""#),
                "the removed probe is forgotten:\n{text}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "probe `second` never ran:\n{}",
            monitor.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    monitor.stop();
}

/// The README's minimal configuration, exactly as the README shows it, with the demo shop on
/// the ports it names (127.0.0.1:8088 and :8443).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_minimal_configuration_works_as_written() {
    require_browser("firefox");
    let readme = std::fs::read_to_string(repo_path("README.md")).expect("README");
    let marker = "<!-- minimal-config -->";
    let block = readme
        .split(marker)
        .nth(1)
        .and_then(|rest| rest.split("```yaml\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a ```yaml block after <!-- minimal-config -->");
    assert!(block.contains("journeys/demo-shop.yaml"), "{block}");

    let _slot = util::browser_slot().await;
    let shop_listener = tokio::net::TcpListener::bind("127.0.0.1:8088")
        .await
        .expect("127.0.0.1:8088 is taken: stop the demo (scripts/demo) before running the tests");
    let mut shop = demo_shop::start(shop_listener, util::ShopConfig::default())
        .await
        .expect("demo shop");
    let (_, cert, key) = localhost_certificate();
    let tls_listener = tokio::net::TcpListener::bind("127.0.0.1:8443")
        .await
        .expect("127.0.0.1:8443 is taken: stop the demo before running the tests");
    shop.start_tls(tls_listener, cert.as_bytes(), key.as_bytes())
        .await
        .expect("TLS");
    assert!(
        std::net::TcpListener::bind("127.0.0.1:9464").is_ok(),
        "127.0.0.1:9464 is taken: stop the demo before running the tests"
    );

    // As a user would lay it out: shopwatch.yaml beside journeys/.
    let work = tempfile::Builder::new()
        .prefix("shopwatch-monitor-")
        .tempdir()
        .unwrap();
    let dir = work.path().join("project");
    std::fs::create_dir_all(dir.join("journeys")).unwrap();
    std::fs::copy(
        repo_path("journeys/demo-shop.yaml"),
        dir.join("journeys/demo-shop.yaml"),
    )
    .unwrap();
    let config = write(&dir, "shopwatch.yaml", block);
    let mut monitor = Monitor::start_in(Path::new("shopwatch.yaml"), work, Some(&dir));
    let _ = &config;
    let metrics_url = monitor.metrics_url();
    assert_eq!(metrics_url, "http://127.0.0.1:9464/metrics");
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        let text = get_text(&metrics_url).await;
        let ran = text.contains(
            r#"shopwatch_journey_last_run_passed{journey="demo-checkout",location="local"} 1"#,
        );
        let probed = text.contains(r#"probe_success{probe="shop-home",location="local"} 1"#)
            && text.contains(r#"probe_success{probe="shop-cert",location="local"}"#);
        if ran && probed {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "not there in 2 minutes:\n{text}\n{}",
            monitor.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // The shop's certificate is signed by a CA no system trusts: the probe says so.
    assert!(
        text.contains(r#"probe_success{probe="shop-cert",location="local"} 0"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"shopwatch_probe_tls_chain_verified{probe="shop-cert",location="local"} 0"#
        ),
        "{text}"
    );
    monitor.stop();
}

/// The README's relabelling, exactly as written (but scraping every second, and the monitor's
/// address as the target): each probe's series have the probe as `instance` and the monitor in
/// `monitor_instance`; the journeys' and the monitor's own keep the monitor's address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_relabelling_makes_each_probe_its_own_target() {
    let readme = std::fs::read_to_string(repo_path("README.md")).expect("README");
    let block = readme
        .split("<!-- probe-relabelling -->")
        .nth(1)
        .and_then(|rest| rest.split("```yaml\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a ```yaml block after <!-- probe-relabelling -->");
    assert!(
        block.contains("targets: ['127.0.0.1:9464']") && block.contains("scrape_interval: 15s"),
        "{block}"
    );

    let shop = start_shop().await;
    let work = tempfile::Builder::new()
        .prefix("shopwatch-monitor-")
        .tempdir()
        .unwrap();
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            "listen: 127.0.0.1:0\nprobes:\n  - http: {{name: shop-home, url: '{0}/', every: 10s}}\n  - http: {{name: shop-help, url: '{0}/help', every: 10s}}\n",
            shop.url()
        ),
    );
    let mut monitor = Monitor::start(&config, work);
    let metrics_url = monitor.metrics_url();
    let address = metrics_url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_string();
    let prometheus = Prometheus::start_with_config(
        &block
            .replace("127.0.0.1:9464", &address)
            .replace("scrape_interval: 15s", "scrape_interval: 1s"),
    )
    .await;

    let probes = prometheus
        .wait_for(
            r#"probe_success{job="shopwatch"}"#,
            Duration::from_secs(60),
            &monitor,
            |result| result.len() == 2,
        )
        .await;
    let mut instances: Vec<&str> = probes.iter().map(|(l, _)| label(l, "instance")).collect();
    instances.sort();
    assert_eq!(instances, ["shop-help", "shop-home"], "{probes:?}");
    for (labels, value) in &probes {
        assert_eq!(label(labels, "monitor_instance"), address, "{labels}");
        assert_eq!(
            label(labels, "probe"),
            label(labels, "instance"),
            "{labels}"
        );
        assert_eq!(*value, 1.0, "{labels}");
    }
    // A blackbox dashboard's query for one target.
    let home = prometheus
        .query(r#"probe_http_duration_seconds{job="shopwatch", instance="shop-home"}"#)
        .await;
    assert_eq!(home.len(), 5, "one series per phase: {home:?}");
    // The monitor's own series keep its address, and have no monitor_instance.
    let build = prometheus.query("shopwatch_build_info").await;
    assert_eq!(build.len(), 1, "{build:?}");
    assert_eq!(label(&build[0].0, "instance"), address);
    assert_eq!(label(&build[0].0, "monitor_instance"), "");
    let up = prometheus.query(r#"up{job="shopwatch"}"#).await;
    assert_eq!(label(&up[0].0, "instance"), address, "{up:?}");
    monitor.stop();
}
