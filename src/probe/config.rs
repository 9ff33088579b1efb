//! Probe configuration: serde types for the structure (unknown keys rejected, so the parser
//! reports them with line and column), then [`validate_probes`] into typed [`ProbeConfig`]s,
//! collecting every problem with its location.
//!
//! ```yaml
//! probes:
//!   - http:
//!       name: shop-home
//!       url: http://127.0.0.1:8088/
//!       every: 15s
//!       body_contains: Demo Shop
//!   - tls:
//!       name: shop-cert
//!       target: 127.0.0.1:8443
//!       server_name: localhost
//!       every: 1h
//!       warn_days: 14
//! ```
//!
//! A daemon configuration embeds `probes: Vec<ProbeFile>` in its own serde struct and calls
//! [`validate_probes`] with the same [`LocationIndex`]; [`parse_probes`] does it all for a file
//! that holds only `probes:`.

use super::{ProbeConfig, ProbeFile};
use crate::yaml::check::Checker;
use crate::yaml::check::MIN_INTERVAL;
use crate::yaml::diagnostic::{Diagnostic, Diagnostics};
use crate::yaml::locate::LocationIndex;
use crate::yaml::structure::StructureError;
use crate::yaml::{parse_structure, with_earlier};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a run may take unless `timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A file that holds only probes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbesFile {
    pub probes: Vec<ProbeFile>,
}

/// Parses and validates probe YAML `source` (a map with only `probes:`), naming `file` in
/// errors; relative `ca_file` paths are taken from `file`'s directory.
pub fn parse_probes(file: &Path, source: &str) -> Result<Vec<ProbeConfig>, Diagnostics> {
    let (raw, index, mut errors) =
        parse_structure::<ProbesFile>(file, source, probe_structure_diagnostic)?;
    if raw.probes.is_empty() {
        errors.push(
            Diagnostic::new(file, index.find("probes"), "`probes` is empty")
                .with_hint("add at least one `- http: {...}` or `- tls: {...}`"),
        );
    }
    with_earlier(errors, validate_probes(file, &raw.probes, &index, "probes"))
}

/// A structure error in a probe list, in the words of a probe file.
pub fn probe_structure_diagnostic(file: &Path, error: &StructureError) -> Diagnostic {
    let diagnostic = error.diagnostic(file, "probe kind");
    if error.path.ends_with(".warn_days") && diagnostic.hint.is_none() {
        return diagnostic.with_hint("a whole number of days, e.g. `warn_days: 14`");
    }
    diagnostic
}

/// Validates parsed probes (the list at path `at` of the document `index` was built from)
/// into typed probes, or every problem found, each located.
pub fn validate_probes(
    file: &Path,
    probes: &[ProbeFile],
    index: &LocationIndex,
    at: &str,
) -> Result<Vec<ProbeConfig>, Vec<Diagnostic>> {
    let mut c = Checker::new(file, index);
    let mut seen: HashMap<&str, String> = HashMap::new();
    let mut valid = Vec::new();
    for (i, probe) in probes.iter().enumerate() {
        let path = format!("{at}[{i}].{}", probe.kind());
        let name_path = format!("{path}.name");
        c.name(&name_path, "probe", probe.name());
        if let Some(first) = seen.get(probe.name()) {
            let first = c.index.find(first);
            c.error_hint(
                &name_path,
                format!(
                    "probe name `{}` is used twice; probe names must be unique",
                    probe.name()
                ),
                format!(
                    "the first is at line {} column {}",
                    first.line, first.column
                ),
            );
        } else {
            seen.insert(probe.name(), name_path);
        }
        valid.push(probe.validate(&mut c, &path));
    }
    if c.errors.is_empty() {
        Ok(valid)
    } else {
        Err(c.errors)
    }
}

impl Checker<'_> {
    /// `every` (at least the 10s minimum) and `timeout` (at most `every`).
    pub(super) fn schedule(
        &mut self,
        path: &str,
        every: &str,
        timeout: &Option<String>,
    ) -> (Duration, Duration) {
        let every_path = format!("{path}.every");
        let every = match self.duration(&every_path, every) {
            Some(d) if d < MIN_INTERVAL => {
                self.error(
                    &every_path,
                    format!("`every: {every}` is shorter than the 10s minimum"),
                );
                d
            }
            Some(d) => d,
            None => MIN_INTERVAL,
        };
        let timeout_path = format!("{path}.timeout");
        let timeout = match timeout {
            Some(text) => self
                .duration(&timeout_path, text)
                .unwrap_or(DEFAULT_TIMEOUT),
            None => DEFAULT_TIMEOUT.min(every),
        };
        if timeout > every {
            self.error_hint(
                &timeout_path,
                format!(
                    "timeout {} is longer than `every` {}",
                    humantime::format_duration(timeout),
                    humantime::format_duration(every)
                ),
                "runs of a probe never overlap: make the timeout at most `every`",
            );
        }
        (every, timeout)
    }

    /// A `ca_file` path; a relative one is taken from the configuration file's directory.
    pub(super) fn ca_file(&mut self, path: &str, text: &Option<String>) -> Option<PathBuf> {
        let text = text.as_deref()?;
        if text.trim().is_empty() {
            self.error(path, "empty ca_file: give the path of a PEM file, or leave `ca_file` out for the system's roots");
            return None;
        }
        let given = Path::new(text);
        Some(match self.file.parent() {
            Some(dir) if given.is_relative() => dir.join(given),
            _ => given.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() {
        let src = "probes:\n  - http:\n      name: home\n      url: http://127.0.0.1:8088/\n      every: 15s\n  - tls:\n      name: cert\n      target: 127.0.0.1:8443\n      every: 1h\n      ca_file: ca.pem\n";
        let probes = parse_probes(Path::new("/etc/shopwatch/probes.yaml"), src).unwrap();
        let ProbeConfig::Http(h) = &probes[0] else {
            panic!("not http")
        };
        assert_eq!(h.method, ::http::Method::GET);
        assert!(h.follow_redirects && h.expect_status.is_empty() && h.slow.is_none());
        assert_eq!(
            (h.every, h.timeout),
            (Duration::from_secs(15), DEFAULT_TIMEOUT)
        );
        let ProbeConfig::Tls(t) = &probes[1] else {
            panic!("not tls")
        };
        assert_eq!(t.server_name, "127.0.0.1");
        assert_eq!(t.port, 8443);
        assert_eq!(
            t.ca_file.as_deref(),
            Some(Path::new("/etc/shopwatch/ca.pem"))
        );
        assert_eq!(t.warn_days, None);
        assert_eq!(probes[1].name(), "cert");
        assert_eq!(probes[1].kind(), "tls");
    }
}
