//! The `tls` probe: connect with SNI, read the certificate chain the server presents, verify it
//! against the trusted roots (`ca_file`, or the system's) and the server name, and watch expiry.
//!
//! `failed` when the chain does not verify (unknown issuer, missing intermediate, self-signed),
//! a certificate on it has expired or is not yet valid, or the leaf is not valid for the server
//! name; `degraded` when the chain verifies but expires within `warn_days`; `error` only for the
//! monitor's own faults (an unreadable `ca_file`, no system roots). With `pin_sha256` or
//! `insecure_skip_verify` the chain is not verified; the leaf's validity dates and `warn_days`
//! still are. Blackbox's tcp prober with
//! `tls: true` is the model; unlike it, an unverifiable chain is still read and exported, so
//! `probe_ssl_earliest_cert_expiry` is there also when the probe fails.

use super::Kind;
use super::{net, Probing, Verdict};
use crate::yaml::check::Checker;
use crate::yaml::scalars::{opt_scalar_text, scalar_text, OneOrMany};
use rustls::pki_types::ServerName;
use serde::Deserialize;
use std::time::Duration;
use url::Host;

/// A validated `tls` probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsProbe {
    pub name: String,
    /// The host of `target`: a DNS name or an IP address.
    pub host: Host<String>,
    /// The port of `target`.
    pub port: u16,
    /// Sent as SNI (unless an IP address) and the name the certificate must be valid for;
    /// defaults to the host of `target`.
    pub server_name: String,
    pub every: Duration,
    pub timeout: Duration,
    /// What it trusts: `ca_file`'s roots or the system's, `pin_sha256`, or nothing.
    pub trust: net::Trust,
    /// `degraded` when the verified chain expires within this many days.
    pub warn_days: Option<u32>,
}

impl TlsProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        let verifier = match self.trust.load(&self.name) {
            Ok(verifier) => verifier,
            Err(e) => return Verdict::error(e),
        };
        let server_name = match ServerName::try_from(self.server_name.clone()) {
            Ok(name) => name,
            Err(e) => {
                return Verdict::error(format!(
                    "server_name `{}` cannot be used: {e}",
                    self.server_name
                ))
            }
        };
        let addrs = match net::resolve(&self.host, self.port, p).await {
            Ok(addrs) => addrs,
            Err(verdict) => return verdict,
        };
        let tcp = match net::connect(&addrs, p).await {
            Ok(tcp) => tcp,
            Err(verdict) => return verdict,
        };
        let tls = match net::handshake(tcp, &server_name, &[], p).await {
            Ok(tls) => tls,
            Err(verdict) => return verdict,
        };
        p.doing = "checking the certificates";
        let now = net::now();
        let inspection = match net::inspect(&tls, &server_name, &verifier, now) {
            Ok(inspection) => inspection,
            Err(verdict) => return verdict,
        };
        p.metrics.tls = Some(inspection.info.clone());
        if let Some(problem) = inspection.problem {
            return Verdict::failed(problem);
        }
        if let (Some(days), Some((expiry, subject))) = (self.warn_days, &inspection.watched_expiry)
        {
            let expiry = *expiry;
            let left = expiry - now.as_secs() as i64;
            if left < i64::from(days) * 86_400 {
                return Verdict::degraded(format!(
                    "certificate `{subject}` expires on {} (in {:.1} days; warn_days: {days})",
                    net::show_time(expiry),
                    left as f64 / 86_400.0
                ));
            }
        }
        Verdict::ok()
    }
}
/// `- tls:` as written; values stay text until [`super::validate_probes`].
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
    /// Public key hashes (`sha256//BASE64`) trusted instead of roots.
    pub pin_sha256: Option<OneOrMany>,
    /// Trust any certificate (expiry still watched).
    pub insecure_skip_verify: Option<bool>,
    pub warn_days: Option<u32>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub timeout: Option<String>,
}

fn validate(c: &mut Checker, path: &str, t: &TlsProbeFile) -> TlsProbe {
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
        trust: c.trust(path, &t.ca_file, &t.pin_sha256, t.insecure_skip_verify),
        warn_days: t.warn_days,
    }
}

/// `host:port` or `[ipv6]:port`; the error is (message, hint).
pub(super) fn split_target(target: &str) -> Result<(url::Host<String>, u16), (String, String)> {
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

impl Kind for TlsProbe {
    type File = TlsProbeFile;

    fn file_name(file: &TlsProbeFile) -> &str {
        &file.name
    }

    fn validate(c: &mut Checker, path: &str, file: &TlsProbeFile) -> TlsProbe {
        validate(c, path, file)
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn every(&self) -> Duration {
        self.every
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn check(&self, probing: &mut Probing) -> Verdict {
        self.probe_once(probing).await
    }
}

#[cfg(test)]
mod target_tests {
    use super::split_target;

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
}
