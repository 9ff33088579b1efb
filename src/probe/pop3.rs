//! The `pop3` probe: connect, read the `+OK` greeting, STLS offered and working (or TLS from
//! the first byte on port 995, or none), the certificate verified as the tls probe does; then,
//! with `login`, USER and PASS with the password secret and STAT (the mailbox opens); QUIT.
//!
//! `failed` when the server refuses, greets with `-ERR`, does not offer or finish STLS, its
//! certificate does not verify, or the login or STAT is refused (the reason quotes the server,
//! never the password); `error` for the monitor's own faults.

use super::mail::{quoted, Endpoint, Lines, Login, LoginFile, Protection};
use super::{Kind, Probing, Verdict};
use crate::yaml::check::Checker;
use crate::yaml::scalars::{opt_scalar_text, scalar_text};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// A validated `pop3` probe.
#[derive(Debug, Clone)]
pub struct Pop3Probe {
    pub name: String,
    pub endpoint: Endpoint,
    pub login: Option<Login>,
    pub every: Duration,
    pub timeout: Duration,
    pub slow: Option<Duration>,
}

impl Pop3Probe {
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
                    self.session(&mut Lines::new(tls), password.as_deref(), true, p)
                        .await
                }
                Err(verdict) => Err(verdict),
            },
            Protection::None => {
                self.session(&mut Lines::new(tcp), password.as_deref(), true, p)
                    .await
            }
            Protection::StartTls => {
                let mut lines = Lines::new(tcp);
                if let Err(verdict) = self.session(&mut lines, None, false, p).await {
                    return verdict;
                }
                if let Err(verdict) = self.stls(&mut lines, p).await {
                    return verdict;
                }
                match self
                    .endpoint
                    .secure(lines.into_inner(), &self.name, p)
                    .await
                {
                    Ok(tls) => {
                        self.after_tls(&mut Lines::new(tls), password.as_deref(), p)
                            .await
                    }
                    Err(verdict) => Err(verdict),
                }
            }
        };
        match result {
            Ok(()) => Verdict::ok(),
            Err(verdict) => verdict,
        }
    }

    /// The greeting; then, when `to_the_end`, the login and QUIT.
    async fn session<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        lines: &mut Lines<S>,
        password: Option<&str>,
        to_the_end: bool,
        p: &mut Probing,
    ) -> Result<(), Verdict> {
        let greeting = lines.read(p, "waiting for the greeting").await?;
        if !greeting.starts_with("+OK") {
            return Err(Verdict::failed(format!(
                "the server greets with {} instead of `+OK`",
                quoted(&greeting)
            )));
        }
        if to_the_end {
            self.after_tls(lines, password, p).await
        } else {
            Ok(())
        }
    }

    /// CAPA must list STLS; STLS must be accepted.
    async fn stls<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        lines: &mut Lines<S>,
        p: &mut Probing,
    ) -> Result<(), Verdict> {
        command(lines, "CAPA", "CAPA", p).await?;
        let mut capabilities = Vec::new();
        loop {
            let line = lines.read(p, "reading the capabilities").await?;
            if line == "." {
                break;
            }
            capabilities.push(line);
        }
        if !capabilities.iter().any(|c| c.eq_ignore_ascii_case("STLS")) {
            return Err(Verdict::failed(format!(
                "the server does not offer STLS (its capabilities: {})",
                capabilities.join(", ")
            )));
        }
        command(lines, "STLS", "STLS", p).await.map(|_| ())
    }

    /// USER, PASS and STAT when there is a login; then QUIT.
    async fn after_tls<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        lines: &mut Lines<S>,
        password: Option<&str>,
        p: &mut Probing,
    ) -> Result<(), Verdict> {
        if let (Some(login), Some(password)) = (&self.login, password) {
            command(lines, &format!("USER {}", login.user), "USER", p).await?;
            command(
                lines,
                &format!("PASS {password}"),
                &format!("the login of {}", login.user),
                p,
            )
            .await?;
            command(lines, "STAT", "STAT", p).await?;
        }
        let _ = command(lines, "QUIT", "QUIT", p).await;
        Ok(())
    }
}

/// Sends `line` and reads its status line, which must be `+OK`. `shown` names it in reasons.
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Lines<S>,
    line: &str,
    shown: &str,
    p: &mut Probing,
) -> Result<String, Verdict> {
    lines.send(line, shown).await?;
    let reply = lines.read(p, "waiting for the server's reply").await?;
    if reply.starts_with("+OK") {
        Ok(reply)
    } else {
        Err(Verdict::failed(format!(
            "{shown} refused: {}",
            quoted(&reply)
        )))
    }
}

impl Kind for Pop3Probe {
    type File = Pop3ProbeFile;
    kind_basics!(Pop3ProbeFile, slow);

    fn validate(c: &mut Checker, path: &str, f: &Pop3ProbeFile) -> Pop3Probe {
        let endpoint = Endpoint::validate(c, path, &f.endpoint(), 995);
        let (every, timeout) = c.schedule(path, &f.every, &f.timeout);
        Pop3Probe {
            name: f.name.clone(),
            endpoint,
            login: f
                .login
                .as_ref()
                .map(|l| Login::validate(c, &format!("{path}.login"), l)),
            every,
            timeout,
            slow: c.opt_duration(&format!("{path}.slow"), &f.slow),
        }
    }

    fn secrets(&self) -> Vec<&crate::secret::Var> {
        self.login.iter().map(|l| &l.password).collect()
    }
}

mail_file! {
    /// `- pop3:` as written; values stay text until [`super::validate_probes`].
    pub struct Pop3ProbeFile {
        pub name: String,
        pub login: Option<LoginFile>,
        #[serde(deserialize_with = "scalar_text")]
        pub every: String,
        #[serde(default, deserialize_with = "opt_scalar_text")]
        pub timeout: Option<String>,
        #[serde(default, deserialize_with = "opt_scalar_text")]
        pub slow: Option<String>,
    }
}
