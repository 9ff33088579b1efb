//! The `tls` probe: connect with SNI, read the certificate chain the server presents, verify it
//! against the trusted roots (`ca_file`, or the system's) and the server name, and watch expiry.
//!
//! `failed` when the chain does not verify (unknown issuer, missing intermediate, self-signed),
//! a certificate on it has expired or is not yet valid, or the leaf is not valid for the server
//! name; `degraded` when the chain verifies but expires within `warn_days`; `error` only for the
//! monitor's own faults (an unreadable `ca_file`, no system roots). Blackbox's tcp prober with
//! `tls: true` is the model; unlike it, an unverifiable chain is still read and exported, so
//! `probe_ssl_earliest_cert_expiry` is there also when the probe fails.

use super::{net, Probing, Verdict};
use rustls::pki_types::ServerName;
use std::path::PathBuf;
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
    /// PEM file of the trusted roots; `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// `degraded` when the verified chain expires within this many days.
    pub warn_days: Option<u32>,
}

impl TlsProbe {
    /// `host:port`, as written in `target`.
    pub fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub(super) async fn check(&self, p: &mut Probing) -> Verdict {
        let roots = match net::roots(&self.name, self.ca_file.as_deref()) {
            Ok(roots) => roots,
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
        let inspection = match net::inspect(&tls, &server_name, &roots, now) {
            Ok(inspection) => inspection,
            Err(verdict) => return verdict,
        };
        p.metrics.tls = Some(inspection.info.clone());
        if let Some(problem) = inspection.problem {
            return Verdict::failed(problem);
        }
        if let (Some(days), Some(expiry), Some(subject)) = (
            self.warn_days,
            inspection.info.last_chain_expiry,
            &inspection.chain_expiry_subject,
        ) {
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
