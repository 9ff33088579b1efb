//! The `imap` probe: the mailbox customers' mail lands in. Connect, read the `* OK` greeting,
//! STARTTLS offered and working (or TLS from the first byte on port 993, or none), the
//! certificate verified as the tls probe does; then, with `login`, LOGIN with the password
//! secret and SELECT the `mailbox`; LOGOUT.
//!
//! `failed` when the server refuses, greets with anything but `* OK`, does not offer or finish
//! STARTTLS, its certificate does not verify, the login is refused or the mailbox cannot be
//! selected (the reason quotes the server, never the password); `error` for the monitor's own
//! faults (an unreadable password secret).

use super::mail::{quoted, Endpoint, EndpointFile, Lines, Login, LoginFile, Protection};
use super::{Kind, Probing, Verdict};
use crate::yaml::check::Checker;
use crate::yaml::scalars::{opt_scalar_text, scalar_text, OneOrMany};
use serde::Deserialize;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// A validated `imap` probe.
#[derive(Debug, Clone)]
pub struct ImapProbe {
    pub name: String,
    pub endpoint: Endpoint,
    pub login: Option<Login>,
    /// Selected after the login.
    pub mailbox: String,
    pub every: Duration,
    pub timeout: Duration,
    pub slow: Option<Duration>,
}

impl ImapProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        let password = match self.login.as_ref().map(Login::password).transpose() {
            Ok(password) => password,
            Err(verdict) => return verdict,
        };
        let tcp = match self.endpoint.connect(p).await {
            Ok(tcp) => tcp,
            Err(verdict) => return verdict,
        };
        let result = match self.endpoint.tls {
            Protection::Implicit => match self.endpoint.secure(tcp, &self.name, p).await {
                Ok(tls) => {
                    let mut lines = Lines::new(tls);
                    match greeting(&mut lines, p).await {
                        Ok(_) => self.session(&mut lines, password.as_deref(), p).await,
                        Err(verdict) => Err(verdict),
                    }
                }
                Err(verdict) => Err(verdict),
            },
            Protection::None | Protection::StartTls => {
                let mut lines = Lines::new(tcp);
                let greeted = match greeting(&mut lines, p).await {
                    Ok(greeted) => greeted,
                    Err(verdict) => return verdict,
                };
                if self.endpoint.tls == Protection::None {
                    self.session(&mut lines, password.as_deref(), p).await
                } else {
                    let capabilities = if greeted.contains("[CAPABILITY ") {
                        greeted
                    } else {
                        match command(&mut lines, "s1", "CAPABILITY", "CAPABILITY", p).await {
                            Ok((_, untagged)) => untagged.join(" "),
                            Err(verdict) => return verdict,
                        }
                    };
                    if !capabilities
                        .split_whitespace()
                        .any(|c| c.eq_ignore_ascii_case("STARTTLS"))
                    {
                        return Verdict::failed(format!(
                            "the server does not offer STARTTLS (it says: {})",
                            quoted(&capabilities)
                        ));
                    }
                    if let Err(verdict) = command(&mut lines, "s2", "STARTTLS", "STARTTLS", p).await
                    {
                        return verdict;
                    }
                    match self
                        .endpoint
                        .secure(lines.into_inner(), &self.name, p)
                        .await
                    {
                        Ok(tls) => {
                            let mut lines = Lines::new(tls);
                            self.session(&mut lines, password.as_deref(), p).await
                        }
                        Err(verdict) => Err(verdict),
                    }
                }
            }
        };
        match result {
            Ok(()) => Verdict::ok(),
            Err(verdict) => verdict,
        }
    }

    /// LOGIN and SELECT when asked, then LOGOUT.
    async fn session<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        lines: &mut Lines<S>,
        password: Option<&str>,
        p: &mut Probing,
    ) -> Result<(), Verdict> {
        if let (Some(login), Some(password)) = (&self.login, password) {
            let line = format!("LOGIN {} {}", quote(&login.user), quote(password));
            command(lines, "s3", &line, &format!("LOGIN {}", login.user), p).await?;
            let select = format!("SELECT {}", quote(&self.mailbox));
            command(lines, "s4", &select, &select, p).await?;
        }
        let _ = command(lines, "s5", "LOGOUT", "LOGOUT", p).await;
        Ok(())
    }
}

/// The `* OK` greeting (`* PREAUTH` too); its text.
async fn greeting<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Lines<S>,
    p: &mut Probing,
) -> Result<String, Verdict> {
    let line = lines.read(p, "waiting for the greeting").await?;
    if line.starts_with("* OK") || line.starts_with("* PREAUTH") {
        Ok(line)
    } else {
        Err(Verdict::failed(format!(
            "the server greets with {} instead of `* OK`",
            quoted(&line)
        )))
    }
}

/// Sends `line` tagged `tag` and reads until the tagged reply, which must be OK; the untagged
/// lines before it. `shown` names the command in reasons.
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Lines<S>,
    tag: &str,
    line: &str,
    shown: &str,
    p: &mut Probing,
) -> Result<(String, Vec<String>), Verdict> {
    lines.send(&format!("{tag} {line}"), shown).await?;
    let mut untagged = Vec::new();
    loop {
        let reply = lines.read(p, "waiting for the server's reply").await?;
        match reply.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
            Some(status) if status.starts_with("OK") => return Ok((status.to_string(), untagged)),
            Some(status) => {
                return Err(Verdict::failed(format!(
                    "{shown} refused: {}",
                    quoted(status)
                )))
            }
            None => untagged.push(reply),
        }
    }
}

/// An IMAP quoted string (RFC 3501 4.3).
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Kind for ImapProbe {
    type File = ImapProbeFile;
    kind_basics!(ImapProbeFile, slow);

    fn validate(c: &mut Checker, path: &str, f: &ImapProbeFile) -> ImapProbe {
        let endpoint = EndpointFile {
            target: &f.target,
            tls: &f.tls,
            server_name: &f.server_name,
            ca_file: &f.ca_file,
            pin_sha256: &f.pin_sha256,
            insecure_skip_verify: f.insecure_skip_verify,
        };
        let endpoint = Endpoint::validate(c, path, &endpoint, 993);
        let login = f
            .login
            .as_ref()
            .map(|l| Login::validate(c, &format!("{path}.login"), l));
        if f.mailbox.is_some() && login.is_none() {
            c.error_hint(
                &format!("{path}.mailbox"),
                "`mailbox` is selected after a login, and this probe has no `login`",
                "add `login: {user: ..., password: {secret: env:NAME}}`, or leave `mailbox` out",
            );
        }
        let (every, timeout) = c.schedule(path, &f.every, &f.timeout);
        ImapProbe {
            name: f.name.clone(),
            endpoint,
            login,
            mailbox: f.mailbox.clone().unwrap_or_else(|| "INBOX".to_string()),
            every,
            timeout,
            slow: c.opt_duration(&format!("{path}.slow"), &f.slow),
        }
    }

    fn secrets(&self) -> Vec<&crate::secret::Var> {
        self.login.iter().map(|l| &l.password).collect()
    }
}

/// `- imap:` as written; values stay text until [`super::validate_probes`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapProbeFile {
    pub name: String,
    /// `host:port`.
    pub target: String,
    /// `starttls`, `implicit` or `none`; default `implicit` on port 993, else `starttls`.
    pub tls: Option<String>,
    pub server_name: Option<String>,
    pub ca_file: Option<String>,
    /// Public key hashes (`sha256//BASE64`) trusted instead of roots.
    pub pin_sha256: Option<OneOrMany>,
    /// Trust any certificate (its expiry still exported).
    pub insecure_skip_verify: Option<bool>,
    pub login: Option<LoginFile>,
    /// Default INBOX.
    pub mailbox: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub every: String,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub timeout: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub slow: Option<String>,
}
