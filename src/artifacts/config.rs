//! `artifacts:` in the monitor configuration: as written, and validated into
//! [`ArtifactsConfig`] (a directory that may be used, the age and size to keep).

use super::ArtifactsConfig;
use crate::yaml::check::Checker;
use crate::yaml::diagnostic::Diagnostic;
use crate::yaml::locate::{Location, LocationIndex};
use crate::yaml::scalars::opt_scalar_text;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

pub const DEFAULT_DIR: &str = "shopwatch-artifacts";
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DEFAULT_MAX_SIZE: u64 = 1024 * 1024 * 1024;
pub const SIZE_HINT: &str = "write a number of bytes with a unit, e.g. `500MB` or `1GiB`";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactsFile {
    pub dir: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub max_age: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub max_size: Option<String>,
}

/// Where a problem with the artifacts directory is shown: at `artifacts.dir`, else at the
/// `artifacts` key, else at the start of the file (the default directory).
pub fn artifacts_location(index: &LocationIndex) -> Location {
    if index.has("artifacts.dir") {
        index.find("artifacts.dir")
    } else if index.has("artifacts") {
        index.find_key("artifacts")
    } else {
        Location { line: 1, column: 1 }
    }
}

/// `artifacts:` validated; `dir` is the configuration's directory.
pub fn check(c: &mut Checker, dir: &Path, raw: Option<&ArtifactsFile>) -> ArtifactsConfig {
    let given = raw.and_then(|a| a.dir.as_deref());
    let max_age = raw
        .and_then(|a| c.opt_duration("artifacts.max_age", &a.max_age))
        .unwrap_or(DEFAULT_MAX_AGE);
    let max_size = match raw.and_then(|a| a.max_size.as_deref()) {
        Some(text) => parse_size(text).unwrap_or_else(|| {
            if is_zero_size(text) {
                c.error_hint(
                    "artifacts.max_size",
                    format!("`max_size: {text}` would keep no artifacts"),
                    "give the most the artifacts may take, e.g. `500MB` or `1GiB`",
                );
            } else {
                c.error_hint(
                    "artifacts.max_size",
                    format!("`{text}` is not a size"),
                    SIZE_HINT,
                );
            }
            DEFAULT_MAX_SIZE
        }),
        None => DEFAULT_MAX_SIZE,
    };
    let artifacts_dir = dir.join(given.unwrap_or(DEFAULT_DIR));
    if given.is_some_and(|d| d.trim().is_empty()) {
        c.error_hint(
            "artifacts.dir",
            "artifacts `dir` is empty",
            "give a directory, or leave `dir` out for `shopwatch-artifacts` beside the configuration",
        );
    } else if let Err(refusal) = super::root::check(&artifacts_dir, Some(c.file)) {
        let hint = match given {
            Some(_) => refusal.hint,
            None => format!(
                "without `artifacts.dir` it is `{DEFAULT_DIR}` beside the configuration; {}",
                refusal.hint
            ),
        };
        c.errors.push(
            Diagnostic::new(c.file, artifacts_location(c.index), refusal.message).with_hint(hint),
        );
    }
    ArtifactsConfig {
        dir: artifacts_dir,
        max_age,
        max_size,
    }
}

/// `0`, `0MB`, `0.5B`: a size in a known unit, but less than a byte.
fn is_zero_size(text: &str) -> bool {
    let text = text.trim();
    let split = text
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    match (number.parse::<f64>(), parse_size(&format!("1{unit}"))) {
        (Ok(number), Some(factor)) => number * (factor as f64) < 1.0,
        _ => false,
    }
}

/// `1048576`, `500MB`, `1.5GiB`, `10 kB` as bytes (SI and binary units).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0f64.powi(4),
        _ => return None,
    };
    let bytes = number * factor;
    (bytes.is_finite() && bytes >= 1.0).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Some(1048576));
        assert_eq!(parse_size("500MB"), Some(500_000_000));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("1.5 kib"), Some(1536));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("5 parsecs"), None);
        assert_eq!(parse_size("0"), None);
    }

    #[test]
    fn zero_sizes_are_told_from_nonsense() {
        assert!(is_zero_size("0"));
        assert!(is_zero_size("0 MB"));
        assert!(is_zero_size("0.5"));
        assert!(!is_zero_size("lots"));
        assert!(!is_zero_size("0 parsecs"));
    }
}
