//! The state as `prometheus::proto::MetricFamily`s, for `prometheus::TextEncoder`.

use super::series::{Buckets, QUANTILES};
use super::*;
use crate::probe::Phase;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType, Quantile,
    Summary,
};

/// Every family with at least one series, in a fixed order.
pub(super) fn families(
    state: &mut State,
    location: Option<&str>,
    now: Instant,
) -> Vec<MetricFamily> {
    let epoch = state.epoch(now);
    let mut out = Out {
        location,
        families: Vec::with_capacity(40),
    };
    journeys(&mut out, state, epoch);
    global(&mut out, state);
    probes(&mut out, state);
    out.families
}

/// The families being built, and the `location` label for each series.
struct Out<'a> {
    location: Option<&'a str>,
    families: Vec<MetricFamily>,
}

impl Out<'_> {
    /// The label pairs of a series: `pairs`, then `location` if any.
    fn labels(&self, pairs: &[(&str, &str)]) -> Vec<LabelPair> {
        let mut labels = Vec::with_capacity(pairs.len() + 1);
        for (name, value) in pairs {
            labels.push(label(name, value));
        }
        if let Some(location) = self.location {
            labels.push(label("location", location));
        }
        labels
    }

    /// Adds a family, unless it has no series (the encoder refuses those).
    fn family(&mut self, name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) {
        if metrics.is_empty() {
            return;
        }
        let mut family = MetricFamily::new();
        family.set_name(name.to_owned());
        family.set_help(help.to_owned());
        family.set_field_type(kind);
        family.set_metric(metrics);
        self.families.push(family);
    }

    fn gauges(&mut self, name: &str, help: &str, metrics: Vec<Metric>) {
        self.family(name, help, MetricType::GAUGE, metrics);
    }

    fn counters(&mut self, name: &str, help: &str, metrics: Vec<Metric>) {
        self.family(name, help, MetricType::COUNTER, metrics);
    }
}

fn label(name: &str, value: &str) -> LabelPair {
    let mut pair = LabelPair::new();
    pair.set_name(name.to_owned());
    pair.set_value(value.to_owned());
    pair
}

fn gauge(labels: Vec<LabelPair>, value: f64) -> Metric {
    let mut gauge = Gauge::new();
    gauge.set_value(value);
    let mut metric = Metric::from_label(labels);
    metric.set_gauge(gauge);
    metric
}

fn counter(labels: Vec<LabelPair>, value: u64) -> Metric {
    let mut counter = Counter::new();
    counter.set_value(value as f64);
    let mut metric = Metric::from_label(labels);
    metric.set_counter(counter);
    metric
}

fn histogram(labels: Vec<LabelPair>, bounds: &[f64], buckets: &Buckets) -> Metric {
    let mut histogram = Histogram::new();
    histogram.set_bucket(
        bounds
            .iter()
            .zip(buckets.cumulative())
            .map(|(bound, count)| {
                let mut bucket = Bucket::new();
                bucket.set_upper_bound(*bound);
                bucket.set_cumulative_count(count);
                bucket
            })
            .collect(),
    );
    histogram.set_sample_sum(buckets.sum());
    histogram.set_sample_count(buckets.count());
    let mut metric = Metric::from_label(labels);
    metric.set_histogram(histogram);
    metric
}

fn summary(
    labels: Vec<LabelPair>,
    quantiles: Option<[f64; QUANTILES.len()]>,
    buckets: &Buckets,
) -> Metric {
    let mut summary = Summary::new();
    if let Some(values) = quantiles {
        summary.set_quantile(
            QUANTILES
                .iter()
                .zip(values)
                .map(|(q, v)| {
                    let mut quantile = Quantile::new();
                    quantile.set_quantile(*q);
                    quantile.set_value(v);
                    quantile
                })
                .collect(),
        );
    }
    summary.set_sample_sum(buckets.sum());
    summary.set_sample_count(buckets.count());
    let mut metric = Metric::from_label(labels);
    metric.set_summary(summary);
    metric
}

fn bool_value(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

fn journeys(out: &mut Out, state: &mut State, epoch: u64) {
    let State {
        config, journeys, ..
    } = state;

    let mut runs = Vec::with_capacity(journeys.len() * OUTCOMES.len());
    for (name, j) in journeys.iter() {
        for (outcome, n) in OUTCOMES.iter().zip(j.runs) {
            runs.push(counter(
                out.labels(&[("journey", name), ("outcome", outcome.as_str())]),
                n,
            ));
        }
    }
    out.counters(
        JOURNEY_RUNS,
        "Finished journey runs by outcome (ok, degraded, flaky, failed, error).",
        runs,
    );

    let mut hist = Vec::with_capacity(journeys.len());
    let mut window = Vec::with_capacity(journeys.len());
    for (name, j) in journeys.iter_mut() {
        let labels = out.labels(&[("journey", name)]);
        hist.push(histogram(
            labels.clone(),
            &config.journey_buckets,
            &j.duration.buckets,
        ));
        window.push(summary(
            labels,
            j.duration.quantiles(epoch),
            &j.duration.buckets,
        ));
    }
    out.family(
        JOURNEY_DURATION,
        "Duration of passed journey runs (ok, degraded, flaky).",
        MetricType::HISTOGRAM,
        hist,
    );
    out.family(
        JOURNEY_DURATION_WINDOW,
        &format!(
            "Quantiles of passed journey runs' durations over the last {} (1 is the maximum); \
             _sum and _count over all time.",
            humantime::format_duration(config.window)
        ),
        MetricType::SUMMARY,
        window,
    );

    let steps: usize = journeys.values().map(|j| j.steps.len()).sum();
    let mut hist = Vec::with_capacity(steps);
    let mut window = Vec::with_capacity(steps);
    for (name, j) in journeys.iter_mut() {
        for (step, series) in j.steps.iter_mut() {
            let labels = out.labels(&[("journey", name), ("step", step)]);
            hist.push(histogram(
                labels.clone(),
                &config.step_buckets,
                &series.buckets,
            ));
            window.push(summary(labels, series.quantiles(epoch), &series.buckets));
        }
    }
    out.family(
        STEP_DURATION,
        "Duration of passed steps (ok or slow).",
        MetricType::HISTOGRAM,
        hist,
    );
    out.family(
        STEP_DURATION_WINDOW,
        &format!(
            "Quantiles of passed steps' durations over the last {} (1 is the maximum); \
             _sum and _count over all time.",
            humantime::format_duration(config.window)
        ),
        MetricType::SUMMARY,
        window,
    );

    let failures = journeys
        .iter()
        .flat_map(|(name, j)| {
            j.failures.iter().map(|((step, reason), n)| {
                counter(
                    out.labels(&[("journey", name), ("step", step), ("reason", reason)]),
                    *n,
                )
            })
        })
        .collect();
    out.counters(
        STEP_FAILURES,
        "Steps that failed or errored in the last attempt of a run, by reason class.",
        failures,
    );

    let gauges = |out: &Out, value: &dyn Fn(&JourneyState) -> Option<f64>| -> Vec<Metric> {
        journeys
            .iter()
            .filter_map(|(name, j)| Some(gauge(out.labels(&[("journey", name)]), value(j)?)))
            .collect()
    };
    let metrics = gauges(out, &|j| j.last_success);
    out.gauges(
        JOURNEY_LAST_SUCCESS,
        "Unix time the last passed run of the journey ended.",
        metrics,
    );
    let metrics = gauges(out, &|j| j.last_run.map(|r| bool_value(r.passed)));
    out.gauges(
        JOURNEY_LAST_RUN_PASSED,
        "1 if the last run of the journey passed (ok, degraded, flaky), else 0.",
        metrics,
    );
    let metrics = gauges(out, &|j| j.last_run.map(|r| r.at));
    out.gauges(
        JOURNEY_LAST_RUN,
        "Unix time the last run of the journey ended.",
        metrics,
    );
    let metrics = gauges(out, &|j| j.schedule_lag);
    out.gauges(
        SCHEDULE_LAG,
        "How late the last run of the journey started after it was due.",
        metrics,
    );

    let mut skipped = Vec::with_capacity(journeys.len() * SkipReason::ALL.len());
    for (name, j) in journeys.iter() {
        for reason in SkipReason::ALL {
            skipped.push(counter(
                out.labels(&[("journey", name), ("reason", reason.as_str())]),
                j.skipped[reason.index()],
            ));
        }
    }
    out.counters(
        SKIPPED_RUNS,
        "Due runs not started: overlap (the previous run still running), shutdown.",
        skipped,
    );

    let sessions = journeys
        .iter()
        .map(|(name, j)| {
            histogram(
                out.labels(&[("journey", name)]),
                &SESSION_START_BUCKETS,
                &j.session_start,
            )
        })
        .collect();
    out.family(
        SESSION_START,
        "Time to start the browser session of a run (driver included).",
        MetricType::HISTOGRAM,
        sessions,
    );
}

fn global(out: &mut Out, state: &State) {
    let errors = state
        .monitor_errors
        .iter()
        .map(|(kind, n)| counter(out.labels(&[("kind", kind)]), *n))
        .collect();
    out.counters(
        MONITOR_ERRORS,
        "Failures of the monitor itself (not of the shop), by kind.",
        errors,
    );

    if let Some((files, bytes)) = state.artifacts {
        let metric = gauge(out.labels(&[]), files as f64);
        out.gauges(
            ARTIFACTS_FILES,
            "Files in the artifacts directory.",
            vec![metric],
        );
        let metric = gauge(out.labels(&[]), bytes as f64);
        out.gauges(
            ARTIFACTS_BYTES,
            "Bytes in the artifacts directory.",
            vec![metric],
        );
    }

    let (active, waiting) = state.sessions;
    let sessions = vec![
        gauge(out.labels(&[("state", "active")]), active as f64),
        gauge(out.labels(&[("state", "waiting")]), waiting as f64),
    ];
    out.gauges(
        BROWSER_SESSIONS,
        "Browser sessions: active, and waiting for a free slot.",
        sessions,
    );

    let metric = gauge(out.labels(&[]), bool_value(state.reload.ok));
    out.gauges(
        CONFIG_RELOAD_SUCCESSFUL,
        "1 if the last configuration reload succeeded (or none happened yet), else 0.",
        vec![metric],
    );
    let metric = gauge(out.labels(&[]), state.reload.last_success);
    out.gauges(
        CONFIG_RELOAD_SUCCESS_TIMESTAMP,
        "Unix time of the last successful configuration load (at start or on reload).",
        vec![metric],
    );

    let notifications = state
        .notifications
        .iter()
        .map(|((sink, result), n)| {
            counter(
                out.labels(&[("sink", sink), ("result", result.as_str())]),
                *n,
            )
        })
        .collect::<Vec<_>>();
    if !notifications.is_empty() {
        out.counters(
            NOTIFICATIONS,
            "Alert notifications by sink and result: sent, failed (retried), rejected (not retried), dropped (queue full).",
            notifications,
        );
        let queue = state
            .notification_queue
            .iter()
            .map(|(sink, n)| gauge(out.labels(&[("sink", sink)]), *n as f64))
            .collect();
        out.gauges(
            NOTIFICATION_QUEUE,
            "Alert notifications waiting to be delivered, retries included.",
            queue,
        );
    }
    let firing: Vec<Metric> = crate::alert::AlertName::ALL
        .iter()
        .flat_map(|name| {
            name.severities()
                .iter()
                .map(move |severity| (name.as_str(), severity.as_str()))
        })
        .map(|(name, severity)| {
            let n = state
                .alerts_firing
                .get(&(name.to_string(), severity.to_string()))
                .copied()
                .unwrap_or(0);
            gauge(
                out.labels(&[("alertname", name), ("severity", severity)]),
                n as f64,
            )
        })
        .collect();
    out.gauges(
        ALERTS_FIRING,
        "Alerts firing now, by name and severity (also during maintenance windows).",
        firing,
    );

    let metric = gauge(out.labels(&[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    out.gauges(BUILD_INFO, "shopwatch's version; always 1.", vec![metric]);
}

/// `value` cut to at most `max` characters.
fn truncate(value: &str, max: usize) -> &str {
    match value.char_indices().nth(max) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}

fn probes(out: &mut Out, state: &State) {
    let probes = &state.probes;
    let per_probe = |out: &Out, value: &dyn Fn(&ProbeState) -> Option<f64>| -> Vec<Metric> {
        probes
            .iter()
            .filter_map(|(name, p)| Some(gauge(out.labels(&[("probe", name)]), value(p)?)))
            .collect()
    };
    let http = |p: &ProbeState| p.kind == "http";
    let secs = |d: Duration| d.as_secs_f64();

    let metrics = per_probe(out, &|p| Some(bool_value(p.last.success())));
    out.gauges(
        PROBE_SUCCESS,
        "1 if the last run of the probe passed (ok or degraded), else 0.",
        metrics,
    );
    let metrics = per_probe(out, &|p| Some(secs(p.last.duration)));
    out.gauges(
        PROBE_DURATION,
        "Wall time of the last run of the probe.",
        metrics,
    );
    let metrics = per_probe(out, &|p| p.last.metrics.phase(Phase::Resolve).map(secs));
    out.gauges(
        PROBE_DNS_LOOKUP,
        "Time to resolve the host name in the last run of the probe.",
        metrics,
    );
    let metrics = per_probe(out, &|p| {
        http(p).then(|| f64::from(p.last.metrics.http_status.unwrap_or(0)))
    });
    out.gauges(
        PROBE_HTTP_STATUS,
        "Status code of the final response of the last run; 0 without a response.",
        metrics,
    );

    let mut phases = Vec::new();
    for (name, p) in probes.iter().filter(|(_, p)| http(p)) {
        for phase in Phase::ALL {
            let value = p.last.metrics.phase(phase).map_or(0.0, secs);
            phases.push(gauge(
                out.labels(&[("probe", name), ("phase", phase.as_str())]),
                value,
            ));
        }
    }
    out.gauges(
        PROBE_HTTP_DURATION,
        "Time per phase of the last run, summed over redirects; 0 for a phase not started.",
        phases,
    );

    let metrics = per_probe(out, &|p| {
        http(p).then_some(f64::from(p.last.metrics.redirects))
    });
    out.gauges(
        PROBE_HTTP_REDIRECTS,
        "Redirects followed in the last run.",
        metrics,
    );
    let metrics = per_probe(out, &|p| {
        http(p).then(|| bool_value(p.last.metrics.tls.is_some()))
    });
    out.gauges(
        PROBE_HTTP_SSL,
        "1 if the final request of the last run used TLS, else 0.",
        metrics,
    );
    let metrics = per_probe(out, &|p| {
        http(p)
            .then_some(p.last.metrics.body_bytes)
            .flatten()
            .map(|b| b as f64)
    });
    out.gauges(
        PROBE_HTTP_BODY_LENGTH,
        "Bytes of the final response body of the last run.",
        metrics,
    );

    fn tls(p: &ProbeState) -> Option<&crate::probe::TlsInfo> {
        p.last.metrics.tls.as_ref()
    }
    let metrics = per_probe(out, &|p| tls(p).map(|t| t.earliest_expiry as f64));
    out.gauges(
        PROBE_SSL_EARLIEST_EXPIRY,
        "Earliest expiry of the certificates presented in the last run, Unix time.",
        metrics,
    );
    let metrics = per_probe(out, &|p| {
        tls(p).and_then(|t| t.last_chain_expiry).map(|t| t as f64)
    });
    out.gauges(
        PROBE_SSL_LAST_CHAIN_EXPIRY,
        "Earliest expiry on the verified certificate chain of the last run, Unix time.",
        metrics,
    );
    let versions = probes
        .iter()
        .filter_map(|(name, p)| {
            let t = tls(p)?;
            Some(gauge(
                out.labels(&[("probe", name), ("version", &t.version)]),
                1.0,
            ))
        })
        .collect();
    out.gauges(
        PROBE_TLS_VERSION,
        "The TLS version of the last run; always 1.",
        versions,
    );

    let mut runs = Vec::new();
    for (name, p) in probes {
        for (outcome, n) in OUTCOMES.iter().zip(p.runs) {
            // Probes are never flaky: that series only if it ever counted.
            if *outcome == Outcome::Flaky && n == 0 {
                continue;
            }
            runs.push(counter(
                out.labels(&[
                    ("probe", name),
                    ("kind", p.kind),
                    ("outcome", outcome.as_str()),
                ]),
                n,
            ));
        }
    }
    out.counters(
        PROBE_RUNS,
        "Finished probe runs by outcome (ok, degraded, failed, error).",
        runs,
    );
    let metrics = per_probe(out, &|p| tls(p).map(|t| bool_value(t.verified)));
    out.gauges(
        PROBE_TLS_CHAIN_VERIFIED,
        "1 if the certificate chain of the last run verified, else 0.",
        metrics,
    );

    let mut certs = Vec::new();
    for (name, p) in probes {
        let Some(t) = tls(p) else { continue };
        for (position, cert) in t.certs.iter().take(MAX_CERTS).enumerate() {
            certs.push(gauge(
                out.labels(&[
                    ("probe", name),
                    ("position", &position.to_string()),
                    ("subject", truncate(&cert.subject, MAX_CERT_LABEL_CHARS)),
                    ("issuer", truncate(&cert.issuer, MAX_CERT_LABEL_CHARS)),
                ]),
                cert.not_after as f64,
            ));
        }
    }
    out.gauges(
        PROBE_CERT_EXPIRY,
        "Expiry of each certificate presented in the last run (position 0: the leaf; at most \
         10, subject and issuer cut to 128 characters), Unix time.",
        certs,
    );
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("äöü", 2), "äö");
        assert_eq!(truncate("", 2), "");
    }
}
