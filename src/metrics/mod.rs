//! Metrics: every metric name of shopwatch, the state behind them, and the Prometheus text
//! rendered from it at scrape time.
//!
//! # Design
//! One `Mutex` holds all state (no prometheus `CounterVec`s): per journey the runs by outcome,
//! failures, last success, schedule lag, skipped runs, the session start histogram and its
//! duration series; per probe its kind and last result; and a few global values. [`render`]
//! writes the Prometheus text straight from it into one `String` (`render.rs`: no
//! intermediate families, hardly an allocation besides the output), under the lock.
//! Forgetting a journey or probe removed on reload is removing a map entry
//! ([`Metrics::set_configured`]).
//!
//! A duration series (`*_duration_seconds` and `*_duration_window_seconds`) is two things:
//! - a Prometheus histogram whose buckets are counted exactly when a value is recorded (`le`:
//!   a value equal to a bound counts in it), with all-time exact `_sum` and `_count`;
//! - a summary of the last [`MetricsConfig::window`]: a running HDR histogram (3 significant
//!   figures, milliseconds) of the values of 6 time slices, kept up to date as values come and
//!   slices expire, so a scrape never merges (the slices hold their values raw until they are
//!   many, then as HDR histograms: see `series.rs`). Its quantiles 0.5, 0.9, 0.99, 0.999 and
//!   `1` (the maximum) are HdrHistogram's (at most 0.1% above the true value, exact below
//!   2048 ms), computed in one pass and cached until the series changes; its `_sum` and
//!   `_count` are the all-time ones of the histogram, as in Prometheus client summaries. A
//!   value leaves the quantiles between 5/6 of the window and the whole window after it was
//!   recorded. An empty window exports no quantile samples (promtool accepts a summary with
//!   only `_sum` and `_count`; a NaN would read as a value in queries).
//!
//! The `process_*` families are not state: `process.rs` reads `/proc/self` at each scrape,
//! before the lock is taken.
//!
//! If a `location` is given, every series has a `location` label.
//!
//! [`render`]: Metrics::render

pub mod config;
pub mod process;
mod render;
mod series;
#[cfg(test)]
mod tests;

#[doc(hidden)]
pub use self::series::DurationSeries;

use self::series::{sane_seconds, Buckets, SLICES};
use crate::journey::outcome::{Outcome, RunReport, StepOutcome};
use crate::probe::{ProbeConfig, ProbeResult};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// The content type of [`Metrics::render`]'s output: Prometheus text format 0.0.4 (with the
/// charset, as the Go client sends it: label values may hold any UTF-8, certificate subjects
/// for one).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram `{journey, step}`: time of each passed step (outcome `ok` or `slow`), all time.
pub const STEP_DURATION: &str = "shopwatch_step_duration_seconds";
/// Summary `{journey, step, quantile}`: quantiles of passed steps' times over the window;
/// `_sum`/`_count` all time.
pub const STEP_DURATION_WINDOW: &str = "shopwatch_step_duration_window_seconds";
/// Histogram `{journey}`: time of each passed run (`ok`, `degraded`, `flaky`), all time.
pub const JOURNEY_DURATION: &str = "shopwatch_journey_duration_seconds";
/// Summary `{journey, quantile}`: quantiles of passed runs' times over the window.
pub const JOURNEY_DURATION_WINDOW: &str = "shopwatch_journey_duration_window_seconds";
/// Counter `{journey, outcome}`: finished runs by outcome; all five outcomes, 0 until seen.
pub const JOURNEY_RUNS: &str = "shopwatch_journey_runs_total";
/// Counter `{journey, step, reason}`: steps that failed or errored (last attempt), by reason
/// class (`unknown` without one).
pub const STEP_FAILURES: &str = "shopwatch_step_failures_total";
/// Counter `{journey, step, reason}`: steps that failed in an earlier attempt of a run that was
/// retried (the run may still have passed, as `flaky`).
pub const ATTEMPT_FAILURES: &str = "shopwatch_attempt_failures_total";
/// Gauge `{journey}`: Unix time the last passed run ended; absent until one passed.
pub const JOURNEY_LAST_SUCCESS: &str = "shopwatch_journey_last_success_timestamp_seconds";
/// Gauge `{journey}`: 1 if the last run passed, else 0; absent before the first run.
pub const JOURNEY_LAST_RUN_PASSED: &str = "shopwatch_journey_last_run_passed";
/// Gauge `{journey}`: Unix time the last run ended; absent before the first run.
pub const JOURNEY_LAST_RUN: &str = "shopwatch_journey_last_run_timestamp_seconds";
/// Gauge `{journey, step, name}`: the last number a step published with `metric: NAME` (a
/// cart total, a shipping cost), from the run's last attempt.
pub const JOURNEY_VALUE: &str = "shopwatch_journey_value";
/// Gauge `{journey, step}`: the step's normal time from the history (`slower_than_normal`);
/// absent while there is not enough history.
pub const STEP_NORMAL: &str = "shopwatch_step_normal_seconds";
/// Gauge `{journey, step}`: 1 if the step's recent times are over `factor` x its normal, else
/// 0; absent while there is not enough history.
pub const STEP_SLOWER_THAN_NORMAL: &str = "shopwatch_step_slower_than_normal";
/// Gauge `{journey}`: how late the last run started after its due time.
pub const SCHEDULE_LAG: &str = "shopwatch_schedule_lag_seconds";
/// Counter `{journey, reason}`: runs not started (`overlap`, `shutdown`).
pub const SKIPPED_RUNS: &str = "shopwatch_skipped_runs_total";
/// Histogram `{journey}`: time to start the browser session (driver included).
pub const SESSION_START: &str = "shopwatch_webdriver_session_start_seconds";
/// Counter `{kind}`: failures of the monitor itself (`webdriver`, `session`, ...).
pub const MONITOR_ERRORS: &str = "shopwatch_monitor_errors_total";
/// Counter `{reason}`: history records (runs, probe results, notifications) not written:
/// `queue_full` (the writer fell behind), `unavailable` (cannot open or reach the store),
/// `corrupt`, `full` (disk or size limit), `readonly`, `query`. Exported once the history is on.
pub const HISTORY_WRITE_ERRORS: &str = "shopwatch_history_write_errors_total";
/// Counter: history records written.
pub const HISTORY_WRITES: &str = "shopwatch_history_writes_total";
/// The `reason`s of [`HISTORY_WRITE_ERRORS`], each exported from 0.
pub const HISTORY_ERROR_REASONS: [&str; 6] = [
    "queue_full",
    "unavailable",
    "corrupt",
    "full",
    "readonly",
    "query",
];
/// Gauge: files in the artifacts directory.
pub const ARTIFACTS_FILES: &str = "shopwatch_artifacts_files";
/// Gauge: bytes in the artifacts directory.
pub const ARTIFACTS_BYTES: &str = "shopwatch_artifacts_bytes";
/// Gauge `{state}`: browser sessions `active` and `waiting` for a slot.
pub const BROWSER_SESSIONS: &str = "shopwatch_browser_sessions";
/// Gauge: 1 if the last configuration reload succeeded (or none happened yet), else 0.
pub const CONFIG_RELOAD_SUCCESSFUL: &str = "shopwatch_config_last_reload_successful";
/// Gauge: Unix time of the last successful configuration load (at start, or reload).
pub const CONFIG_RELOAD_SUCCESS_TIMESTAMP: &str =
    "shopwatch_config_last_reload_success_timestamp_seconds";
/// Counter `{sink, result}`: alert notifications by sink and result: `sent` (accepted by the
/// receiver), `failed` (an attempt failed; it is retried), `rejected` (refused for good, e.g.
/// HTTP 400: not retried), `dropped` (the queue was full).
pub const NOTIFICATIONS: &str = "shopwatch_notifications_total";
/// Gauge `{sink}`: notifications waiting to be delivered (retries included).
pub const NOTIFICATION_QUEUE: &str = "shopwatch_notification_queue_length";
/// Gauge `{alertname, severity}`: alerts firing now (maintenance windows included).
pub const ALERTS_FIRING: &str = "shopwatch_alerts_firing";
/// Gauge `{alertname, severity}`: of those, the ones folded into a failing dependency.
pub const ALERTS_FOLDED: &str = "shopwatch_alerts_folded";
/// Gauge `{version, revision, rustc, target}`: always 1.
pub const BUILD_INFO: &str = "shopwatch_build_info";

/// Counter (Prometheus' standard name): the monitor's user and system CPU seconds.
pub const PROCESS_CPU: &str = "process_cpu_seconds_total";
/// Gauge (standard): the monitor's resident memory, bytes.
pub const PROCESS_RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
/// Gauge (standard): the monitor's virtual memory, bytes.
pub const PROCESS_VIRTUAL_MEMORY: &str = "process_virtual_memory_bytes";
/// Gauge (standard): the monitor's open file descriptors.
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
/// Gauge (standard): its soft limit of open files; absent when unlimited.
pub const PROCESS_MAX_FDS: &str = "process_max_fds";
/// Gauge (standard): Unix time the monitor started.
pub const PROCESS_START_TIME: &str = "process_start_time_seconds";

/// Gauge `{probe}` (blackbox): 1 if the last run passed (`ok` or `degraded`).
pub const PROBE_SUCCESS: &str = "probe_success";
/// Gauge `{probe}` (blackbox): wall time of the last run.
pub const PROBE_DURATION: &str = "probe_duration_seconds";
/// Gauge `{probe}` (blackbox): time to resolve the host name in the last run, when it did.
pub const PROBE_DNS_LOOKUP: &str = "probe_dns_lookup_time_seconds";
/// Gauge `{probe}` (blackbox, http): status code of the final response; 0 without one.
pub const PROBE_HTTP_STATUS: &str = "probe_http_status_code";
/// Gauge `{probe, phase}` (blackbox, http): time per phase summed over redirects; all five
/// phases, 0 for those that never started.
pub const PROBE_HTTP_DURATION: &str = "probe_http_duration_seconds";
/// Gauge `{probe}` (blackbox, http): redirects followed.
pub const PROBE_HTTP_REDIRECTS: &str = "probe_http_redirects";
/// Gauge `{probe}` (blackbox, http): 1 if the final request used TLS.
pub const PROBE_HTTP_SSL: &str = "probe_http_ssl";
/// Gauge `{probe}` (blackbox, http): bytes of the final response body, when read.
pub const PROBE_HTTP_BODY_LENGTH: &str = "probe_http_uncompressed_body_length";
/// Gauge `{probe}` (blackbox): earliest `not_after` of the presented certificates, Unix time.
pub const PROBE_SSL_EARLIEST_EXPIRY: &str = "probe_ssl_earliest_cert_expiry";
/// Gauge `{probe}` (blackbox): earliest `not_after` on the verified chain, Unix time; absent
/// when the chain does not verify.
pub const PROBE_SSL_LAST_CHAIN_EXPIRY: &str = "probe_ssl_last_chain_expiry_timestamp_seconds";
/// Gauge `{probe, version}` (blackbox): the TLS version, always 1.
pub const PROBE_TLS_VERSION: &str = "probe_tls_version_info";
/// Gauge `{probe}` (blackbox, dns): 1 if a server answered the query in the last run.
pub const PROBE_DNS_QUERY_SUCCEEDED: &str = "probe_dns_query_succeeded";
/// Gauge `{probe}` (blackbox, dns): records in the answer section of the last answer.
pub const PROBE_DNS_ANSWER_RRS: &str = "probe_dns_answer_rrs";
/// Gauge `{probe}` (blackbox, dns): records in the authority section of the last answer.
pub const PROBE_DNS_AUTHORITY_RRS: &str = "probe_dns_authority_rrs";
/// Gauge `{probe}` (blackbox, dns): records in the additional section of the last answer.
pub const PROBE_DNS_ADDITIONAL_RRS: &str = "probe_dns_additional_rrs";
/// Gauge `{probe}` (blackbox, dns): the SOA serial in the last answer, when it had one (for a
/// delegation probe: the newest serial of the zone's servers).
pub const PROBE_DNS_SERIAL: &str = "probe_dns_serial";
/// Gauge `{probe}` (delegation): delegated server addresses asked in the last run.
pub const PROBE_DNS_DELEGATED_SERVERS: &str = "shopwatch_probe_dns_delegated_servers";
/// Gauge `{probe}` (delegation): of those, the lame, unreachable, disagreeing or outdated.
pub const PROBE_DNS_FAILING_SERVERS: &str = "shopwatch_probe_dns_failing_servers";
/// Gauge `{probe, ip, zone}` (dnsbl): 1 if the address is listed on the blacklist zone, 0 if
/// not; absent when the zone could not tell. Bounded by the configured addresses and zones.
pub const PROBE_DNSBL_LISTED: &str = "shopwatch_probe_dnsbl_listed";
/// Gauge `{probe}` (domain): when the registration expires, Unix time, as the registry says.
pub const PROBE_DOMAIN_EXPIRY: &str = "shopwatch_probe_domain_expiry_timestamp_seconds";
/// Gauge `{probe}` (smtp with `delivery`): seconds from the server accepting the delivery
/// check's message to the message showing up in the mailbox, in the last run that found it.
pub const PROBE_SMTP_DELIVERY: &str = "shopwatch_probe_smtp_delivery_seconds";
/// Gauge `{probe}` (feed): items (or sitemap URLs) in the last run's document.
pub const PROBE_FEED_ITEMS: &str = "shopwatch_probe_feed_items";
/// Gauge `{probe}` (feed): of those, the ones missing a required field or with a malformed one.
pub const PROBE_FEED_INVALID: &str = "shopwatch_probe_feed_invalid_items";
/// Gauge `{probe}` (feed): the date freshness was judged by (newest lastmod, feed date or
/// Last-Modified), Unix time.
pub const PROBE_FEED_LAST_MODIFIED: &str = "shopwatch_probe_feed_last_modified_timestamp_seconds";
/// Gauge `{probe}` (feed): sampled links that did not answer 200.
pub const PROBE_FEED_SAMPLE_FAILURES: &str = "shopwatch_probe_feed_sample_failures";
/// Gauge `{probe}` (feed with `price_selector`): sampled product pages that do not show the
/// item's price.
pub const PROBE_FEED_PRICE_MISMATCHES: &str = "shopwatch_probe_feed_price_mismatches";
/// Gauge `{probe}` (catalog): SKUs in the source (the ERP export) in the last run.
pub const PROBE_CATALOG_SOURCE_ITEMS: &str = "shopwatch_probe_catalog_source_items";
/// Gauge `{probe}` (catalog): SKUs compared with the shop in the last run (all, or `sample`).
pub const PROBE_CATALOG_COMPARED: &str = "shopwatch_probe_catalog_compared";
/// Gauge `{probe}` (catalog): of those, prices outside the tolerance.
pub const PROBE_CATALOG_PRICE_MISMATCHES: &str = "shopwatch_probe_catalog_price_mismatches";
/// Gauge `{probe}` (catalog): of those, stock that disagrees by the stock rule.
pub const PROBE_CATALOG_STOCK_MISMATCHES: &str = "shopwatch_probe_catalog_stock_mismatches";
/// Gauge `{probe}` (catalog): of those, SKUs the shop does not have.
pub const PROBE_CATALOG_MISSING: &str = "shopwatch_probe_catalog_missing";
/// Gauge `{probe}` (catalog): seconds since the source was exported (`exported_at` or
/// Last-Modified).
pub const PROBE_CATALOG_SOURCE_AGE: &str = "shopwatch_probe_catalog_source_age_seconds";
/// Gauge `{probe}` (metric): the number read in the last run.
pub const PROBE_METRIC_VALUE: &str = "shopwatch_probe_metric_value";
/// Gauge `{probe}` (metric): its normal from the history; absent while there is not enough.
pub const PROBE_METRIC_NORMAL: &str = "shopwatch_probe_metric_normal";
/// Gauge `{probe}` (heartbeat): the last successful ping, Unix time.
pub const HEARTBEAT_LAST_PING: &str = "shopwatch_heartbeat_last_ping_timestamp_seconds";
/// Gauge `{probe}` (heartbeat): the count the last ping that had one gave.
pub const HEARTBEAT_COUNT: &str = "shopwatch_heartbeat_count";
/// Gauge `{probe}` (heartbeat): pings refused (wrong or missing token) since the start.
pub const HEARTBEAT_REJECTED: &str = "shopwatch_heartbeat_rejected_pings";
/// Gauge `{probe, rcode}`: the response code of the last answer, always 1.
pub const PROBE_DNS_RCODE: &str = "shopwatch_probe_dns_rcode_info";
/// Counter `{probe, kind, outcome}`: finished probe runs by outcome.
pub const PROBE_RUNS: &str = "shopwatch_probe_runs_total";
/// Gauge `{probe}`: 1 if the certificate chain verified in the last run, else 0.
pub const PROBE_TLS_CHAIN_VERIFIED: &str = "shopwatch_probe_tls_chain_verified";
/// Gauge `{probe, position, subject, issuer}`: `not_after` of each presented certificate
/// (position 0 is the leaf), Unix time. Bounded: at most [`MAX_CERTS`] certificates per probe,
/// subject and issuer truncated to [`MAX_CERT_LABEL_CHARS`] characters.
pub const PROBE_CERT_EXPIRY: &str = "shopwatch_probe_cert_expiry_timestamp_seconds";

/// Certificates per probe exported in [`PROBE_CERT_EXPIRY`]; the rest are left out.
pub const MAX_CERTS: usize = 10;
/// Characters of a certificate subject or issuer kept in a label value.
pub const MAX_CERT_LABEL_CHARS: usize = 128;

/// Bounds of [`SESSION_START`], seconds.
pub const SESSION_START_BUCKETS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];

/// Monitor error kinds exported at 0 from the start, so that `increase()` sees the first one.
/// Other kinds appear when first counted.
pub const MONITOR_ERROR_KINDS: [&str; 6] = [
    "webdriver",
    "session",
    "browser_crashed",
    "artifacts",
    "config_reload",
    "probe",
];

/// What became of a notification (the `result` label of [`NOTIFICATIONS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NotificationResult {
    Sent,
    Failed,
    Rejected,
    Dropped,
}

impl NotificationResult {
    pub const ALL: [NotificationResult; 4] = [
        NotificationResult::Sent,
        NotificationResult::Failed,
        NotificationResult::Rejected,
        NotificationResult::Dropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationResult::Sent => "sent",
            NotificationResult::Failed => "failed",
            NotificationResult::Rejected => "rejected",
            NotificationResult::Dropped => "dropped",
        }
    }
}

/// The outcomes in label order.
const OUTCOMES: [Outcome; 5] = [
    Outcome::Ok,
    Outcome::Degraded,
    Outcome::Flaky,
    Outcome::Failed,
    Outcome::Error,
];

fn outcome_index(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Ok => 0,
        Outcome::Degraded => 1,
        Outcome::Flaky => 2,
        Outcome::Failed => 3,
        Outcome::Error => 4,
    }
}

/// How the metrics are kept.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// How far back the window summaries' quantiles look (default 1 h).
    pub window: Duration,
    /// Bounds of the step duration histograms, seconds.
    pub step_buckets: Vec<f64>,
    /// Bounds of the journey duration histograms, seconds.
    pub journey_buckets: Vec<f64>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            window: Duration::from_secs(3600),
            step_buckets: vec![0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
            journey_buckets: vec![1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0],
        }
    }
}

impl MetricsConfig {
    /// Bounds sorted ascending, duplicates and non-finite values (`+Inf` is implied) dropped.
    fn sanitized(mut self) -> Self {
        for bounds in [&mut self.step_buckets, &mut self.journey_buckets] {
            bounds.retain(|b| b.is_finite());
            bounds.sort_by(f64::total_cmp);
            bounds.dedup();
        }
        self
    }

    /// The length of one of the window's time slices (at least 1 ms).
    fn slice(&self) -> Duration {
        (self.window / SLICES as u32).max(Duration::from_millis(1))
    }
}

/// Why a due run did not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The previous run of the journey is still running.
    Overlap,
    /// Due while shopwatch is stopping.
    Shutdown,
}

impl SkipReason {
    const ALL: [SkipReason; 2] = [SkipReason::Overlap, SkipReason::Shutdown];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Overlap => "overlap",
            SkipReason::Shutdown => "shutdown",
        }
    }

    fn index(self) -> usize {
        match self {
            SkipReason::Overlap => 0,
            SkipReason::Shutdown => 1,
        }
    }
}

/// The metrics of one journey.
#[derive(Debug, Clone)]
struct JourneyState {
    runs: [u64; OUTCOMES.len()],
    skipped: [u64; SkipReason::ALL.len()],
    /// By (step, reason class).
    failures: BTreeMap<(String, &'static str), u64>,
    /// Failures in earlier attempts of retried runs, by (step, reason class).
    attempt_failures: BTreeMap<(String, &'static str), u64>,
    /// Unix seconds.
    last_success: Option<f64>,
    last_run: Option<LastRun>,
    schedule_lag: Option<f64>,
    session_start: Buckets,
    duration: DurationSeries,
    steps: BTreeMap<String, DurationSeries>,
    /// Published values by (step, metric name): the last one read.
    values: BTreeMap<(String, String), f64>,
    /// By step: (normal in seconds, slower than normal), for steps with enough history.
    normals: BTreeMap<String, (f64, bool)>,
}

#[derive(Debug, Clone, Copy)]
struct LastRun {
    passed: bool,
    /// Unix seconds of its end.
    at: f64,
}

impl JourneyState {
    fn new(config: &MetricsConfig) -> Self {
        JourneyState {
            runs: [0; OUTCOMES.len()],
            skipped: [0; SkipReason::ALL.len()],
            failures: BTreeMap::new(),
            attempt_failures: BTreeMap::new(),
            last_success: None,
            last_run: None,
            schedule_lag: None,
            session_start: Buckets::new(SESSION_START_BUCKETS.len()),
            duration: DurationSeries::new(config.journey_buckets.len()),
            steps: BTreeMap::new(),
            values: BTreeMap::new(),
            normals: BTreeMap::new(),
        }
    }
}

/// The metrics of one probe.
#[derive(Debug, Clone)]
struct ProbeState {
    kind: &'static str,
    runs: [u64; OUTCOMES.len()],
    last: ProbeResult,
}

#[derive(Debug, Clone, Copy)]
struct Reload {
    ok: bool,
    /// Unix seconds.
    last_success: f64,
}

#[derive(Debug)]
struct State {
    config: MetricsConfig,
    /// Epoch 0 of the windows' time slices.
    origin: Instant,
    /// The configured journeys and probes, once [`Metrics::set_configured`] was called: then
    /// records for others are ignored.
    configured: Option<(BTreeSet<String>, BTreeSet<String>)>,
    journeys: BTreeMap<String, JourneyState>,
    probes: BTreeMap<String, ProbeState>,
    monitor_errors: BTreeMap<String, u64>,
    /// Records written, and not written by reason; `None` until the history is on.
    history: Option<(u64, BTreeMap<String, u64>)>,
    /// (files, bytes)
    artifacts: Option<(u64, u64)>,
    /// (active, waiting)
    sessions: (usize, usize),
    reload: Reload,
    /// By (sink, result); every result at 0 for each configured sink.
    notifications: BTreeMap<(String, NotificationResult), u64>,
    /// By sink.
    notification_queue: BTreeMap<String, usize>,
    /// By (alertname, severity).
    alerts_firing: BTreeMap<(String, String), usize>,
    alerts_folded: BTreeMap<(String, String), usize>,
    /// Every (alertname, severity) the alerting can raise, each a series from the start.
    alert_kinds: Vec<(&'static str, &'static str)>,
}

impl State {
    /// The time slice `now` is in.
    fn epoch(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.origin).as_nanos();
        (since / self.config.slice().as_nanos()) as u64
    }

    /// The state of `journey`, created if new; `None` when it is not configured.
    fn journey(&mut self, journey: &str) -> Option<&mut JourneyState> {
        journey_entry(&mut self.journeys, &self.configured, &self.config, journey)
    }
}

/// The state of `journey` in `journeys`, created if new; `None` when it is not configured.
fn journey_entry<'a>(
    journeys: &'a mut BTreeMap<String, JourneyState>,
    configured: &Option<(BTreeSet<String>, BTreeSet<String>)>,
    config: &MetricsConfig,
    journey: &str,
) -> Option<&'a mut JourneyState> {
    if configured
        .as_ref()
        .is_some_and(|(names, _)| !names.contains(journey))
    {
        return None;
    }
    if !journeys.contains_key(journey) {
        journeys.insert(journey.to_owned(), JourneyState::new(config));
    }
    journeys.get_mut(journey)
}

/// The series of `step` in `steps`, created if new (without allocating when it exists).
fn step_series<'a>(
    steps: &'a mut BTreeMap<String, DurationSeries>,
    step: &str,
    bounds: usize,
) -> &'a mut DurationSeries {
    if !steps.contains_key(step) {
        steps.insert(step.to_owned(), DurationSeries::new(bounds));
    }
    steps.get_mut(step).expect("inserted above")
}

/// All of shopwatch's metrics. `Send + Sync`: share it as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    /// The `location` label value on every series, if any.
    location: Option<String>,
    state: Mutex<State>,
    /// Size of the last render, to allocate the next at once.
    last_render_len: AtomicUsize,
}

impl Metrics {
    /// Metrics kept as `config` says; with a `location` (non-empty), every series has that
    /// `location` label.
    pub fn new(config: MetricsConfig, location: Option<String>) -> Metrics {
        let monitor_errors = MONITOR_ERROR_KINDS
            .iter()
            .map(|k| (k.to_string(), 0))
            .collect();
        Metrics {
            location: location.filter(|l| !l.is_empty()),
            state: Mutex::new(State {
                config: config.sanitized(),
                origin: Instant::now(),
                configured: None,
                journeys: BTreeMap::new(),
                probes: BTreeMap::new(),
                monitor_errors,
                history: None,
                artifacts: None,
                sessions: (0, 0),
                // The configuration was loaded just before, as Prometheus has it at start.
                reload: Reload {
                    ok: true,
                    last_success: unix_now(),
                },
                notifications: BTreeMap::new(),
                notification_queue: BTreeMap::new(),
                alerts_firing: BTreeMap::new(),
                alerts_folded: BTreeMap::new(),
                alert_kinds: Vec::new(),
            }),
            last_render_len: AtomicUsize::new(0),
        }
    }

    /// The state; a panic while it was held does not make the metrics unusable.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies a new configuration (on reload). Bounds are sorted, duplicates and non-finite
    /// bounds dropped. What changed starts over:
    /// - a new `window` empties every sliding window (the quantiles start again from the next
    ///   value);
    /// - new `step_buckets` (or `journey_buckets`) reset every step (journey) duration
    ///   histogram: its buckets, `_sum` and `_count` (Prometheus sees a counter reset), and so
    ///   the `_sum` and `_count` of the window summary, which are the same.
    ///
    /// Nothing is reset for an unchanged part.
    pub fn set_config(&self, config: MetricsConfig) {
        let config = config.sanitized();
        let mut state = self.state();
        let window = config.window != state.config.window;
        let steps = config.step_buckets != state.config.step_buckets;
        let journeys = config.journey_buckets != state.config.journey_buckets;
        for j in state.journeys.values_mut() {
            if journeys {
                j.duration.buckets.reset(config.journey_buckets.len());
            }
            if window {
                j.duration.window = Default::default();
            }
            for s in j.steps.values_mut() {
                if steps {
                    s.buckets.reset(config.step_buckets.len());
                }
                if window {
                    s.window = Default::default();
                }
            }
        }
        state.config = config;
    }

    /// Records a finished journey run.
    pub fn record_run(&self, report: &RunReport) {
        self.record_run_at(report, Instant::now());
    }

    /// Records a finished run, `now` for the windows. Counts the outcome; for a passed run its
    /// duration and the durations of its passed steps; every failed or errored step in the
    /// failures; for an `error` run a monitor error of the kind of the errored step's reason
    /// class (`webdriver` when no step failed: the session never started).
    pub(crate) fn record_run_at(&self, report: &RunReport, now: Instant) {
        let ended = run_end(report);
        let mut state = self.state();
        let epoch = state.epoch(now);
        let State {
            config,
            journeys,
            configured,
            monitor_errors,
            ..
        } = &mut *state;
        let Some(j) = journey_entry(journeys, configured, config, &report.journey) else {
            return;
        };
        j.runs[outcome_index(report.outcome)] += 1;
        let passed = report.outcome.passed();
        j.last_run = Some(LastRun { passed, at: ended });
        if passed {
            j.last_success = Some(ended);
            j.duration
                .record(&config.journey_buckets, report.duration_ms / 1000.0, epoch);
        }
        if let Some(ms) = report.session_start_ms {
            j.session_start
                .observe(&SESSION_START_BUCKETS, sane_seconds(ms / 1000.0));
        }
        for step in &report.steps {
            for value in &step.values {
                j.values
                    .insert((step.name.clone(), value.metric.clone()), value.value);
            }
            match step.outcome {
                StepOutcome::Ok | StepOutcome::Slow => {
                    let Some(ms) = step.duration_ms else { continue };
                    step_series(&mut j.steps, &step.name, config.step_buckets.len()).record(
                        &config.step_buckets,
                        ms / 1000.0,
                        epoch,
                    );
                }
                StepOutcome::Failed | StepOutcome::Error => {
                    let reason = step.reason_class.map_or("unknown", |c| c.as_str());
                    *j.failures.entry((step.name.clone(), reason)).or_default() += 1;
                }
                StepOutcome::Skipped => {}
            }
        }
        // A flaky step hides behind the retry that passed: count where the earlier attempts
        // failed.
        for attempt in &report.previous_attempts {
            for step in &attempt.steps {
                if matches!(step.outcome, StepOutcome::Failed | StepOutcome::Error) {
                    let reason = step.reason_class.map_or("unknown", |c| c.as_str());
                    *j.attempt_failures
                        .entry((step.name.clone(), reason))
                        .or_default() += 1;
                }
            }
        }
        if report.outcome == Outcome::Error {
            let errored = report
                .steps
                .iter()
                .find(|s| s.outcome == StepOutcome::Error)
                .or_else(|| report.first_failure());
            let kind = match errored {
                Some(step) => step.reason_class.map_or("unknown", |c| c.as_str()),
                None => report.error_class.map_or("webdriver", |c| c.as_str()),
            };
            count_monitor_error(monitor_errors, kind);
        }
    }

    /// Records one passed step's time directly (benchmarks).
    #[doc(hidden)]
    pub fn record_step_duration(&self, journey: &str, step: &str, duration: Duration) {
        let now = Instant::now();
        let mut state = self.state();
        let epoch = state.epoch(now);
        let State {
            config,
            journeys,
            configured,
            ..
        } = &mut *state;
        let Some(j) = journey_entry(journeys, configured, config, journey) else {
            return;
        };
        step_series(&mut j.steps, step, config.step_buckets.len()).record(
            &config.step_buckets,
            duration.as_secs_f64(),
            epoch,
        );
    }

    /// Records what the history said of a run's steps (`slower_than_normal`): per step its
    /// normal (milliseconds) and whether it is slower than that; a step without enough history
    /// (`None`) loses its series.
    pub fn record_step_normals<'a>(
        &self,
        journey: &str,
        steps: impl IntoIterator<Item = (&'a str, Option<(f64, bool)>)>,
    ) {
        let mut state = self.state();
        let Some(j) = state.journey(journey) else {
            return;
        };
        for (step, normal) in steps {
            match normal {
                Some((ms, slower)) => {
                    j.normals.insert(step.to_string(), (ms / 1000.0, slower));
                }
                None => {
                    j.normals.remove(step);
                }
            }
        }
    }

    /// Records how late the last run of `journey` started after it was due.
    pub fn record_schedule_lag(&self, journey: &str, lag: Duration) {
        if let Some(j) = self.state().journey(journey) {
            j.schedule_lag = Some(lag.as_secs_f64());
        }
    }

    /// Counts a due run of `journey` that did not start.
    pub fn record_skipped(&self, journey: &str, reason: SkipReason) {
        if let Some(j) = self.state().journey(journey) {
            j.skipped[reason.index()] += 1;
        }
    }

    /// Records a finished probe run: its result replaces the last one.
    pub fn record_probe(&self, probe: &ProbeConfig, result: &ProbeResult) {
        let mut state = self.state();
        if state
            .configured
            .as_ref()
            .is_some_and(|(_, probes)| !probes.contains(probe.name()))
        {
            return;
        }
        let kind = probe.kind();
        let name = probe.name();
        // New, or a probe that changed kind on reload: starts over.
        if state.probes.get(name).is_none_or(|p| p.kind != kind) {
            let fresh = ProbeState {
                kind,
                runs: [0; OUTCOMES.len()],
                last: result.clone(),
            };
            state.probes.insert(name.to_owned(), fresh);
        }
        if let Some(p) = state.probes.get_mut(name) {
            p.runs[outcome_index(result.outcome)] += 1;
            p.last = result.clone();
        }
    }

    /// A probe's last result (the UI shows its certificate and domain expiry).
    pub fn probe_last(&self, name: &str) -> Option<ProbeResult> {
        self.state().probes.get(name).map(|p| p.last.clone())
    }

    /// Counts a failure of the monitor itself, e.g. `webdriver`, `session`,
    /// `browser_crashed`, `artifacts`, `config_reload`, `probe`.
    pub fn record_monitor_error(&self, kind: &str) {
        count_monitor_error(&mut self.state().monitor_errors, kind);
    }

    /// Exports the history's counters (from 0).
    pub fn enable_history(&self) {
        let mut state = self.state();
        if state.history.is_none() {
            let reasons = HISTORY_ERROR_REASONS
                .iter()
                .map(|r| (r.to_string(), 0))
                .collect();
            state.history = Some((0, reasons));
        }
    }

    /// Counts history records written.
    pub fn record_history_writes(&self, n: u64) {
        if let Some((written, _)) = &mut self.state().history {
            *written += n;
        }
    }

    /// Counts `n` history records not written, by reason (see [`HISTORY_WRITE_ERRORS`]); each
    /// batch lost is a monitor error `history` too.
    pub fn record_history_errors(&self, reason: &str, n: u64) {
        let mut state = self.state();
        if let Some((_, errors)) = &mut state.history {
            *errors.entry(reason.to_string()).or_default() += n;
        }
        count_monitor_error(&mut state.monitor_errors, "history");
    }

    /// Sets the size of the artifacts directory (absent until first set).
    pub fn set_artifacts(&self, files: u64, bytes: u64) {
        self.state().artifacts = Some((files, bytes));
    }

    /// Sets the browser sessions running and waiting for a slot (0 and 0 until set).
    pub fn set_sessions(&self, active: usize, waiting: usize) {
        self.state().sessions = (active, waiting);
    }

    /// Sets the result of the last configuration reload, and when `ok` the time of the last
    /// successful load. Until the first call, as in Prometheus: 1, and the time the metrics
    /// were created (the initial load comes just before).
    pub fn set_reload_result(&self, ok: bool) {
        self.set_reload_result_at(ok, unix_now());
    }

    fn set_reload_result_at(&self, ok: bool, unix: f64) {
        let mut state = self.state();
        state.reload.ok = ok;
        if ok {
            state.reload.last_success = unix;
        }
    }

    /// Sets the configured journeys and probes (at start and on every reload). New journeys
    /// get their runs series (every outcome) and skipped series (every reason) at 0 before
    /// their first run; every series of a journey or probe no longer configured is forgotten.
    /// From the first call on, records for journeys and probes outside the configured set are
    /// ignored (a run still going when its journey was removed would otherwise bring its
    /// series back).
    pub fn set_configured(&self, journeys: &[&str], probes: &[&str]) {
        let journeys: BTreeSet<String> = journeys.iter().map(|j| j.to_string()).collect();
        let probes: BTreeSet<String> = probes.iter().map(|p| p.to_string()).collect();
        let mut state = self.state();
        let State {
            config,
            journeys: journey_states,
            probes: probe_states,
            ..
        } = &mut *state;
        journey_states.retain(|name, _| journeys.contains(name));
        for name in &journeys {
            if !journey_states.contains_key(name) {
                journey_states.insert(name.clone(), JourneyState::new(config));
            }
        }
        probe_states.retain(|name, _| probes.contains(name));
        state.configured = Some((journeys, probes));
    }

    /// Sets the configured alert sinks: each gets its notification counters (every result at
    /// 0) and queue length; sinks no longer configured are forgotten.
    pub fn set_sinks(&self, sinks: &[&str]) {
        let mut state = self.state();
        state
            .notifications
            .retain(|(sink, _), _| sinks.contains(&sink.as_str()));
        state
            .notification_queue
            .retain(|sink, _| sinks.contains(&sink.as_str()));
        for sink in sinks {
            for result in NotificationResult::ALL {
                state
                    .notifications
                    .entry((sink.to_string(), result))
                    .or_insert(0);
            }
            state
                .notification_queue
                .entry(sink.to_string())
                .or_insert(0);
        }
    }

    /// Counts a notification to `sink` (a configured one) by what became of it.
    pub fn record_notification(&self, sink: &str, result: NotificationResult) {
        if let Some(n) = self
            .state()
            .notifications
            .get_mut(&(sink.to_string(), result))
        {
            *n += 1;
        }
    }

    /// Sets how many notifications wait for `sink` (a configured one).
    pub fn set_notification_queue(&self, sink: &str, length: usize) {
        if let Some(n) = self.state().notification_queue.get_mut(sink) {
            *n = length;
        }
    }

    /// The (alertname, severity) pairs the alerting can raise: each is exported, at 0 while it
    /// does not fire. Given by the alerting, so metrics need not know its alerts.
    pub fn set_alert_kinds(&self, kinds: Vec<(&'static str, &'static str)>) {
        self.state().alert_kinds = kinds;
    }

    /// Sets the alerts firing now, by (alertname, severity); all others are 0.
    /// Alerts firing now, and of those the ones folded into a failing dependency.
    pub fn set_alerts_firing(
        &self,
        firing: BTreeMap<(String, String), usize>,
        folded: BTreeMap<(String, String), usize>,
    ) {
        let mut state = self.state();
        state.alerts_firing = firing;
        state.alerts_folded = folded;
    }

    /// The metrics in Prometheus text format 0.0.4 ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        self.render_at(Instant::now())
    }

    /// Renders with the windows as they are at `now`.
    #[doc(hidden)]
    pub fn render_at(&self, now: Instant) -> String {
        // Allocated before the lock is taken; the text is written under the lock (about as
        // long as building the encoder's families took, without the encoding after it).
        let last = self.last_render_len.load(Ordering::Relaxed);
        let mut out = String::with_capacity(last + last / 8);
        // Read before the lock: a few small files of /proc.
        let process = process::ProcessStats::read();
        render::write(
            &mut self.state(),
            process.as_ref(),
            self.location.as_deref(),
            now,
            &mut out,
        );
        self.last_render_len.store(out.len(), Ordering::Relaxed);
        out
    }
}

fn count_monitor_error(errors: &mut BTreeMap<String, u64>, kind: &str) {
    match errors.get_mut(kind) {
        Some(n) => *n += 1,
        None => {
            errors.insert(kind.to_owned(), 1);
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// When a run ended, Unix seconds: its `started_at` plus its duration, or now when
/// `started_at` does not parse.
fn run_end(report: &RunReport) -> f64 {
    match chrono::DateTime::parse_from_rfc3339(&report.started_at) {
        Ok(started) => {
            started.timestamp_millis() as f64 / 1000.0 + sane_seconds(report.duration_ms / 1000.0)
        }
        Err(_) => unix_now(),
    }
}
