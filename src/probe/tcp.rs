//! The `tcp` probe: connect to `host:port`, optionally shake hands with TLS (the chain verified
//! as the tls probe does), optionally send a line, and optionally expect what the server says
//! (a banner or an answer) to match a regular expression: for partner services and payment
//! gateways that do not speak HTTP. Blackbox_exporter's tcp prober (`query_response` with one
//! `send` and one `expect`) is the model.
//!
//! `failed` when the connection is refused, the handshake or the chain fails, or the server's
//! words do not match within the timeout (the reason quotes what it said); `error` only for the
//! monitor's own faults.

use super::net;
use super::tls::split_target;
use super::{Kind, Probing, Verdict};
use crate::yaml::check::{regex_reason, Checker};
use crate::yaml::scalars::{opt_scalar_text, scalar_text, OneOrMany};
use serde::Deserialize;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use url::Host;

/// What is read from the server at most while looking for `expect`.
const MAX_READ: usize = 64 * 1024;

/// A validated `tcp` probe.
#[derive(Debug, Clone)]
pub struct TcpProbe {
    pub name: String,
    pub host: Host<String>,
    pub port: u16,
    /// Shake hands with TLS after connecting, sending this as SNI and checking the certificate
    /// for it; `None`: plain TCP.
    pub tls_server_name: Option<String>,
    /// With TLS: what the certificate is trusted by.
    pub trust: net::Trust,
    /// Written after connecting (and the handshake), before reading.
    pub send: Option<String>,
    /// What the server says must match, within the timeout.
    pub expect: Option<regex::Regex>,
    pub every: Duration,
    pub timeout: Duration,
    pub slow: Option<Duration>,
}

impl TcpProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        let addrs = match net::resolve(&self.host, self.port, p).await {
            Ok(addrs) => addrs,
            Err(verdict) => return verdict,
        };
        let tcp = match net::connect(&addrs, p).await {
            Ok(tcp) => tcp,
            Err(verdict) => return verdict,
        };
        let Some(name) = &self.tls_server_name else {
            return self.converse(tcp, p).await;
        };
        let server_name = match rustls::pki_types::ServerName::try_from(name.clone()) {
            Ok(name) => name,
            Err(e) => return Verdict::error(format!("server_name `{name}` cannot be used: {e}")),
        };
        let tls = match net::secure(tcp, &server_name, &self.name, &self.trust, p).await {
            Ok(tls) => tls,
            Err(verdict) => return verdict,
        };
        self.converse(tls, p).await
    }

    /// Sends `send`, then reads until `expect` matches, the server closes, or [`MAX_READ`].
    async fn converse(
        &self,
        mut stream: impl AsyncRead + AsyncWrite + Unpin,
        p: &mut Probing,
    ) -> Verdict {
        if let Some(send) = &self.send {
            p.doing = "sending";
            if let Err(e) = stream.write_all(send.as_bytes()).await {
                return Verdict::failed(format!("cannot send to {}:{}: {e}", self.host, self.port));
            }
        }
        let Some(expect) = &self.expect else {
            return Verdict::ok();
        };
        p.doing = "waiting for the server's words";
        let mut said = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&said);
            if expect.is_match(&text) {
                return Verdict::ok();
            }
            if said.len() >= MAX_READ {
                return Verdict::failed(format!(
                    "the server's first {} KiB do not match `{expect}`",
                    MAX_READ / 1024
                ));
            }
            match stream.read(&mut buffer).await {
                Ok(0) => {
                    return Verdict::failed(format!(
                    "the server closed the connection; what it said does not match `{expect}`: {}",
                    quoted(&text)
                ))
                }
                Ok(n) => said.extend_from_slice(&buffer[..n]),
                Err(e) => {
                    return Verdict::failed(format!(
                        "reading from {}:{}: {e}; what it said: {}",
                        self.host,
                        self.port,
                        quoted(&text)
                    ))
                }
            }
        }
    }
}

/// What a server said, for a reason: one line, at most 200 characters.
fn quoted(text: &str) -> String {
    let line: String = text.chars().take(200).collect();
    format!("{:?}", line)
}

impl Kind for TcpProbe {
    type File = TcpProbeFile;
    kind_basics!(TcpProbeFile, slow);

    fn validate(c: &mut Checker, path: &str, t: &TcpProbeFile) -> TcpProbe {
        let (host, port) = match split_target(&t.target) {
            Ok(target) => target,
            Err((message, hint)) => {
                c.error_hint(&format!("{path}.target"), message, hint);
                (Host::Domain("invalid.invalid".to_string()), 1)
            }
        };
        let tls = t.tls.unwrap_or(false);
        if !tls && (t.server_name.is_some() || t.ca_file.is_some()) {
            let key = if t.server_name.is_some() {
                "server_name"
            } else {
                "ca_file"
            };
            c.error_hint(
                &format!("{path}.{key}"),
                format!("`{key}` is for TLS, and this probe does not use it"),
                "add `tls: true`, or leave the key out",
            );
        }
        let tls_server_name = tls.then(|| match &t.server_name {
            Some(name) => name.clone(),
            None => net::default_server_name(&host),
        });
        let expect = t
            .expect
            .as_ref()
            .and_then(|pattern| match regex::Regex::new(pattern) {
                Ok(re) => Some(re),
                Err(e) => {
                    c.error(
                        &format!("{path}.expect"),
                        format!(
                            "`{pattern}` is not a valid regex: {}",
                            regex_reason(&e.to_string())
                        ),
                    );
                    None
                }
            });
        let (every, timeout) = c.schedule(path, &t.every, &t.timeout);
        TcpProbe {
            name: t.name.clone(),
            host,
            port,
            tls_server_name,
            trust: c.trust(path, &t.ca_file, &t.pin_sha256, t.insecure_skip_verify),
            send: t.send.clone(),
            expect,
            every,
            timeout,
            slow: c.opt_duration(&format!("{path}.slow"), &t.slow),
        }
    }
}

/// `- tcp:` as written; values stay text until [`super::validate_probes`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpProbeFile {
    pub name: String,
    /// `host:port`.
    pub target: String,
    /// Default false.
    pub tls: Option<bool>,
    /// With `tls`; default the host of `target`.
    pub server_name: Option<String>,
    /// With `tls`: PEM roots; default the system's.
    pub ca_file: Option<String>,
    /// With `tls`: public key hashes (`sha256//BASE64`) trusted instead of roots.
    pub pin_sha256: Option<OneOrMany>,
    /// With `tls`: trust any certificate (its expiry still exported).
    pub insecure_skip_verify: Option<bool>,
    pub send: Option<String>,
    pub expect: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub every: String,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub timeout: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub slow: Option<String>,
}
