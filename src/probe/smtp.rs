//! The `smtp` probe: the mail server that sends the shop's order confirmations. Connect, read
//! the 220 greeting, EHLO and its extensions, then by `tls`: STARTTLS offered and working
//! (the default, for ports 25 and 587), TLS from the first byte (`implicit`, port 465), or
//! none; the certificate chain and name verified as the tls probe does, and its expiry
//! exported with the tls metrics. EHLO again over TLS, then QUIT: nothing is sent.
//!
//! `failed` when the server refuses, greets with anything but 220, does not offer or finish
//! STARTTLS, or its certificate does not verify; the reason quotes the server's reply.

use super::mail::{quoted, Endpoint, EndpointFile, Lines, Protection};
use super::{Kind, Probing, Verdict};
use crate::yaml::check::Checker;
use crate::yaml::scalars::{opt_scalar_text, scalar_text, OneOrMany};
use serde::Deserialize;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Lines in one reply at most: an EHLO lists a dozen extensions.
const MAX_REPLY_LINES: usize = 100;

/// A validated `smtp` probe.
#[derive(Debug, Clone)]
pub struct SmtpProbe {
    pub name: String,
    pub endpoint: Endpoint,
    /// The name shopwatch introduces itself with in EHLO.
    pub ehlo: String,
    pub every: Duration,
    pub timeout: Duration,
    pub slow: Option<Duration>,
}

/// One SMTP reply: its code and its lines' texts (after the code).
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn shown(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" / "))
    }
}

impl SmtpProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        let tcp = match self.endpoint.connect(p).await {
            Ok(tcp) => tcp,
            Err(verdict) => return verdict,
        };
        match self.endpoint.tls {
            Protection::Implicit => {
                let tls = match self.endpoint.secure(tcp, &self.name, p).await {
                    Ok(tls) => tls,
                    Err(verdict) => return verdict,
                };
                let mut session = Lines::new(tls);
                if let Err(verdict) = self.greeting_and_ehlo(&mut session, p).await {
                    return verdict;
                }
                self.quit(&mut session, p).await
            }
            Protection::None | Protection::StartTls => {
                let mut session = Lines::new(tcp);
                let extensions = match self.greeting_and_ehlo(&mut session, p).await {
                    Ok(extensions) => extensions,
                    Err(verdict) => return verdict,
                };
                if self.endpoint.tls == Protection::None {
                    return self.quit(&mut session, p).await;
                }
                if !extensions
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case("STARTTLS"))
                {
                    return Verdict::failed(format!(
                        "the server does not offer STARTTLS (its extensions: {})",
                        extensions.join(", ")
                    ));
                }
                match self.command(&mut session, "STARTTLS", p).await {
                    Ok(reply) if reply.code == 220 => {}
                    Ok(reply) => {
                        return Verdict::failed(format!("STARTTLS refused: {}", reply.shown()))
                    }
                    Err(verdict) => return verdict,
                }
                let tls = match self
                    .endpoint
                    .secure(session.into_inner(), &self.name, p)
                    .await
                {
                    Ok(tls) => tls,
                    Err(verdict) => return verdict,
                };
                let mut session = Lines::new(tls);
                match self
                    .command(&mut session, &format!("EHLO {}", self.ehlo), p)
                    .await
                {
                    Ok(reply) if reply.code == 250 => {}
                    Ok(reply) => {
                        return Verdict::failed(format!("EHLO over TLS refused: {}", reply.shown()))
                    }
                    Err(verdict) => return verdict,
                }
                self.quit(&mut session, p).await
            }
        }
    }

    /// The 220 greeting, then EHLO; the extensions the server lists.
    async fn greeting_and_ehlo<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        session: &mut Lines<S>,
        p: &mut Probing,
    ) -> Result<Vec<String>, Verdict> {
        let greeting = reply(session, p, "waiting for the greeting").await?;
        if greeting.code != 220 {
            return Err(Verdict::failed(format!(
                "the server greets with {} instead of 220",
                greeting.shown()
            )));
        }
        let ehlo = self
            .command(session, &format!("EHLO {}", self.ehlo), p)
            .await?;
        if ehlo.code != 250 {
            return Err(Verdict::failed(format!("EHLO refused: {}", ehlo.shown())));
        }
        // The first line is the server's name; each further one an extension and its words.
        Ok(ehlo
            .lines
            .iter()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next())
            .map(str::to_string)
            .collect())
    }

    async fn command<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        session: &mut Lines<S>,
        command: &str,
        p: &mut Probing,
    ) -> Result<Reply, Verdict> {
        session.send(command, command).await?;
        reply(session, p, "waiting for the server's reply").await
    }

    /// QUIT, politely; the check has passed whatever the server answers to it.
    async fn quit<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        session: &mut Lines<S>,
        p: &mut Probing,
    ) -> Verdict {
        let _ = self.command(session, "QUIT", p).await;
        Verdict::ok()
    }
}

/// Reads one reply: lines `250-...` until the last, `250 ...` (RFC 5321 4.2.1).
async fn reply<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Lines<S>,
    p: &mut Probing,
    what: &'static str,
) -> Result<Reply, Verdict> {
    let mut lines = Vec::new();
    loop {
        let line = session.read(p, what).await?;
        if lines.len() >= MAX_REPLY_LINES {
            return Err(Verdict::failed(format!(
                "the server's reply is over {MAX_REPLY_LINES} lines: not SMTP"
            )));
        }
        let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
        let (Some(code), separator) = (code, line.as_bytes().get(3).copied()) else {
            return Err(Verdict::failed(format!(
                "the server does not speak SMTP: {}",
                quoted(&line)
            )));
        };
        lines.push(line.get(4..).unwrap_or("").to_string());
        if separator != Some(b'-') {
            return Ok(Reply { code, lines });
        }
    }
}

impl Kind for SmtpProbe {
    type File = SmtpProbeFile;
    kind_basics!(SmtpProbeFile, slow);

    fn validate(c: &mut Checker, path: &str, s: &SmtpProbeFile) -> SmtpProbe {
        let endpoint = EndpointFile {
            target: &s.target,
            tls: &s.tls,
            server_name: &s.server_name,
            ca_file: &s.ca_file,
            pin_sha256: &s.pin_sha256,
            insecure_skip_verify: s.insecure_skip_verify,
        };
        let endpoint = Endpoint::validate(c, path, &endpoint, 465);
        let (every, timeout) = c.schedule(path, &s.every, &s.timeout);
        SmtpProbe {
            name: s.name.clone(),
            endpoint,
            ehlo: s
                .ehlo
                .clone()
                .unwrap_or_else(|| "shopwatch.invalid".to_string()),
            every,
            timeout,
            slow: c.opt_duration(&format!("{path}.slow"), &s.slow),
        }
    }
}

/// `- smtp:` as written; values stay text until [`super::validate_probes`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpProbeFile {
    pub name: String,
    /// `host:port`.
    pub target: String,
    /// `starttls`, `implicit` or `none`; default `implicit` on port 465, else `starttls`.
    pub tls: Option<String>,
    pub server_name: Option<String>,
    pub ca_file: Option<String>,
    /// Public key hashes (`sha256//BASE64`) trusted instead of roots.
    pub pin_sha256: Option<OneOrMany>,
    /// Trust any certificate (its expiry still exported).
    pub insecure_skip_verify: Option<bool>,
    pub ehlo: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub every: String,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub timeout: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub slow: Option<String>,
}
