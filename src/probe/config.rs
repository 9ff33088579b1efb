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

use super::net::Trust;
use super::{ProbeConfig, ProbeFile};
use crate::yaml::check::Checker;
use crate::yaml::check::MIN_INTERVAL;
use crate::yaml::diagnostic::{Diagnostic, Diagnostics};
use crate::yaml::locate::LocationIndex;
use crate::yaml::scalars::OneOrMany;
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

    /// What a probe trusts: `ca_file` (or the system's roots), `pin_sha256`, or
    /// `insecure_skip_verify: true`; one of them at most.
    pub(super) fn trust(
        &mut self,
        path: &str,
        ca_file: &Option<String>,
        pins: &Option<OneOrMany>,
        insecure: Option<bool>,
    ) -> Trust {
        let insecure = insecure == Some(true);
        let given: Vec<&str> = [
            (ca_file.is_some(), "ca_file"),
            (pins.is_some(), "pin_sha256"),
            (insecure, "insecure_skip_verify"),
        ]
        .into_iter()
        .filter_map(|(given, key)| given.then_some(key))
        .collect();
        if given.len() > 1 {
            self.error_hint(
                &format!("{path}.{}", given[1]),
                format!("give one of `ca_file`, `pin_sha256` and `insecure_skip_verify`, not `{}` and `{}`", given[0], given[1]),
                "`ca_file` verifies the chain against your CA, `pin_sha256` trusts one key (a self-signed certificate), `insecure_skip_verify: true` trusts any certificate",
            );
        }
        if insecure {
            return Trust::Insecure;
        }
        if let Some(OneOrMany(texts)) = pins {
            let pins_path = format!("{path}.pin_sha256");
            if texts.is_empty() {
                self.error_hint(&pins_path, "`pin_sha256` lists no pin", PIN_HINT);
            }
            let pins = texts
                .iter()
                .filter_map(|text| match parse_pin(text) {
                    Some(pin) => Some(pin),
                    None => {
                        self.error_hint(
                            &pins_path,
                            format!("`{text}` is not a SHA-256 public key pin"),
                            PIN_HINT,
                        );
                        None
                    }
                })
                .collect();
            return Trust::Pinned(pins);
        }
        Trust::Roots(self.ca_file(&format!("{path}.ca_file"), ca_file))
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

const PIN_HINT: &str = "write `sha256//` and the base64 SHA-256 of the certificate's public key, as curl's --pinnedpubkey takes it (a failing probe names its server's), e.g. from `openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`";

/// `sha256//BASE64` (or the base64 or 64 hex digits alone) as the 32 bytes of the hash.
fn parse_pin(text: &str) -> Option<[u8; 32]> {
    use base64::Engine;
    let text = text.trim();
    let text = text.strip_prefix("sha256//").unwrap_or(text);
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?
    };
    bytes.try_into().ok()
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
            t.trust,
            Trust::Roots(Some(PathBuf::from("/etc/shopwatch/ca.pem")))
        );
        assert_eq!(t.warn_days, None);
        assert_eq!(probes[1].name(), "cert");
        assert_eq!(probes[1].kind(), "tls");
    }

    #[test]
    fn pins_are_read_in_each_form() {
        let hash = [7u8; 32];
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            parse_pin("sha256//BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="),
            Some(hash)
        );
        assert_eq!(
            parse_pin("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="),
            Some(hash)
        );
        assert_eq!(parse_pin(&hex), Some(hash));
        assert_eq!(parse_pin("sha256//short"), None);
        assert_eq!(parse_pin("md5//BwcHBwcHBwcHBwcHBwcHBw=="), None);
    }
}
