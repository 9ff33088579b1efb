//! The `metric` probe: a business number (registrations in the last hour, orders today,
//! newsletter sign-ups) read on a schedule, kept in the history, and compared with its normal
//! from there. A broken registration form shows as registrations far under normal; a bot
//! attack as far over it.
//!
//! The number comes from an HTTP JSON endpoint (`url` and a JSON `pointer`, RFC 6901) or from a
//! Prometheus instant query (`prometheus` and `query`, one series or a scalar). More than
//! `above` % over its normal, or more than `below` % under it, fails the probe with both
//! numbers in the reason. When both the number and its normal are under `min_volume`, there is
//! too little to judge (a quiet night): it passes. Until the history has enough of the series
//! (see [`crate::normal`]) it passes and says so.
//!
//! The probe reads its normal from, and writes each value to, a [`SeriesStore`]: the monitor's
//! history, which the daemon hands over with [`use_store`] (a probe run outside the daemon has
//! none: it says so).

use super::{Kind, Probing, Verdict};
use crate::normal::{Baseline, Normal};
use crate::yaml::check::Checker;
use crate::yaml::scalars::{http_url, opt_scalar_text, scalar_text};
use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use url::Url;

/// The answer is a number: more than this is not one.
const MAX_BODY: usize = 1 << 20;

/// A validated `metric` probe.
#[derive(Debug, Clone)]
pub struct MetricProbe {
    pub name: String,
    pub source: Source,
    pub limits: Limits,
    /// Sent with the request for the number.
    pub headers: super::fetch::Headers,
    pub every: Duration,
    pub timeout: Duration,
}

/// How far a number may go from its normal: what a metric probe and a heartbeat's count share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Percent over the normal that fails.
    pub above: Option<f64>,
    /// Percent under the normal that fails.
    pub below: Option<f64>,
    /// Under it (the number and its normal both) there is too little to judge.
    pub min_volume: f64,
    pub baseline: Baseline,
}

impl Limits {
    /// Why `value` (of `what`) is too far from its `normal`, or `None` when it is not.
    pub fn judge(&self, what: &str, value: f64, normal: f64) -> Option<String> {
        if value.max(normal) < self.min_volume {
            return None;
        }
        let over = self.baseline_words();
        if let Some(above) = self.above {
            if value > normal * (1.0 + above / 100.0) {
                return Some(format!(
                    "{what} is {value}, {} over its normal of {normal} (more than {above}% over fails; {over})",
                    percent(value, normal)
                ));
            }
        }
        if let Some(below) = self.below {
            if value < normal * (1.0 - below / 100.0) {
                return Some(format!(
                    "{what} is {value}, {} under its normal of {normal} (more than {below}% under fails; {over})",
                    percent(value, normal)
                ));
            }
        }
        None
    }

    fn baseline_words(&self) -> String {
        match self.baseline.basis {
            crate::normal::Basis::HourOfWeek => format!(
                "the median of the same hour of the week over {} weeks",
                self.baseline.weeks
            ),
            crate::normal::Basis::Daily => {
                format!("the daily average over {} weeks", self.baseline.weeks)
            }
        }
    }
}

/// Where the number is read.
#[derive(Debug, Clone)]
pub enum Source {
    Json { url: Url, pointer: String },
    Prometheus { url: Url, query: String },
}

/// What a run read, for the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricInfo {
    /// Feeds `shopwatch_probe_metric_value`.
    pub value: Option<f64>,
    /// Feeds `shopwatch_probe_metric_normal`; `None` without enough history.
    pub normal: Option<f64>,
}

/// Where the numbers of metric probes (and heartbeats' counts) are kept, and their normals
/// read: the monitor's history implements it.
pub trait SeriesStore: Send + Sync {
    /// The normal of `series` at `at_ms`.
    fn normal<'a>(
        &'a self,
        series: &'a str,
        baseline: &'a Baseline,
        at_ms: i64,
    ) -> Pin<Box<dyn Future<Output = Result<Normal, String>> + Send + 'a>>;
    /// Keeps one value (never waits).
    fn keep(&self, series: &str, at_ms: i64, value: f64);
}

static STORE: LazyLock<Mutex<Option<Arc<dyn SeriesStore>>>> = LazyLock::new(Mutex::default);

/// The store metric probes and heartbeats keep their numbers in and read their normals from.
pub fn use_store(store: Arc<dyn SeriesStore>) {
    *STORE.lock().unwrap_or_else(|e| e.into_inner()) = Some(store);
}

pub(super) fn store() -> Option<Arc<dyn SeriesStore>> {
    STORE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

impl MetricProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        p.doing = "reading the number";
        let value = match self.read().await {
            Ok(value) => value,
            Err(reason) => return Verdict::failed(reason),
        };
        p.metrics.metric = Some(MetricInfo {
            value: Some(value),
            normal: None,
        });
        let Some(store) = store() else {
            return Verdict::error(
                "no history to compare with: the metric probe runs in `shopwatch run`",
            );
        };
        let now = chrono::Utc::now().timestamp_millis();
        p.doing = "reading its normal from the history";
        let normal = store.normal(&self.name, &self.limits.baseline, now).await;
        store.keep(&self.name, now, value);
        let normal = match normal {
            Ok(normal) => normal,
            Err(e) => return Verdict::error(format!("cannot read its normal: {e}")),
        };
        if let Some(info) = &mut p.metrics.metric {
            info.normal = normal.value();
        }
        self.judge(value, &normal)
    }

    /// `value` against its `normal`.
    fn judge(&self, value: f64, normal: &Normal) -> Verdict {
        let Normal::Known(normal) = *normal else {
            return Verdict::ok_because(format!("{} is {value}; {normal}", self.name));
        };
        match self.limits.judge(&self.name, value, normal) {
            Some(reason) => Verdict::failed(reason),
            None => Verdict::ok(),
        }
    }

    async fn read(&self) -> Result<f64, String> {
        let endpoint = match &self.source {
            Source::Json { url, .. } | Source::Prometheus { url, .. } => url,
        };
        // Only the endpoint is fetched: one client, not the pair a feed needs for its links.
        let client = super::fetch::document_client(self.timeout, None, &self.headers, endpoint)?;
        let what = self.source.describe();
        let request = match &self.source {
            Source::Json { url, .. } => client.get(url.clone()),
            Source::Prometheus { url, query } => {
                let mut api = url.clone();
                api.path_segments_mut()
                    .map_err(|_| format!("{url} cannot have a path"))?
                    .pop_if_empty()
                    .extend(["api", "v1", "query"]);
                api.query_pairs_mut().append_pair("query", query);
                client.get(api)
            }
        };
        let response = request
            .send()
            .await
            .map_err(|e| format!("{what}: {}", crate::error_chain::error_chain(&e)))?;
        let status = response.status();
        let body = super::fetch::read_capped(response, MAX_BODY)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{what} answered HTTP {}", status.as_u16()));
        }
        let json: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| format!("{what} did not answer JSON: {e}"))?;
        match &self.source {
            Source::Json { pointer, .. } => {
                let found = json
                    .pointer(pointer)
                    .ok_or_else(|| format!("{what}: the answer has nothing at `{pointer}`"))?;
                number(found).ok_or_else(|| format!("{what}: `{pointer}` is {found}, not a number"))
            }
            Source::Prometheus { .. } => {
                prometheus_value(&json).map_err(|e| format!("{what}: {e}"))
            }
        }
    }
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::Json { url, .. } => url.to_string(),
            Source::Prometheus { url, query } => format!("the Prometheus query `{query}` at {url}"),
        }
    }
}

/// A JSON number, or a string holding one (Prometheus and many exports quote them).
fn number(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|x| x.is_finite())
}

/// The value of an instant query's answer: a scalar, or a vector of exactly one sample.
fn prometheus_value(json: &serde_json::Value) -> Result<f64, String> {
    if json["status"] != "success" {
        return Err(format!(
            "the query failed: {}",
            json["error"].as_str().unwrap_or("no error given")
        ));
    }
    let data = &json["data"];
    let sample = match data["resultType"].as_str() {
        Some("scalar") => &data["result"],
        Some("vector") => match data["result"].as_array().map(Vec::as_slice) {
            Some([one]) => &one["value"],
            Some([]) => return Err("the query found no series".into()),
            Some(many) => {
                return Err(format!(
                    "the query found {} series, not one: aggregate it, e.g. `sum(...)`",
                    many.len()
                ))
            }
            None => return Err("the answer has no result".into()),
        },
        other => {
            return Err(format!(
                "the query answers a {}, not a number: make it an instant vector of one series or a scalar",
                other.unwrap_or("nothing")
            ))
        }
    };
    number(&sample[1]).ok_or_else(|| format!("the query's value {} is not a number", sample[1]))
}

/// How far `value` is from `normal`, in percent of it: `900%`.
fn percent(value: f64, normal: f64) -> String {
    if normal == 0.0 {
        return "infinitely".into();
    }
    format!("{:.0}%", ((value - normal) / normal * 100.0).abs())
}

impl Kind for MetricProbe {
    type File = MetricProbeFile;
    kind_basics!(MetricProbeFile);

    fn validate(c: &mut Checker, path: &str, f: &MetricProbeFile) -> MetricProbe {
        let url = |c: &mut Checker, key: &str, text: &str| match http_url(key, text) {
            Ok(url) => Some(url),
            Err(message) => {
                c.error(&format!("{path}.{key}"), message);
                None
            }
        };
        let placeholder = || Url::parse("http://127.0.0.1/").expect("a valid URL");
        let source = match (&f.url, &f.prometheus) {
            (Some(text), None) => {
                let pointer = match &f.pointer {
                    Some(pointer) if !pointer.is_empty() && !pointer.starts_with('/') => {
                        c.error_hint(
                            &format!("{path}.pointer"),
                            format!("`{pointer}` is not a JSON pointer"),
                            "a JSON pointer starts with `/`, one part per level: `/registrations/last_hour`, `/items/0/count`",
                        );
                        String::new()
                    }
                    Some(pointer) => pointer.clone(),
                    None => {
                        c.key_error_hint(
                            path,
                            "a metric probe with `url` needs a `pointer`",
                            "where the number is in the JSON answer, e.g. `pointer: /registrations/last_hour`",
                        );
                        String::new()
                    }
                };
                if f.query.is_some() {
                    c.error_hint(
                        &format!("{path}.query"),
                        "`query` is for `prometheus`, not `url`",
                        "read the number from a JSON endpoint (`url`, `pointer`) or from Prometheus (`prometheus`, `query`)",
                    );
                }
                Source::Json {
                    url: url(c, "url", text).unwrap_or_else(placeholder),
                    pointer,
                }
            }
            (None, Some(text)) => {
                let query = match &f.query {
                    Some(query) if !query.trim().is_empty() => query.clone(),
                    _ => {
                        c.key_error_hint(
                            path,
                            "a metric probe with `prometheus` needs a `query`",
                            "an instant query giving one number, e.g. `query: sum(increase(shop_orders_total[1h]))`",
                        );
                        String::new()
                    }
                };
                if f.pointer.is_some() {
                    c.error_hint(
                        &format!("{path}.pointer"),
                        "`pointer` is for `url`, not `prometheus`",
                        "read the number from a JSON endpoint (`url`, `pointer`) or from Prometheus (`prometheus`, `query`)",
                    );
                }
                Source::Prometheus {
                    url: url(c, "prometheus", text).unwrap_or_else(placeholder),
                    query,
                }
            }
            (Some(_), Some(_)) => {
                c.error_hint(
                    &format!("{path}.prometheus"),
                    "a metric probe reads `url` or `prometheus`, not both",
                    "make one probe of each if you need both numbers",
                );
                Source::Json {
                    url: placeholder(),
                    pointer: String::new(),
                }
            }
            (None, None) => {
                c.key_error_hint(
                    path,
                    "a metric probe needs `url` (with `pointer`) or `prometheus` (with `query`)",
                    "e.g. `url: https://shop.example.com/api/stats` and `pointer: /registrations/last_hour`",
                );
                Source::Json {
                    url: placeholder(),
                    pointer: String::new(),
                }
            }
        };
        if f.above.is_none() && f.below.is_none() {
            c.key_error_hint(
                path,
                "a metric probe needs `above` or `below` (or both)",
                "how far from its normal the number may go, in percent: e.g. `above: 200` and `below: 50`",
            );
        }
        let limits = limits(
            c,
            path,
            LimitsFile {
                above: f.above,
                below: f.below,
                min_volume: f.min_volume,
                weeks: f.weeks,
                normal: f.normal.as_deref(),
            },
        );
        let (every, timeout) = c.schedule(path, &f.every, &f.timeout);
        MetricProbe {
            name: f.name.clone(),
            source,
            limits,
            headers: super::fetch::Headers::validate(c, path, &f.headers),
            every,
            timeout,
        }
    }

    fn secrets(&self) -> Vec<&crate::secret::Var> {
        self.headers.secrets().collect()
    }
}

/// The keys of [`Limits`] as written (a metric probe's, a heartbeat's).
pub(super) struct LimitsFile<'a> {
    pub above: Option<f64>,
    pub below: Option<f64>,
    pub min_volume: Option<f64>,
    pub weeks: Option<u32>,
    pub normal: Option<&'a str>,
}

/// The limits under `path`, each wrong value a located error.
pub(super) fn limits(c: &mut Checker, path: &str, f: LimitsFile) -> Limits {
    for (key, given) in [("above", f.above), ("below", f.below)] {
        if let Some(percent) = given {
            let most = if key == "below" { 100.0 } else { f64::INFINITY };
            if !(percent > 0.0 && percent <= most && percent.is_finite()) {
                let range = if key == "below" {
                    "more than 0 and at most 100"
                } else {
                    "more than 0"
                };
                c.error_hint(
                    &format!("{path}.{key}"),
                    format!("`{key}` must be {range}, not {percent}"),
                    "a percentage of the normal: `above: 200` fails at three times the normal, `below: 50` at half of it",
                );
            }
        }
    }
    if f.min_volume.is_some_and(|v| !(v >= 0.0 && v.is_finite())) {
        c.error_hint(
            &format!("{path}.min_volume"),
            format!(
                "`min_volume` must be 0 or more, not {}",
                f.min_volume.unwrap_or_default()
            ),
            "under it (the number and its normal both) there is too little to judge, e.g. `min_volume: 20`",
        );
    }
    let baseline = c
        .baseline(path, f.weeks, f.normal, Baseline::default())
        .unwrap_or_default();
    Limits {
        above: f.above,
        below: f.below,
        min_volume: f.min_volume.unwrap_or(0.0),
        baseline,
    }
}

/// `- metric:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricProbeFile {
    pub name: String,
    /// A JSON endpoint.
    pub url: Option<String>,
    /// Where the number is in its answer (RFC 6901).
    pub pointer: Option<String>,
    /// A Prometheus server's base URL.
    pub prometheus: Option<String>,
    pub query: Option<String>,
    pub above: Option<f64>,
    pub below: Option<f64>,
    pub min_volume: Option<f64>,
    pub weeks: Option<u32>,
    pub normal: Option<String>,
    #[serde(default)]
    pub headers: super::fetch::HeadersFile,
    #[serde(deserialize_with = "scalar_text")]
    pub every: String,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub timeout: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(above: Option<f64>, below: Option<f64>, min_volume: f64) -> MetricProbe {
        MetricProbe {
            name: "registrations".into(),
            source: Source::Json {
                url: Url::parse("http://127.0.0.1/stats").unwrap(),
                pointer: "/registrations".into(),
            },
            limits: Limits {
                above,
                below,
                min_volume,
                baseline: Baseline::default(),
            },
            headers: Default::default(),
            every: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn prometheus_answers_give_one_number() {
        let vector = serde_json::json!({"status": "success", "data": {"resultType": "vector",
            "result": [{"metric": {}, "value": [1700000000.0, "42.5"]}]}});
        assert_eq!(prometheus_value(&vector), Ok(42.5));
        let scalar = serde_json::json!({"status": "success", "data": {"resultType": "scalar",
            "result": [1700000000.0, "7"]}});
        assert_eq!(prometheus_value(&scalar), Ok(7.0));
        let none = serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": []}});
        assert_eq!(
            prometheus_value(&none),
            Err("the query found no series".into())
        );
    }

    #[test]
    fn far_from_normal_fails_and_a_quiet_night_does_not() {
        let p = probe(Some(100.0), Some(50.0), 10.0);
        let normal = Normal::Known(40.0);
        assert_eq!(p.judge(40.0, &normal).outcome, super::super::Outcome::Ok);
        let over = p.judge(400.0, &normal);
        assert_eq!(over.outcome, super::super::Outcome::Failed);
        assert!(
            over.reason
                .as_deref()
                .unwrap()
                .starts_with("registrations is 400, 900% over its normal of 40"),
            "{over:?}"
        );
        let under = p.judge(0.0, &normal);
        assert!(under
            .reason
            .unwrap()
            .contains("100% under its normal of 40"));
        // At night: normal 4, now 0, both under min_volume 10.
        assert_eq!(
            p.judge(0.0, &Normal::Known(4.0)).outcome,
            super::super::Outcome::Ok
        );
    }
}
