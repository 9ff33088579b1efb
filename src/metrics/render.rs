//! The state as Prometheus text format 0.0.4, written straight into one `String`.
//!
//! The output is what `prometheus::TextEncoder` made of the same samples, byte for byte (the
//! first design built its `MetricFamily`s; building them and encoding them was 80% of a
//! scrape): per family `# HELP` and `# TYPE`, then one line per sample,
//! `name{label="value",...} value`, label values escaped (`\\`, `\"`, `\n`), numbers as Rust's
//! `Display` writes them (shortest exact form, never an exponent). Only non-finite values differ:
//! `+Inf`, `-Inf` and `NaN`, as the format wants (the encoder wrote `inf`; none is exported).
//! A family without samples is left out (no `# HELP` or `# TYPE` either).
//!
//! Each series' labels are escaped once into a scratch string and copied into each of its lines;
//! bucket bounds and quantiles are formatted once per scrape.

use super::process::ProcessStats;
use super::series::{Buckets, QUANTILES};
use super::*;
use crate::probe::Phase;
use std::fmt::Write as _;

const COUNTER: &str = "counter";
const GAUGE: &str = "gauge";
const HISTOGRAM: &str = "histogram";
const SUMMARY: &str = "summary";

/// Writes every family with at least one series into `out`, in a fixed order.
pub(super) fn write(
    state: &mut State,
    process_stats: Option<&ProcessStats>,
    location: Option<&str>,
    now: Instant,
    out: &mut String,
) {
    let epoch = state.epoch(now);
    let mut text = Text {
        out,
        location: location.map(|l| {
            let mut pair = String::new();
            push_pair(&mut pair, "location", l);
            pair
        }),
        labels: String::with_capacity(256),
        quantiles: QUANTILES.map(|q| {
            let mut pair = String::new();
            push_pair(&mut pair, "quantile", &q.to_string());
            pair
        }),
    };
    journeys(&mut text, state, epoch);
    global(&mut text, state);
    probes(&mut text, state);
    process(&mut text, process_stats);
}

/// The text being written.
struct Text<'a> {
    out: &'a mut String,
    /// `location="..."`, escaped, if there is a location.
    location: Option<String>,
    /// The labels of the current series, escaped and comma-separated, `location` last.
    labels: String,
    /// `quantile="0.5"` and so on, in the order of [`QUANTILES`].
    quantiles: [String; QUANTILES.len()],
}

/// A number as a sample value.
trait Value {
    fn write_to(self, out: &mut String);
}

impl Value for u64 {
    fn write_to(self, out: &mut String) {
        // The same digits as the `f64` the encoder took (exact below 2^53).
        let _ = write!(out, "{self}");
    }
}

impl Value for f64 {
    fn write_to(self, out: &mut String) {
        if self.is_finite() {
            let _ = write!(out, "{self}");
        } else if self.is_nan() {
            out.push_str("NaN");
        } else if self > 0.0 {
            out.push_str("+Inf");
        } else {
            out.push_str("-Inf");
        }
    }
}

/// Appends `value` escaped as a label value (`\`, `"` and newline).
fn push_escaped(out: &mut String, value: &str) {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends `name="value"`, the value escaped.
fn push_pair(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    push_escaped(out, value);
    out.push('"');
}

impl Text<'_> {
    /// A family: its header, then what `samples` writes; the header is taken back out when
    /// `samples` wrote nothing.
    fn family(&mut self, name: &str, help: &str, kind: &str, samples: impl FnOnce(&mut Self)) {
        let start = self.out.len();
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        // HELP escapes `\` and newline only.
        for c in help.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                c => self.out.push(c),
            }
        }
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind);
        self.out.push('\n');
        let header_end = self.out.len();
        samples(self);
        if self.out.len() == header_end {
            self.out.truncate(start);
        }
    }

    /// Starts a series: its labels are `pairs`, then `location` if any.
    fn series(&mut self, pairs: &[(&str, &str)]) {
        self.labels.clear();
        for (name, value) in pairs {
            if !self.labels.is_empty() {
                self.labels.push(',');
            }
            push_pair(&mut self.labels, name, value);
        }
        if let Some(location) = &self.location {
            if !self.labels.is_empty() {
                self.labels.push(',');
            }
            self.labels.push_str(location);
        }
    }

    /// One sample of the current series: `name` and `suffix`, its labels plus `extra` (an
    /// escaped `name="value"` or empty), the value.
    fn sample(&mut self, name: &str, suffix: &str, extra: &str, value: impl Value) {
        let out = &mut *self.out;
        out.push_str(name);
        out.push_str(suffix);
        match (self.labels.is_empty(), extra.is_empty()) {
            (true, true) => {}
            (false, true) => {
                out.push('{');
                out.push_str(&self.labels);
                out.push('}');
            }
            (true, false) => {
                out.push('{');
                out.push_str(extra);
                out.push('}');
            }
            (false, false) => {
                out.push('{');
                out.push_str(&self.labels);
                out.push(',');
                out.push_str(extra);
                out.push('}');
            }
        }
        out.push(' ');
        value.write_to(out);
        out.push('\n');
    }

    /// A series with one sample.
    fn line(&mut self, name: &str, pairs: &[(&str, &str)], value: impl Value) {
        self.series(pairs);
        self.sample(name, "", "", value);
    }

    /// The samples of a histogram series: buckets (`le` labels already formatted), `_sum`,
    /// `_count`.
    fn histogram(&mut self, name: &str, le: &[String], buckets: &Buckets) {
        for (le, count) in le.iter().zip(buckets.cumulative()) {
            self.sample(name, "_bucket", le, count);
        }
        self.sample(name, "_bucket", "le=\"+Inf\"", buckets.count());
        self.sample(name, "_sum", "", buckets.sum());
        self.sample(name, "_count", "", buckets.count());
    }

    /// The samples of a summary series: the quantiles (none when the window is empty), `_sum`,
    /// `_count`.
    fn summary(
        &mut self,
        name: &str,
        quantiles: Option<[f64; QUANTILES.len()]>,
        buckets: &Buckets,
    ) {
        if let Some(values) = quantiles {
            for (i, value) in values.into_iter().enumerate() {
                let out = &mut *self.out;
                out.push_str(name);
                out.push('{');
                if !self.labels.is_empty() {
                    out.push_str(&self.labels);
                    out.push(',');
                }
                out.push_str(&self.quantiles[i]);
                out.push_str("} ");
                value.write_to(out);
                out.push('\n');
            }
        }
        self.sample(name, "_sum", "", buckets.sum());
        self.sample(name, "_count", "", buckets.count());
    }
}

/// `le="..."` for each bound.
fn le_labels(bounds: &[f64]) -> Vec<String> {
    bounds
        .iter()
        .map(|b| {
            let mut pair = String::new();
            push_pair(&mut pair, "le", &b.to_string());
            pair
        })
        .collect()
}

fn bool_value(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// A journey's value of a gauge `{journey}`, if it has one.
type JourneyGauge = fn(&JourneyState) -> Option<f64>;

fn journeys(t: &mut Text, state: &mut State, epoch: u64) {
    let State {
        config, journeys, ..
    } = state;

    t.family(
        JOURNEY_RUNS,
        "Finished journey runs by outcome (ok, degraded, flaky, failed, error).",
        COUNTER,
        |t| {
            for (name, j) in journeys.iter() {
                for (outcome, n) in OUTCOMES.iter().zip(j.runs) {
                    t.line(
                        JOURNEY_RUNS,
                        &[("journey", name), ("outcome", outcome.as_str())],
                        n,
                    );
                }
            }
        },
    );

    let journey_le = le_labels(&config.journey_buckets);
    t.family(
        JOURNEY_DURATION,
        "Duration of passed journey runs (ok, degraded, flaky).",
        HISTOGRAM,
        |t| {
            for (name, j) in journeys.iter() {
                t.series(&[("journey", name)]);
                t.histogram(JOURNEY_DURATION, &journey_le, &j.duration.buckets);
            }
        },
    );
    let window = humantime::format_duration(config.window);
    t.family(
        JOURNEY_DURATION_WINDOW,
        &format!(
            "Quantiles of passed journey runs' durations over the last {window} (1 is the \
             maximum); _sum and _count over all time."
        ),
        SUMMARY,
        |t| {
            for (name, j) in journeys.iter_mut() {
                t.series(&[("journey", name)]);
                let quantiles = j.duration.quantiles(epoch);
                t.summary(JOURNEY_DURATION_WINDOW, quantiles, &j.duration.buckets);
            }
        },
    );

    let step_le = le_labels(&config.step_buckets);
    t.family(
        STEP_DURATION,
        "Duration of passed steps (ok or slow).",
        HISTOGRAM,
        |t| {
            for (name, j) in journeys.iter() {
                for (step, series) in &j.steps {
                    t.series(&[("journey", name), ("step", step)]);
                    t.histogram(STEP_DURATION, &step_le, &series.buckets);
                }
            }
        },
    );
    t.family(
        STEP_DURATION_WINDOW,
        &format!(
            "Quantiles of passed steps' durations over the last {window} (1 is the maximum); \
             _sum and _count over all time."
        ),
        SUMMARY,
        |t| {
            for (name, j) in journeys.iter_mut() {
                for (step, series) in j.steps.iter_mut() {
                    t.series(&[("journey", name), ("step", step)]);
                    let quantiles = series.quantiles(epoch);
                    t.summary(STEP_DURATION_WINDOW, quantiles, &series.buckets);
                }
            }
        },
    );

    for (family, help, counts) in [
        (
            STEP_FAILURES,
            "Steps that failed or errored in the last attempt of a run, by reason class.",
            (|j| &j.failures) as fn(&JourneyState) -> &BTreeMap<(String, &'static str), u64>,
        ),
        (
            ATTEMPT_FAILURES,
            "Steps that failed or errored in an earlier attempt of a retried run, by reason class.",
            |j| &j.attempt_failures,
        ),
    ] {
        t.family(family, help, COUNTER, |t| {
            for (name, j) in journeys.iter() {
                for ((step, reason), n) in counts(j) {
                    t.line(
                        family,
                        &[("journey", name), ("step", step), ("reason", reason)],
                        *n,
                    );
                }
            }
        });
    }

    let gauges: [(&str, &str, JourneyGauge); 4] = [
        (
            JOURNEY_LAST_SUCCESS,
            "Unix time the last passed run of the journey ended.",
            |j| j.last_success,
        ),
        (
            JOURNEY_LAST_RUN_PASSED,
            "1 if the last run of the journey passed (ok, degraded, flaky), else 0.",
            |j| j.last_run.map(|r| bool_value(r.passed)),
        ),
        (
            JOURNEY_LAST_RUN,
            "Unix time the last run of the journey ended.",
            |j| j.last_run.map(|r| r.at),
        ),
        (
            SCHEDULE_LAG,
            "How late the last run of the journey started after it was due.",
            |j| j.schedule_lag,
        ),
    ];
    for (family, help, value) in gauges {
        t.family(family, help, GAUGE, |t| {
            for (name, j) in journeys.iter() {
                if let Some(v) = value(j) {
                    t.line(family, &[("journey", name)], v);
                }
            }
        });
    }

    for (family, help, value) in [
        (
            STEP_NORMAL,
            "The step's normal time from the history (slower_than_normal).",
            (|n| n.0) as fn(&(f64, bool)) -> f64,
        ),
        (
            STEP_SLOWER_THAN_NORMAL,
            "1 if the step's recent times are over factor x its normal, else 0.",
            |n| bool_value(n.1),
        ),
    ] {
        t.family(family, help, GAUGE, |t| {
            for (name, j) in journeys.iter() {
                for (step, normal) in &j.normals {
                    t.line(family, &[("journey", name), ("step", step)], value(normal));
                }
            }
        });
    }

    t.family(
        JOURNEY_VALUE,
        "The last number a step published with `metric:` (its name is the name label).",
        GAUGE,
        |t| {
            for (name, j) in journeys.iter() {
                for ((step, metric), value) in &j.values {
                    t.line(
                        JOURNEY_VALUE,
                        &[("journey", name), ("step", step), ("name", metric)],
                        *value,
                    );
                }
            }
        },
    );

    t.family(
        SKIPPED_RUNS,
        "Due runs not started: overlap (the previous run still running), shutdown.",
        COUNTER,
        |t| {
            for (name, j) in journeys.iter() {
                for reason in SkipReason::ALL {
                    t.line(
                        SKIPPED_RUNS,
                        &[("journey", name), ("reason", reason.as_str())],
                        j.skipped[reason.index()],
                    );
                }
            }
        },
    );

    let session_le = le_labels(&SESSION_START_BUCKETS);
    t.family(
        SESSION_START,
        "Time to start the browser session of a run (driver included).",
        HISTOGRAM,
        |t| {
            for (name, j) in journeys.iter() {
                t.series(&[("journey", name)]);
                t.histogram(SESSION_START, &session_le, &j.session_start);
            }
        },
    );
}

fn global(t: &mut Text, state: &State) {
    t.family(
        MONITOR_ERRORS,
        "Failures of the monitor itself (not of the shop), by kind.",
        COUNTER,
        |t| {
            for (kind, n) in &state.monitor_errors {
                t.line(MONITOR_ERRORS, &[("kind", kind)], *n);
            }
        },
    );

    if let Some((written, errors)) = &state.history {
        t.family(
            HISTORY_WRITES,
            "History records (runs, probe results, notifications) written.",
            COUNTER,
            |t| t.line(HISTORY_WRITES, &[], *written),
        );
        t.family(
            HISTORY_WRITE_ERRORS,
            "History records not written, by reason; runs, metrics and alerts go on.",
            COUNTER,
            |t| {
                for (reason, n) in errors {
                    t.line(HISTORY_WRITE_ERRORS, &[("reason", reason)], *n);
                }
            },
        );
    }

    if let Some((files, bytes)) = state.artifacts {
        t.family(
            ARTIFACTS_FILES,
            "Files in the artifacts directory.",
            GAUGE,
            |t| t.line(ARTIFACTS_FILES, &[], files as f64),
        );
        t.family(
            ARTIFACTS_BYTES,
            "Bytes in the artifacts directory.",
            GAUGE,
            |t| t.line(ARTIFACTS_BYTES, &[], bytes as f64),
        );
    }

    let (active, waiting) = state.sessions;
    t.family(
        BROWSER_SESSIONS,
        "Browser sessions: active, and waiting for a free slot.",
        GAUGE,
        |t| {
            t.line(BROWSER_SESSIONS, &[("state", "active")], active as f64);
            t.line(BROWSER_SESSIONS, &[("state", "waiting")], waiting as f64);
        },
    );

    t.family(
        CONFIG_RELOAD_SUCCESSFUL,
        "1 if the last configuration reload succeeded (or none happened yet), else 0.",
        GAUGE,
        |t| t.line(CONFIG_RELOAD_SUCCESSFUL, &[], bool_value(state.reload.ok)),
    );
    t.family(
        CONFIG_RELOAD_SUCCESS_TIMESTAMP,
        "Unix time of the last successful configuration load (at start or on reload).",
        GAUGE,
        |t| {
            t.line(
                CONFIG_RELOAD_SUCCESS_TIMESTAMP,
                &[],
                state.reload.last_success,
            )
        },
    );

    if !state.notifications.is_empty() {
        t.family(
            NOTIFICATIONS,
            "Alert notifications by sink and result: sent, failed (retried), rejected (not retried), dropped (queue full).",
            COUNTER,
            |t| {
                for ((sink, result), n) in &state.notifications {
                    t.line(
                        NOTIFICATIONS,
                        &[("sink", sink), ("result", result.as_str())],
                        *n,
                    );
                }
            },
        );
        t.family(
            NOTIFICATION_QUEUE,
            "Alert notifications waiting to be delivered, retries included.",
            GAUGE,
            |t| {
                for (sink, n) in &state.notification_queue {
                    t.line(NOTIFICATION_QUEUE, &[("sink", sink)], *n as f64);
                }
            },
        );
    }

    for (family, help, counts) in [
        (
            ALERTS_FIRING,
            "Alerts firing now, by name and severity (also during maintenance windows).",
            &state.alerts_firing,
        ),
        (
            ALERTS_FOLDED,
            "Alerts firing now whose notifications are folded into a failing dependency (depends_on).",
            &state.alerts_folded,
        ),
    ] {
        t.family(family, help, GAUGE, |t| {
            for &(name, severity) in &state.alert_kinds {
                let n = counts
                    .iter()
                    .find(|((a, s), _)| a == name && s == severity)
                    .map_or(0, |(_, n)| *n);
                t.line(
                    family,
                    &[("alertname", name), ("severity", severity)],
                    n as f64,
                );
            }
        });
    }

    t.family(
        BUILD_INFO,
        "shopwatch's version, git revision, compiler and target; always 1.",
        GAUGE,
        |t| t.line(BUILD_INFO, &BUILD_LABELS, 1.0),
    );
}

/// The labels of [`BUILD_INFO`], fixed when shopwatch was built (`build.rs`).
const BUILD_LABELS: [(&str, &str); 4] = [
    ("version", env!("CARGO_PKG_VERSION")),
    ("revision", env!("SHOPWATCH_REVISION")),
    ("rustc", env!("SHOPWATCH_RUSTC_VERSION")),
    ("target", env!("SHOPWATCH_TARGET")),
];

/// Prometheus' standard `process_*` families, when `/proc/self` could be read.
fn process(t: &mut Text, stats: Option<&ProcessStats>) {
    let Some(p) = stats else { return };
    t.family(
        PROCESS_CPU,
        "Total user and system CPU time spent in seconds.",
        COUNTER,
        |t| t.line(PROCESS_CPU, &[], p.cpu_seconds),
    );
    t.family(
        PROCESS_RESIDENT_MEMORY,
        "Resident memory size in bytes.",
        GAUGE,
        |t| t.line(PROCESS_RESIDENT_MEMORY, &[], p.resident_memory_bytes),
    );
    t.family(
        PROCESS_VIRTUAL_MEMORY,
        "Virtual memory size in bytes.",
        GAUGE,
        |t| t.line(PROCESS_VIRTUAL_MEMORY, &[], p.virtual_memory_bytes),
    );
    t.family(
        PROCESS_OPEN_FDS,
        "Number of open file descriptors.",
        GAUGE,
        |t| t.line(PROCESS_OPEN_FDS, &[], p.open_fds),
    );
    t.family(
        PROCESS_MAX_FDS,
        "Maximum number of open file descriptors (the soft limit; absent when unlimited).",
        GAUGE,
        |t| {
            if let Some(max) = p.max_fds {
                t.line(PROCESS_MAX_FDS, &[], max);
            }
        },
    );
    t.family(
        PROCESS_START_TIME,
        "Start time of the process since unix epoch in seconds.",
        GAUGE,
        |t| t.line(PROCESS_START_TIME, &[], p.start_time_seconds),
    );
}

/// `value` cut to at most `max` characters.
fn truncate(value: &str, max: usize) -> &str {
    match value.char_indices().nth(max) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}

fn tls(p: &ProbeState) -> Option<&crate::probe::TlsInfo> {
    p.last.metrics.tls.as_ref()
}

fn dns(p: &ProbeState) -> Option<&crate::probe::DnsInfo> {
    p.last.metrics.dns.as_ref()
}

/// The dns probe's answer, when a server answered.
fn answered(p: &ProbeState) -> Option<&crate::probe::DnsInfo> {
    dns(p).filter(|d| d.query_succeeded)
}

/// A gauge `{probe}` of every probe `value` has a value for.
fn per_probe(
    t: &mut Text,
    probes: &BTreeMap<String, ProbeState>,
    family: &str,
    help: &str,
    value: impl Fn(&ProbeState) -> Option<f64>,
) {
    t.family(family, help, GAUGE, |t| {
        for (name, p) in probes {
            if let Some(v) = value(p) {
                t.line(family, &[("probe", name)], v);
            }
        }
    });
}

fn probes(t: &mut Text, state: &State) {
    let probes = &state.probes;
    let http = |p: &ProbeState| p.kind == "http";
    let secs = |d: Duration| d.as_secs_f64();
    per_probe(
        t,
        probes,
        PROBE_SUCCESS,
        "1 if the last run of the probe passed (ok or degraded), else 0.",
        |p| Some(bool_value(p.last.success())),
    );
    per_probe(
        t,
        probes,
        PROBE_DURATION,
        "Wall time of the last run of the probe.",
        |p| Some(secs(p.last.duration)),
    );
    per_probe(
        t,
        probes,
        PROBE_DNS_LOOKUP,
        "Time to resolve the host name in the last run of the probe.",
        |p| p.last.metrics.phase(Phase::Resolve).map(secs),
    );
    per_probe(
        t,
        probes,
        PROBE_HTTP_STATUS,
        "Status code of the final response of the last run; 0 without a response.",
        |p| http(p).then(|| f64::from(p.last.metrics.http_status.unwrap_or(0))),
    );

    t.family(
        PROBE_HTTP_DURATION,
        "Time per phase of the last run, summed over redirects; 0 for a phase not started.",
        GAUGE,
        |t| {
            for (name, p) in probes.iter().filter(|(_, p)| http(p)) {
                for phase in Phase::ALL {
                    let value = p.last.metrics.phase(phase).map_or(0.0, secs);
                    t.line(
                        PROBE_HTTP_DURATION,
                        &[("probe", name), ("phase", phase.as_str())],
                        value,
                    );
                }
            }
        },
    );

    per_probe(
        t,
        probes,
        PROBE_HTTP_REDIRECTS,
        "Redirects followed in the last run.",
        |p| http(p).then_some(f64::from(p.last.metrics.redirects)),
    );
    per_probe(
        t,
        probes,
        PROBE_HTTP_SSL,
        "1 if the final request of the last run used TLS, else 0.",
        |p| http(p).then(|| bool_value(p.last.metrics.tls.is_some())),
    );
    per_probe(
        t,
        probes,
        PROBE_HTTP_BODY_LENGTH,
        "Bytes of the final response body of the last run.",
        |p| {
            http(p)
                .then_some(p.last.metrics.body_bytes)
                .flatten()
                .map(|b| b as f64)
        },
    );
    per_probe(
        t,
        probes,
        PROBE_SSL_EARLIEST_EXPIRY,
        "Earliest expiry of the certificates presented in the last run, Unix time.",
        |p| tls(p).map(|t| t.earliest_expiry as f64),
    );
    per_probe(
        t,
        probes,
        PROBE_SSL_LAST_CHAIN_EXPIRY,
        "Earliest expiry on the verified certificate chain of the last run, Unix time.",
        |p| tls(p).and_then(|t| t.last_chain_expiry).map(|t| t as f64),
    );
    t.family(
        PROBE_TLS_VERSION,
        "The TLS version of the last run; always 1.",
        GAUGE,
        |t| {
            for (name, p) in probes {
                if let Some(info) = tls(p) {
                    t.line(
                        PROBE_TLS_VERSION,
                        &[("probe", name), ("version", &info.version)],
                        1.0,
                    );
                }
            }
        },
    );

    per_probe(
        t,
        probes,
        PROBE_DNS_QUERY_SUCCEEDED,
        "1 if a server answered the query of the last run, else 0.",
        |p| dns(p).map(|d| bool_value(d.query_succeeded)),
    );
    per_probe(
        t,
        probes,
        PROBE_DNS_ANSWER_RRS,
        "Records in the answer section of the last answer.",
        |p| answered(p).map(|d| f64::from(d.answer_rrs)),
    );
    per_probe(
        t,
        probes,
        PROBE_DNS_AUTHORITY_RRS,
        "Records in the authority section of the last answer.",
        |p| answered(p).map(|d| f64::from(d.authority_rrs)),
    );
    per_probe(
        t,
        probes,
        PROBE_DNS_ADDITIONAL_RRS,
        "Records in the additional section of the last answer.",
        |p| answered(p).map(|d| f64::from(d.additional_rrs)),
    );
    per_probe(
        t,
        probes,
        PROBE_DNS_SERIAL,
        "The SOA serial in the last answer (delegation: the newest of the zone's servers).",
        |p| {
            let delegated = p.last.metrics.delegation.as_ref().and_then(|d| d.serial);
            dns(p).and_then(|d| d.serial).or(delegated).map(f64::from)
        },
    );
    let delegation = |p: &ProbeState| p.last.metrics.delegation.clone();
    per_probe(
        t,
        probes,
        PROBE_DNS_DELEGATED_SERVERS,
        "Delegated server addresses of the zone asked in the last run.",
        |p| delegation(p).map(|d| f64::from(d.servers)),
    );
    per_probe(
        t,
        probes,
        PROBE_DNS_FAILING_SERVERS,
        "Delegated servers that were lame, unreachable, disagreeing or behind on the serial.",
        |p| delegation(p).map(|d| f64::from(d.failing)),
    );
    t.family(
        PROBE_DNS_RCODE,
        "The response code of the last answer; always 1.",
        GAUGE,
        |t| {
            for (name, p) in probes {
                if let Some(d) = answered(p) {
                    t.line(
                        PROBE_DNS_RCODE,
                        &[("probe", name), ("rcode", &d.rcode)],
                        1.0,
                    );
                }
            }
        },
    );

    per_probe(
        t,
        probes,
        PROBE_DOMAIN_EXPIRY,
        "When the domain's registration expires, as its registry said in the last run, Unix time.",
        |p| {
            p.last
                .metrics
                .domain
                .as_ref()
                .and_then(|d| d.expiry)
                .map(|e| e as f64)
        },
    );
    per_probe(
        t,
        probes,
        PROBE_SMTP_DELIVERY,
        "Seconds from the server accepting the delivery check's message to it showing up in the mailbox, in the last run.",
        |p| p.last.metrics.delivery.map(|d| d.as_secs_f64()),
    );
    let feed = |p: &ProbeState| p.last.metrics.feed.clone();
    per_probe(
        t,
        probes,
        PROBE_FEED_ITEMS,
        "Items (or sitemap URLs) in the feed in the last run.",
        |p| feed(p).map(|f| f.items as f64),
    );
    per_probe(
        t,
        probes,
        PROBE_FEED_INVALID,
        "Feed items missing a required field or with a malformed one, in the last run.",
        |p| feed(p).map(|f| f.invalid as f64),
    );
    per_probe(
        t,
        probes,
        PROBE_FEED_LAST_MODIFIED,
        "When the feed last changed (newest lastmod, its own date or Last-Modified), Unix time.",
        |p| feed(p).and_then(|f| f.last_modified).map(|t| t as f64),
    );
    per_probe(
        t,
        probes,
        PROBE_FEED_SAMPLE_FAILURES,
        "Sampled links of the feed that did not answer 200 in the last run.",
        |p| feed(p).map(|f| f.sample_failures as f64),
    );
    per_probe(
        t,
        probes,
        PROBE_FEED_PRICE_MISMATCHES,
        "Sampled product pages of the feed that do not show the item's price, in the last run.",
        |p| feed(p).and_then(|f| f.price_mismatches).map(|n| n as f64),
    );
    let catalog = |p: &ProbeState| p.last.metrics.catalog.clone();
    per_probe(
        t,
        probes,
        PROBE_CATALOG_SOURCE_ITEMS,
        "SKUs in the catalog probe's source (the ERP export) in the last run.",
        |p| catalog(p).map(|c| c.source_items as f64),
    );
    per_probe(
        t,
        probes,
        PROBE_CATALOG_COMPARED,
        "SKUs compared with the shop in the last run.",
        |p| catalog(p).map(|c| c.compared as f64),
    );
    per_probe(
        t,
        probes,
        PROBE_CATALOG_PRICE_MISMATCHES,
        "Compared SKUs whose shop price is outside the tolerance of the source's, in the last run.",
        |p| catalog(p).map(|c| c.price_mismatches as f64),
    );
    per_probe(
        t,
        probes,
        PROBE_CATALOG_STOCK_MISMATCHES,
        "Compared SKUs whose shop stock disagrees with the source's, in the last run.",
        |p| catalog(p).map(|c| c.stock_mismatches as f64),
    );
    per_probe(
        t,
        probes,
        PROBE_CATALOG_MISSING,
        "Compared SKUs the shop does not have, in the last run.",
        |p| catalog(p).map(|c| c.missing as f64),
    );
    per_probe(
        t,
        probes,
        PROBE_CATALOG_SOURCE_AGE,
        "Seconds since the catalog probe's source was exported, in the last run.",
        |p| catalog(p).and_then(|c| c.source_age.map(|a| a as f64)),
    );
    let heartbeat = |p: &ProbeState| p.last.metrics.heartbeat.clone();
    per_probe(
        t,
        probes,
        HEARTBEAT_LAST_PING,
        "The heartbeat's last successful ping, Unix time.",
        |p| heartbeat(p).and_then(|h| h.last_ok).map(|t| t as f64),
    );
    per_probe(
        t,
        probes,
        HEARTBEAT_COUNT,
        "The count the heartbeat's last ping with one gave (?count=N).",
        |p| heartbeat(p).and_then(|h| h.count),
    );
    per_probe(
        t,
        probes,
        HEARTBEAT_REJECTED,
        "Pings of the heartbeat refused since the start (wrong or missing token).",
        |p| heartbeat(p).map(|h| h.rejected as f64),
    );
    let metric = |p: &ProbeState| p.last.metrics.metric.clone();
    per_probe(
        t,
        probes,
        PROBE_METRIC_VALUE,
        "The number the metric probe read in its last run.",
        |p| metric(p).and_then(|m| m.value),
    );
    per_probe(
        t,
        probes,
        PROBE_METRIC_NORMAL,
        "The metric probe's number's normal from the history, at its last run.",
        |p| metric(p).and_then(|m| m.normal),
    );
    t.family(
        PROBE_DNSBL_LISTED,
        "1 if the address is listed on the blacklist zone in the last run, 0 if not.",
        GAUGE,
        |t| {
            for (name, p) in probes {
                for lookup in &p.last.metrics.dnsbl {
                    let Some(listed) = lookup.listed else {
                        continue;
                    };
                    let ip = lookup.ip.to_string();
                    t.line(
                        PROBE_DNSBL_LISTED,
                        &[("probe", name), ("ip", &ip), ("zone", &lookup.zone)],
                        bool_value(listed),
                    );
                }
            }
        },
    );

    t.family(
        PROBE_RUNS,
        "Finished probe runs by outcome (ok, degraded, failed, error).",
        COUNTER,
        |t| {
            for (name, p) in probes {
                for (outcome, n) in OUTCOMES.iter().zip(p.runs) {
                    // Probes are never flaky: that series only if it ever counted.
                    if *outcome == Outcome::Flaky && n == 0 {
                        continue;
                    }
                    t.line(
                        PROBE_RUNS,
                        &[
                            ("probe", name),
                            ("kind", p.kind),
                            ("outcome", outcome.as_str()),
                        ],
                        n,
                    );
                }
            }
        },
    );
    per_probe(
        t,
        probes,
        PROBE_TLS_CHAIN_VERIFIED,
        "1 if the certificate chain of the last run verified, else 0.",
        |p| tls(p).map(|t| bool_value(t.verified)),
    );

    t.family(
        PROBE_CERT_EXPIRY,
        "Expiry of each certificate presented in the last run (position 0: the leaf; at most \
         10, subject and issuer cut to 128 characters), Unix time.",
        GAUGE,
        |t| {
            for (name, p) in probes {
                let Some(info) = tls(p) else { continue };
                for (position, cert) in info.certs.iter().take(MAX_CERTS).enumerate() {
                    t.line(
                        PROBE_CERT_EXPIRY,
                        &[
                            ("probe", name),
                            ("position", &position.to_string()),
                            ("subject", truncate(&cert.subject, MAX_CERT_LABEL_CHARS)),
                            ("issuer", truncate(&cert.issuer, MAX_CERT_LABEL_CHARS)),
                        ],
                        cert.not_after as f64,
                    );
                }
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("äöü", 2), "äö");
        assert_eq!(truncate("", 2), "");
    }

    #[test]
    fn escapes_label_values_and_writes_numbers_as_the_format_wants() {
        let mut out = String::new();
        push_pair(&mut out, "subject", "CN=\"a\\b\"\nä");
        assert_eq!(out, r#"subject="CN=\"a\\b\"\nä""#);
        let written = |v: f64| {
            let mut out = String::new();
            v.write_to(&mut out);
            out
        };
        assert_eq!(written(1.0), "1");
        assert_eq!(written(0.1), "0.1");
        assert_eq!(written(1e-7), "0.0000001");
        assert_eq!(written(1_740_000_000.25), "1740000000.25");
        assert_eq!(written(f64::INFINITY), "+Inf");
        assert_eq!(written(f64::NEG_INFINITY), "-Inf");
        assert_eq!(written(f64::NAN), "NaN");
    }
}
