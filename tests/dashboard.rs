//! The Grafana dashboard (`docker/grafana/dashboards/shopwatch.json`) against real data: a real
//! `shopwatch run` of the demo journey (a passing run, a slow one, then failing runs) with
//! http, tls and domain probes and a sink that is down, scraped by a real Prometheus. Every
//! PromQL expression of the dashboard (panel targets and variable queries) is run the way
//! Grafana runs it, its variables substituted as Grafana would (all values, and one value
//! each), and must parse and return data.

mod util;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use util::monitor::{free_port, write, Monitor};
use util::prometheus::Prometheus;
use util::{repo_path, require_browser, start_shop, Fault};

const DASHBOARD: &str = "docker/grafana/dashboards/shopwatch.json";

fn dashboard() -> Value {
    let text = std::fs::read_to_string(repo_path(DASHBOARD)).expect("read the dashboard");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD} is not JSON: {e}"))
}

/// Every panel, those inside collapsed rows too.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut found = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        found.push(panel);
        if let Some(inner) = panel["panels"].as_array() {
            found.extend(inner);
        }
    }
    found
}

/// A panel's query: its panel's title, the expression, and whether Grafana runs it as an
/// instant query (tables and stats) or over the time range (graphs).
struct Target {
    panel: String,
    expr: String,
    instant: bool,
    /// The panel's minimum interval (`interval`, e.g. `1m` for bars that count per interval),
    /// seconds.
    min_interval: f64,
}

/// A Grafana interval as seconds: `30s`, `1m`, `2h`.
fn seconds(text: &str) -> f64 {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let number: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("interval {text:?}"));
    number
        * match unit {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => panic!("interval {text:?}: unit s, m or h"),
        }
}

fn targets(dashboard: &Value) -> Vec<Target> {
    let mut found = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("a target of panel {} has no expr", panel["title"]));
            found.push(Target {
                panel: panel["title"].as_str().unwrap_or("").to_string(),
                expr: expr.to_string(),
                instant: target["instant"] == json!(true) && target["range"] != json!(true),
                min_interval: panel["interval"].as_str().map(seconds).unwrap_or(0.0),
            });
        }
    }
    found
}

/// A query variable: its name and `label_values(SELECTOR, LABEL)` parts.
struct Variable {
    name: String,
    selector: String,
    label: String,
}

fn variables(dashboard: &Value) -> Vec<Variable> {
    let list = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    list.iter()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            // Grafana 10+ keeps an object, older versions a string; `definition` is the text.
            let query = v["query"]["query"]
                .as_str()
                .or_else(|| v["query"].as_str())
                .expect("a variable query");
            assert_eq!(
                Some(query),
                v["definition"].as_str(),
                "variable {}: query and definition differ",
                v["name"]
            );
            let inner = query
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .unwrap_or_else(|| panic!("not label_values(...): {query}"));
            let (selector, label) = inner
                .rsplit_once(',')
                .expect("label_values(selector, label)");
            Variable {
                name: v["name"].as_str().expect("name").to_string(),
                selector: selector.trim().to_string(),
                label: label.trim().to_string(),
            }
        })
        .collect()
}

/// How Grafana fills a dashboard's time range into a query: `$__interval` from the range and
/// the data source's scrape interval (docker/grafana/datasources.yml: `timeInterval: 15s`),
/// `$__rate_interval` = max(`$__interval` + scrape interval, 4 × scrape interval).
struct TimeRange {
    start: f64,
    end: f64,
    interval: f64,
}

const SCRAPE_INTERVAL: f64 = 15.0;

impl TimeRange {
    fn rate_interval(&self) -> f64 {
        (self.interval + SCRAPE_INTERVAL).max(4.0 * SCRAPE_INTERVAL)
    }

    /// The range as `target`'s panel sees it: its `interval` is at least the panel's minimum,
    /// and its start goes back to a whole number of intervals before its end, so the range's
    /// last point is the end itself (on a fast machine the whole test takes less than one
    /// 60 s interval, and a range query would otherwise only be evaluated at the start, before
    /// any run).
    fn for_target(&self, target: &Target) -> TimeRange {
        let interval = self.interval.max(target.min_interval);
        let steps = ((self.end - self.start) / interval).ceil().max(1.0);
        TimeRange {
            start: self.end - steps * interval,
            end: self.end,
            interval,
        }
    }
}

/// `expr` with Grafana's built-in and the dashboard's variables put in.
fn substitute(expr: &str, range: &TimeRange, values: &BTreeMap<String, String>) -> String {
    let range_s = (range.end - range.start).ceil();
    // Longest names first: `$__range_s` before `$__range`, `$__rate_interval` before `$__r...`.
    let mut out = expr
        .replace("$__rate_interval", &format!("{}s", range.rate_interval()))
        .replace("$__interval_ms", &format!("{}", range.interval * 1000.0))
        .replace("$__interval", &format!("{}s", range.interval))
        .replace("$__range_s", &format!("{range_s}"))
        .replace("$__range_ms", &format!("{}", range_s * 1000.0))
        .replace("$__range", &format!("{range_s}s"));
    for (name, value) in values {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    assert!(
        !out.contains('$'),
        "a variable Grafana would fill is left in `{out}` (from `{expr}`)"
    );
    out
}

/// A value as Grafana writes one selected value of a multi-value variable into a regex
/// matcher: regex characters escaped twice (once for the regex, once for the PromQL string).
fn regex_value(value: &str) -> String {
    let mut out = String::new();
    for ch in value.chars() {
        if "\\^$*+?.()|{}[]".contains(ch) {
            out.push_str("\\\\");
        }
        out.push(ch);
    }
    out
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A registry's RDAP service for `shop.test` (expiring in 200 days): the domain probe's
/// `rdap_url`.
async fn rdap_registry() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let at = |days: i64| {
        (chrono::Utc::now() + chrono::Duration::days(days))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let answer = json!({
        "objectClassName": "domain",
        "ldhName": "SHOP.TEST",
        "status": ["client transfer prohibited"],
        "events": [
            {"eventAction": "registration", "eventDate": at(-3650)},
            {"eventAction": "expiration", "eventDate": at(200)}
        ],
        "nameservers": [{"objectClassName": "nameserver", "ldhName": "NS1.SHOP.TEST"}],
        "rdapConformance": ["rdap_level_0"]
    });
    let app = Router::new().route(
        "/domain/shop.test",
        get(move || async move { Json(answer.clone()) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("{base}/")
}

/// Whether `expr` (a panel's query, variables filled in) parses and gives at least one finite
/// value, run as Grafana runs it: an instant query at the range's end, or a range query.
async fn has_data(prometheus: &Prometheus, target: &Target, expr: &str, range: &TimeRange) -> bool {
    if target.instant {
        let data = prometheus
            .api("/api/v1/query", &[("query", expr)])
            .await
            .unwrap_or_else(|e| panic!("panel {:?}: `{expr}`: {e}", target.panel));
        data["result"].as_array().into_iter().flatten().any(|s| {
            s["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(f64::is_finite)
        })
    } else {
        prometheus
            .query_range(expr, range.start, range.end, range.interval)
            .await
            .unwrap_or_else(|e| panic!("panel {:?}: `{expr}`: {e}", target.panel))
            .iter()
            .any(|(_, values)| values.iter().any(|v| v.is_finite()))
    }
}

#[test]
fn dashboard_is_importable_and_names_only_documented_metrics() {
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "shopwatch");
    // Importable by hand and provisioned alike: the data source is a variable, no `__inputs`.
    assert!(dashboard.get("__inputs").is_none());
    let list = dashboard["templating"]["list"].as_array().unwrap();
    let names: Vec<&str> = list.iter().filter_map(|v| v["name"].as_str()).collect();
    for wanted in ["datasource", "location", "journey", "probe"] {
        assert!(names.contains(&wanted), "no variable {wanted}: {names:?}");
    }
    let datasource = list.iter().find(|v| v["name"] == "datasource").unwrap();
    assert_eq!(datasource["type"], "datasource");
    assert_eq!(datasource["query"], "prometheus");
    let mut ids = std::collections::HashSet::new();
    for panel in panels(&dashboard) {
        assert!(ids.insert(panel["id"].as_u64()), "panel id twice: {panel}");
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "panel {} does not use the data source variable",
            panel["title"]
        );
        assert!(
            panel["targets"].as_array().is_some_and(|t| !t.is_empty()),
            "panel {} has no query",
            panel["title"]
        );
        // A bar counts what happened in its own interval: windows of `$__rate_interval`
        // overlap from one bar to the next and would count each run several times.
        if panel["fieldConfig"]["defaults"]["custom"]["drawStyle"] == "bars" {
            assert!(
                panel["interval"].is_string(),
                "bars without a minimum interval: {}",
                panel["title"]
            );
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                assert!(
                    expr.contains("[$__interval]") && !expr.contains("$__rate_interval"),
                    "bars of {}: {expr}",
                    panel["title"]
                );
            }
        }
    }
    // Every metric named is one shopwatch exports (README "Metrics reference"): a typo or a
    // renamed metric is an empty panel.
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let metric = regex::Regex::new(r"\b(?:shopwatch|probe|process)_[a-z_]+").unwrap();
    let mut exprs: Vec<String> = targets(&dashboard).into_iter().map(|t| t.expr).collect();
    exprs.extend(variables(&dashboard).into_iter().map(|v| v.selector));
    let mut seen = 0;
    for expr in &exprs {
        for found in metric.find_iter(expr) {
            let name = found.as_str();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| readme.contains(&format!("`{base}` | histogram")))
                .unwrap_or(name);
            assert!(
                readme.contains(&format!("`{base}`")),
                "`{name}` (in `{expr}`) is not in the README's metrics reference"
            );
            seen += 1;
        }
    }
    assert!(seen >= 30, "metrics found in the dashboard: {seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_returns_data_from_a_real_monitor() {
    require_browser("firefox");
    let _slot = util::browser_slot().await;
    let mut shop = start_shop().await;
    let tls_addr = util::start_self_signed_tls(&mut shop).await;
    let rdap = rdap_registry().await;
    let work = tempfile::Builder::new()
        .prefix("shopwatch-dashboard-")
        .tempdir()
        .unwrap();
    let demo = std::fs::read_to_string(repo_path("journeys/demo-shop.yaml")).unwrap();
    let journey = write(
        work.path(),
        "demo-shop.yaml",
        &demo.replace("\nevery: 1m\n", "\nevery: 10s\n"),
    );
    // A sink nobody listens on: notification failures are real.
    let down = free_port();
    let config = write(
        work.path(),
        "shopwatch.yaml",
        &format!(
            r#"listen: 127.0.0.1:0
location: lab-a
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
  - tls:
      name: shop-cert
      target: {tls_addr}
      server_name: localhost
      insecure_skip_verify: true
      every: 10s
  - domain:
      name: shop-domain
      domain: shop.test
      rdap_url: {rdap}
      every: 10s
alerting:
  failure_threshold: 1
  sinks:
    - webhook:
        url: http://127.0.0.1:{down}/hook
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
    let started = unix_now();
    let runs = r#"shopwatch_journey_runs_total{journey="demo-checkout"}"#;
    let outcome = |outcome: &'static str| {
        move |r: &[util::prometheus::Sample]| {
            r.iter().any(|(l, v)| l["outcome"] == outcome && *v >= 1.0)
        }
    };

    // A passing run, then a slow one (the category page takes 3.5 s: `browse` is over its
    // 3 s budget), then failing ones (the checkout answers 500).
    let within = Duration::from_secs(150);
    prometheus
        .wait_for(runs, within, &monitor, |r| {
            r.iter()
                .any(|(l, v)| (l["outcome"] == "ok" || l["outcome"] == "degraded") && *v >= 1.0)
        })
        .await;
    shop.set_faults(vec![Fault::Delay {
        path_prefix: "/category".to_string(),
        ms: 3500,
    }]);
    prometheus
        .wait_for(runs, within, &monitor, outcome("degraded"))
        .await;
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/checkout".to_string(),
        code: 500,
    }]);
    // A counter's first sample is no increase to Prometheus: wait for a second failure, so
    // the "over the time range" tables have one.
    for query in [
        "increase(shopwatch_step_failures_total[10m]) > 0",
        "increase(shopwatch_attempt_failures_total[10m]) > 0",
        r#"increase(shopwatch_notifications_total{result="failed"}[10m]) > 0"#,
    ] {
        prometheus
            .wait_for(query, within, &monitor, |r| !r.is_empty())
            .await;
    }
    // The last run's series scraped a few more times.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let dashboard = dashboard();
    let range = TimeRange {
        start: started,
        end: unix_now(),
        interval: SCRAPE_INTERVAL,
    };
    // Variables, in order (a later one's query uses the earlier ones): each must find values.
    // Grafana's "All" is `.*`; the one-value choices are every combination of single values.
    let mut all = BTreeMap::new();
    let mut choices = vec![BTreeMap::new()];
    for variable in variables(&dashboard) {
        let mut next = Vec::new();
        for choice in &choices {
            let selector = substitute(&variable.selector, &range, choice);
            let values = prometheus
                .label_values(&variable.label, &selector)
                .await
                .unwrap_or_else(|e| panic!("variable {}: {selector}: {e}", variable.name));
            assert!(
                !values.is_empty(),
                "variable {}: label_values({selector}, {}) found nothing",
                variable.name,
                variable.label
            );
            for value in values {
                let mut choice = choice.clone();
                choice.insert(variable.name.clone(), regex_value(&value));
                next.push(choice);
            }
        }
        choices = next;
        all.insert(variable.name, ".*".to_string());
    }
    // One location, one journey, three probes.
    assert_eq!(choices.len(), 3, "{choices:?}");
    assert!(choices
        .iter()
        .all(|c| c["location"] == "lab-a" && c["journey"] == "demo-checkout"));

    let targets = targets(&dashboard);
    assert!(targets.len() >= 30, "{} queries", targets.len());
    let mut empty = Vec::new();
    let mut used = vec![false; choices.len()];
    for target in &targets {
        let range = range.for_target(target);
        let expr = substitute(&target.expr, &range, &all);
        if !has_data(&prometheus, target, &expr, &range).await {
            empty.push(format!("{} (all values): {expr}", target.panel));
        }
        // With one value of each variable selected, a panel shows data for some choice (a
        // TLS panel has none for an HTTP probe, as in Grafana).
        let mut any = false;
        for (i, choice) in choices.iter().enumerate() {
            let expr = substitute(&target.expr, &range, choice);
            if has_data(&prometheus, target, &expr, &range).await {
                any = true;
                used[i] = true;
            }
        }
        if !any {
            empty.push(format!(
                "{} (one value each, for every choice): {}",
                target.panel, target.expr
            ));
        }
    }
    for (choice, used) in choices.iter().zip(used) {
        assert!(used, "no panel has data for {choice:?}");
    }
    assert!(
        empty.is_empty(),
        "queries without data:\n{}\nshopwatch log:\n{}\nPrometheus log:\n{}",
        empty.join("\n"),
        monitor.log(),
        prometheus.log()
    );
    monitor.stop();
}
