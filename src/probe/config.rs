//! Probe configuration: serde types for the structure (unknown keys rejected, so serde_yaml
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

use super::{HttpProbe, ProbeConfig, TlsProbe};
use crate::config::check::{regex_reason, Checker};
use crate::config::diagnostic::{did_you_mean, Diagnostic, Diagnostics};
use crate::config::format::{opt_scalar_text, scalar_text, StatusList};
use crate::config::locate::LocationIndex;
use crate::config::one_key::{one_key_enum, Family};
use crate::config::validate::MIN_INTERVAL;
use crate::config::{parse_structure, serde_diagnostic, with_earlier};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
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

/// How messages talk about probes.
const PROBES: Family = Family {
    what: "probe",
    example: "- http: {...}",
    needs: "its settings: `- {kind}: {name: ..., ...}`",
    settings: true,
};

one_key_enum! {
    /// One probe as written: `- http: {...}` or `- tls: {...}`.
    pub enum ProbeFile, PROBE_KINDS, PROBES {
        Http(HttpProbeFile) = "http",
        Tls(TlsProbeFile) = "tls",
    }
}

impl ProbeFile {
    pub fn name(&self) -> &str {
        match self {
            ProbeFile::Http(p) => &p.name,
            ProbeFile::Tls(p) => &p.name,
        }
    }
}

/// `- http:` as written; values stay text until [`validate_probes`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbeFile {
    pub name: String,
    pub url: String,
    #[serde(deserialize_with = "scalar_text")]
    pub every: String,
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// One code or a list; default any 2xx.
    pub expect_status: Option<StatusList>,
    pub body_contains: Option<String>,
    /// A regular expression (Rust `regex` syntax) the body must match.
    pub body_matches: Option<String>,
    /// Default true.
    pub follow_redirects: Option<bool>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub slow: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub timeout: Option<String>,
    /// PEM roots for https; default the system's.
    pub ca_file: Option<String>,
}

/// `- tls:` as written; values stay text until [`validate_probes`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsProbeFile {
    pub name: String,
    /// `host:port`.
    pub target: String,
    /// Default: the host of `target`.
    pub server_name: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub every: String,
    /// PEM roots; default the system's.
    pub ca_file: Option<String>,
    pub warn_days: Option<u32>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub timeout: Option<String>,
}

/// Reads and validates a file that holds only `probes:`.
pub fn load_probes(file: &Path) -> Result<Vec<ProbeConfig>, Diagnostics> {
    parse_probes(file, &crate::config::read_source(file, "probe")?)
}

/// Parses and validates probe YAML `source` (a map with only `probes:`), naming `file` in
/// errors; relative `ca_file` paths are taken from `file`'s directory.
pub fn parse_probes(file: &Path, source: &str) -> Result<Vec<ProbeConfig>, Diagnostics> {
    let (raw, index, mut errors) =
        parse_structure::<ProbesFile>(file, source, probe_serde_diagnostic)?;
    if raw.probes.is_empty() {
        errors.push(
            Diagnostic::new(file, index.find("probes"), "`probes` is empty")
                .with_hint("add at least one `- http: {...}` or `- tls: {...}`"),
        );
    }
    with_earlier(errors, validate_probes(file, &raw.probes, &index, "probes"))
}

/// A serde_yaml error in a probe file, located, in the words of a probe file.
pub fn probe_serde_diagnostic(file: &Path, error: &serde_yaml::Error) -> Diagnostic {
    let mut diagnostic = serde_diagnostic(file, error);
    diagnostic.message = diagnostic
        .message
        .replace("unknown variant", "unknown probe kind");
    if diagnostic.message.contains(".warn_days)") && diagnostic.hint.is_none() {
        diagnostic = diagnostic.with_hint("a whole number of days, e.g. `warn_days: 14`");
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
        valid.push(match probe {
            ProbeFile::Http(h) => ProbeConfig::Http(Box::new(http(&mut c, &path, h))),
            ProbeFile::Tls(t) => ProbeConfig::Tls(tls(&mut c, &path, t)),
        });
    }
    if c.errors.is_empty() {
        Ok(valid)
    } else {
        Err(c.errors)
    }
}

impl Checker<'_> {
    /// `every` (at least the 10s minimum) and `timeout` (at most `every`).
    fn schedule(
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
    fn ca_file(&mut self, path: &str, text: &Option<String>) -> Option<PathBuf> {
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

fn http(c: &mut Checker, path: &str, h: &HttpProbeFile) -> HttpProbe {
    let url_path = format!("{path}.url");
    let url = match url::Url::parse(&h.url) {
        Ok(url) if !matches!(url.scheme(), "http" | "https") => {
            c.error_hint(
                &url_path,
                format!("url must be http or https, not `{}`", url.scheme()),
                "for a certificate check without HTTP, use a `tls` probe",
            );
            url
        }
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            c.error_hint(
                &url_path,
                "url must not hold credentials: they would show in logs and reasons",
                "send them as a header, e.g. `headers: {Authorization: \"Basic ...\"}`",
            );
            url
        }
        Ok(url) => url,
        Err(e) => {
            c.error_hint(
                &url_path,
                format!("`{}` is not a URL: {e}", h.url),
                "write a full URL such as `https://shop.example.com/`",
            );
            url::Url::parse("http://invalid.invalid/").expect("static URL parses")
        }
    };
    let (every, timeout) = c.schedule(path, &h.every, &h.timeout);
    let slow = h
        .slow
        .as_ref()
        .and_then(|text| c.duration(&format!("{path}.slow"), text));
    if let Some(slow) = slow {
        if slow >= timeout {
            c.error_hint(
                &format!("{path}.slow"),
                format!(
                    "slow {} is not shorter than the timeout {}",
                    humantime::format_duration(slow),
                    humantime::format_duration(timeout)
                ),
                "a run over the timeout fails before it can be slow: make `slow` shorter",
            );
        }
    }
    let method_text = h.method.as_deref().unwrap_or("GET");
    const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let upper = method_text.to_ascii_uppercase();
    let method = if METHODS.contains(&upper.as_str()) {
        ::http::Method::from_bytes(upper.as_bytes()).unwrap_or(::http::Method::GET)
    } else {
        let hint = match did_you_mean(&upper, METHODS.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("use one of {}", METHODS.join(", ")),
        };
        c.error_hint(
            &format!("{path}.method"),
            format!("unknown HTTP method `{method_text}`"),
            hint,
        );
        ::http::Method::GET
    };
    let mut headers = ::http::HeaderMap::new();
    for (name, value) in &h.headers {
        let entry = format!("{path}.headers.{name}");
        let header_name = ::http::HeaderName::from_bytes(name.as_bytes());
        if header_name.is_err() {
            let location = c.index.find_key(&entry);
            c.errors.push(Diagnostic::new(
                c.file,
                location,
                format!("`{name}` is not a valid header name"),
            ));
        }
        let header_value = ::http::HeaderValue::from_str(value);
        if header_value.is_err() {
            c.error(
                &entry,
                format!("the value of header `{name}` is not allowed: use visible ASCII text, no line breaks"),
            );
        }
        if let (Ok(name), Ok(value)) = (header_name, header_value) {
            headers.insert(name, value);
        }
    }
    let expect_status = match &h.expect_status {
        None => Vec::new(),
        Some(StatusList::One(code)) => vec![*code],
        Some(StatusList::Many(codes)) => {
            if codes.is_empty() {
                c.error_hint(
                    &format!("{path}.expect_status"),
                    "expect_status is empty",
                    "list the accepted codes, or leave `expect_status` out for any 2xx",
                );
            }
            codes.clone()
        }
    };
    for (i, code) in expect_status.iter().enumerate() {
        if !(100..=599).contains(code) {
            // `expect_status: 999` has no `[0]` node: `find` falls back to the number itself.
            c.error(
                &format!("{path}.expect_status[{i}]"),
                format!("{code} is not an HTTP status code (100 to 599)"),
            );
        }
    }
    if method == ::http::Method::HEAD && (h.body_contains.is_some() || h.body_matches.is_some()) {
        c.error_hint(
            &format!("{path}.method"),
            "a HEAD response has no body to check",
            "use GET, or drop `body_contains` and `body_matches`",
        );
    }
    if h.body_contains.as_deref() == Some("") {
        c.error(
            &format!("{path}.body_contains"),
            "empty body_contains: every body contains it",
        );
    }
    let body_matches =
        h.body_matches
            .as_ref()
            .and_then(|pattern| match regex::Regex::new(pattern) {
                Ok(re) => Some(re),
                Err(e) => {
                    c.error(
                        &format!("{path}.body_matches"),
                        format!(
                            "`{pattern}` is not a valid regex: {}",
                            regex_reason(&e.to_string())
                        ),
                    );
                    None
                }
            });
    HttpProbe {
        name: h.name.clone(),
        url,
        every,
        method,
        headers,
        expect_status,
        body_contains: h.body_contains.clone(),
        body_matches,
        follow_redirects: h.follow_redirects.unwrap_or(true),
        slow,
        timeout,
        ca_file: c.ca_file(&format!("{path}.ca_file"), &h.ca_file),
    }
}

fn tls(c: &mut Checker, path: &str, t: &TlsProbeFile) -> TlsProbe {
    let target_path = format!("{path}.target");
    let (host, port) = match split_target(&t.target) {
        Ok(target) => target,
        Err((message, hint)) => {
            c.error_hint(&target_path, message, hint);
            (url::Host::Domain("invalid.invalid".to_string()), 443)
        }
    };
    let server_name = match &t.server_name {
        Some(name) => {
            if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() {
                c.error_hint(
                    &format!("{path}.server_name"),
                    format!("`{name}` is not a host name or IP address"),
                    "the name the certificate must be valid for, e.g. `shop.example.com`",
                );
            }
            name.clone()
        }
        None => match &host {
            url::Host::Domain(name) => name.clone(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        },
    };
    let (every, timeout) = c.schedule(path, &t.every, &t.timeout);
    TlsProbe {
        name: t.name.clone(),
        host,
        port,
        server_name,
        every,
        timeout,
        ca_file: c.ca_file(&format!("{path}.ca_file"), &t.ca_file),
        warn_days: t.warn_days,
    }
}

/// `host:port` or `[ipv6]:port`; the error is (message, hint).
fn split_target(target: &str) -> Result<(url::Host<String>, u16), (String, String)> {
    let example = "write `host:port`, e.g. `shop.example.com:443` or `[::1]:8443`";
    if target.contains("://") {
        return Err((
            format!("target `{target}` is a URL, not `host:port`"),
            "drop the scheme and path, e.g. `shop.example.com:443`".to_string(),
        ));
    }
    let (host, port) = if let Some(rest) = target.strip_prefix('[') {
        match rest.split_once("]:") {
            Some((ip, port)) => (format!("[{ip}]"), port),
            None => {
                return Err((
                    format!("target `{target}` has no port"),
                    example.to_string(),
                ))
            }
        }
    } else {
        match target.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err((
                    format!("target `{target}`: an IPv6 address needs brackets"),
                    example.to_string(),
                ))
            }
            Some((host, port)) => (host.to_string(), port),
            None => {
                return Err((
                    format!("target `{target}` has no port"),
                    example.to_string(),
                ))
            }
        }
    };
    let port = match port.parse::<u16>() {
        Ok(port) if port > 0 => port,
        _ => {
            return Err((
                format!("`{port}` is not a port (1 to 65535)"),
                example.to_string(),
            ))
        }
    };
    if host.is_empty() || host == "[]" {
        return Err((
            format!("target `{target}` has no host"),
            example.to_string(),
        ));
    }
    match url::Host::parse(&host) {
        Ok(host) => Ok((host, port)),
        Err(e) => Err((
            format!("`{host}` is not a host name or IP address: {e}"),
            example.to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_targets() {
        assert_eq!(
            split_target("shop.example.com:443").unwrap(),
            (url::Host::Domain("shop.example.com".to_string()), 443)
        );
        assert_eq!(
            split_target("127.0.0.1:8443").unwrap(),
            (url::Host::Ipv4([127, 0, 0, 1].into()), 8443)
        );
        assert_eq!(
            split_target("[::1]:8443").unwrap(),
            (url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST), 8443)
        );
        assert!(split_target("shop.example.com")
            .unwrap_err()
            .0
            .contains("has no port"));
        assert!(split_target("::1:443").unwrap_err().0.contains("brackets"));
        assert!(split_target("https://shop:443")
            .unwrap_err()
            .0
            .contains("is a URL"));
        assert!(split_target("shop:0")
            .unwrap_err()
            .0
            .contains("is not a port"));
        assert!(split_target("shop:https")
            .unwrap_err()
            .0
            .contains("is not a port"));
        assert!(split_target(":443").unwrap_err().0.contains("has no host"));
    }

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
