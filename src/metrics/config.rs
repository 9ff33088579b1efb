//! `metrics:` in the monitor configuration: as written, and validated into [`MetricsConfig`].

use super::MetricsConfig;
use crate::yaml::check::Checker;
use crate::yaml::scalars::opt_scalar_text;
use serde::Deserialize;
use std::time::Duration;

/// The quantile window is cut into slices; shorter than this it would hold too few runs.
pub const MIN_WINDOW: Duration = Duration::from_secs(60);
pub const BUCKETS_HINT: &str =
    "upper bounds in seconds, in increasing order, e.g. `[0.5, 1, 2.5, 5, 10]`";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub window: Option<String>,
    pub step_buckets: Option<Vec<f64>>,
    pub journey_buckets: Option<Vec<f64>>,
}

/// `metrics:` validated: the defaults with what is given.
pub fn check(c: &mut Checker, raw: Option<&MetricsFile>) -> MetricsConfig {
    let mut metrics = MetricsConfig::default();
    let Some(raw) = raw else {
        return metrics;
    };
    if let Some(window) = c.opt_duration("metrics.window", &raw.window) {
        if window < MIN_WINDOW {
            c.error_hint(
                "metrics.window",
                format!(
                    "window {} is shorter than the 1m minimum",
                    humantime::format_duration(window)
                ),
                "the window should hold many runs: the default is 1h",
            );
        }
        metrics.window = window;
    }
    for (key, given, target) in [
        ("step_buckets", &raw.step_buckets, &mut metrics.step_buckets),
        (
            "journey_buckets",
            &raw.journey_buckets,
            &mut metrics.journey_buckets,
        ),
    ] {
        let Some(bounds) = given else { continue };
        let path = format!("metrics.{key}");
        if bounds.is_empty() {
            c.error_hint(
                &path,
                format!("`{key}` is empty"),
                "give upper bounds in seconds, e.g. `[0.5, 1, 2.5, 5, 10]`, or leave it out for the defaults",
            );
        } else if let Some(i) = bounds.iter().position(|b| !b.is_finite() || *b <= 0.0) {
            c.error_hint(
                &format!("{path}[{i}]"),
                format!(
                    "bucket bound {} in `{key}` must be a positive number of seconds",
                    bounds[i]
                ),
                BUCKETS_HINT,
            );
        } else if let Some(i) = bounds.windows(2).position(|w| w[0] >= w[1]) {
            c.error_hint(
                &format!("{path}[{}]", i + 1),
                format!(
                    "bucket bound {} in `{key}` is not more than the bound before it ({}): bounds must increase",
                    bounds[i + 1],
                    bounds[i]
                ),
                BUCKETS_HINT,
            );
        }
        *target = bounds.clone();
    }
    metrics
}
