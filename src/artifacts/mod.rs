//! The artifacts directory: failed steps' screenshots, pages and console logs, laid out as
//! `<dir>/<journey>/<run id>/attempt-<n>/<step>.png`, served under `/artifacts/` and kept
//! within `max_age` and `max_size`.
//!
//! shopwatch deletes old runs there, so it only ever deletes what it can tell it wrote itself:
//! - the directory carries [`ROOT_MARKER`], written when shopwatch first takes it: a directory
//!   that is new, empty, or holds nothing but runs of a shopwatch from before markers
//!   (`<journey>/<run id>/attempt-<n>/` files, which are adopted); any other directory is
//!   refused, as are `/`, system directories and the user's home ([`root`]);
//! - each run directory carries [`RUN_MARKER`], written when the runner creates it
//!   ([`mod@write`]); retention deletes run directories with that marker and nothing else
//!   ([`retention`]).
//!
//! Names that come from the configuration (journeys, steps) become path components through
//! [`safe_name`], so that none is `.`, `..`, hidden, or holds a separator; `/artifacts/` serves
//! regular files under the directory only, never through a link ([`serve`]).

pub mod config;
pub mod retention;
pub mod root;
pub mod serve;
pub mod write;

use std::path::PathBuf;
use std::time::Duration;

/// In the artifacts directory itself: shopwatch owns this directory.
pub const ROOT_MARKER: &str = ".shopwatch-artifacts";
/// In each run directory (`<dir>/<journey>/<run id>/`): shopwatch wrote this run.
pub const RUN_MARKER: &str = ".shopwatch-run";
/// A path component is at most this long.
const MAX_NAME: usize = 64;

/// Where failed steps' screenshots go, and how much of them is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactsConfig {
    pub dir: PathBuf,
    /// Runs older than this are deleted.
    pub max_age: Duration,
    /// Beyond this many bytes, the oldest runs are deleted.
    pub max_size: u64,
}

/// `name` as one path component: letters, digits, `.`, `_` and `-` stay, anything else
/// becomes `_`, as does a leading `.` (so it is never `.`, `..` or hidden); empty is `_`; at
/// most 64 characters. Journey and step names are mostly that already, and then unchanged.
pub fn safe_name(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-') {
                ch
            } else {
                '_'
            }
        })
        .take(MAX_NAME)
        .collect();
    if safe.starts_with('.') {
        safe.replace_range(..1, "_");
    }
    if safe.is_empty() {
        safe.push('_');
    }
    safe
}

/// A run's id (its directory's name): when it started, to the second, and a few bits of the
/// nanoseconds so that two runs in one second differ: `20261121T063445-25a4`.
pub fn run_id(now: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{}-{:04x}",
        now.format("%Y%m%dT%H%M%S"),
        now.timestamp_subsec_nanos() % 0x10000
    )
}

/// Whether `name` has the shape of [`run_id`].
pub fn looks_like_run_id(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() == 20
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'T'
        && bytes[9..15].iter().all(u8::is_ascii_digit)
        && bytes[15] == b'-'
        && bytes[16..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// Whether `name` is an attempt's directory: `attempt-1`, `attempt-2`, ...
pub fn looks_like_attempt(name: &str) -> bool {
    name.strip_prefix("attempt-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_are_one_plain_component() {
        assert_eq!(safe_name("demo-checkout"), "demo-checkout");
        assert_eq!(safe_name("shop.v2_eu"), "shop.v2_eu");
        assert_eq!(safe_name(".."), "_.");
        assert_eq!(safe_name("."), "_");
        assert_eq!(safe_name(".hidden"), "_hidden");
        assert_eq!(safe_name(""), "_");
        assert_eq!(safe_name("../../etc"), "_._.._etc");
        assert_eq!(safe_name("a/b\\c\0d"), "a_b_c_d");
        assert_eq!(safe_name("café"), "caf_");
        assert_eq!(safe_name(&"x".repeat(300)).len(), 64);
        for name in ["..", ".", "", "/", "a/..", ".shopwatch-run"] {
            let safe = safe_name(name);
            assert!(
                !safe.starts_with('.') && !safe.contains('/'),
                "{name} -> {safe}"
            );
        }
    }

    #[test]
    fn run_ids_are_recognised() {
        let id = run_id(chrono::Utc::now());
        assert!(looks_like_run_id(&id), "{id}");
        assert!(looks_like_run_id("20261121T063445-25a4"));
        assert!(!looks_like_run_id("important"));
        assert!(!looks_like_run_id("20261121T063445-25A4"));
        assert!(!looks_like_run_id("20261121T063445-25a4x"));
        assert!(looks_like_attempt("attempt-12"));
        assert!(!looks_like_attempt("attempt-"));
        assert!(!looks_like_attempt("thesis"));
    }
}
