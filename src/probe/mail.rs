//! What the mail kinds (`smtp`, `imap`, `pop3`) share: how the connection is protected, the
//! optional login (its password a secret), and reading the server's lines.

use super::tls::split_target;
use super::{net, Probing, Verdict};
use crate::secret::Var;
use crate::yaml::check::Checker;
use crate::yaml::scalars::OneOrMany;
use crate::yaml::secret::{var, VarFile};
use rustls::pki_types::ServerName;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// A line longer than this is not a mail server's.
const MAX_LINE: usize = 16 * 1024;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Upgraded after the greeting (SMTP STARTTLS, IMAP STARTTLS, POP3 STLS); the server must
    /// offer it.
    StartTls,
    /// TLS from the first byte (ports 465, 993, 995).
    Implicit,
    /// Plain text only (a server inside the shop's network).
    None,
}

impl Protection {
    /// `tls:` as written; without it, `implicit` on `implicit_port`, else `starttls`.
    pub(super) fn validate(
        c: &mut Checker,
        path: &str,
        text: Option<&str>,
        port: u16,
        implicit_port: u16,
    ) -> Protection {
        match text.map(str::trim) {
            None if port == implicit_port => Protection::Implicit,
            None | Some("starttls") => Protection::StartTls,
            Some("implicit") => Protection::Implicit,
            Some("none") => Protection::None,
            Some(other) => {
                c.error_hint(
                    &format!("{path}.tls"),
                    format!("unknown tls mode `{other}`"),
                    format!("`starttls`, `implicit` (port {implicit_port}) or `none`"),
                );
                Protection::StartTls
            }
        }
    }
}

/// Where a mail server is and how it is reached: `target`, `tls`, `server_name`, and what its
/// certificate is trusted by (`ca_file`, `pin_sha256` or `insecure_skip_verify`).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub host: url::Host<String>,
    pub port: u16,
    pub tls: Protection,
    /// Sent as SNI and checked against the certificate; default the host.
    pub server_name: String,
    pub trust: net::Trust,
}

impl Endpoint {
    /// Validates those keys; `implicit_port` is the port where TLS comes first (465, 993, 995).
    pub(super) fn validate(
        c: &mut Checker,
        path: &str,
        file: &EndpointFile,
        implicit_port: u16,
    ) -> Endpoint {
        let EndpointFile {
            target,
            tls,
            server_name,
            ca_file,
            pin_sha256,
            insecure_skip_verify,
        } = file;
        let tls = tls.as_deref();
        let (host, port) = match split_target(target) {
            Ok(target) => target,
            Err((message, hint)) => {
                c.error_hint(&format!("{path}.target"), message, hint);
                (
                    url::Host::Domain("invalid.invalid".to_string()),
                    implicit_port,
                )
            }
        };
        Endpoint {
            tls: Protection::validate(c, path, tls, port, implicit_port),
            server_name: (*server_name)
                .clone()
                .unwrap_or_else(|| net::default_server_name(&host)),
            trust: c.trust(path, ca_file, pin_sha256, *insecure_skip_verify),
            host,
            port,
        }
    }

    /// The name the certificate must be valid for, as rustls takes it.
    pub(super) fn server_name(&self) -> Result<ServerName<'static>, Verdict> {
        ServerName::try_from(self.server_name.clone()).map_err(|e| {
            Verdict::error(format!(
                "server_name `{}` cannot be used: {e}",
                self.server_name
            ))
        })
    }

    /// Resolves and connects, timed as the phases.
    pub(super) async fn connect(&self, p: &mut Probing) -> Result<tokio::net::TcpStream, Verdict> {
        let addrs = net::resolve(&self.host, self.port, p).await?;
        net::connect(&addrs, p).await
    }

    /// The TLS upgrade of `tcp`, the certificate checked (see [`net::secure`]).
    pub(super) async fn secure(
        &self,
        tcp: tokio::net::TcpStream,
        probe: &str,
        p: &mut Probing,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, Verdict> {
        let name = self.server_name()?;
        net::secure(tcp, &name, probe, &self.trust, p).await
    }
}

/// The keys of an [`Endpoint`] as written, borrowed from a kind's file.
pub(super) struct EndpointFile<'a> {
    pub target: &'a str,
    pub tls: &'a Option<String>,
    pub server_name: &'a Option<String>,
    pub ca_file: &'a Option<String>,
    pub pin_sha256: &'a Option<OneOrMany>,
    pub insecure_skip_verify: Option<bool>,
}

/// `login: {user, password}` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginFile {
    pub user: String,
    /// A secret: `{secret: env:NAME}` or `{secret: file:PATH}`.
    pub password: VarFile,
}

/// A validated login; the password is read at each run.
#[derive(Debug, Clone)]
pub struct Login {
    pub user: String,
    pub password: Var,
}

impl Login {
    pub(super) fn validate(c: &mut Checker, path: &str, login: &LoginFile) -> Login {
        let password_path = format!("{path}.password");
        if let VarFile::Text(_) = login.password {
            c.error_hint(
                &password_path,
                "the password is a secret: written here it would be in the file for anyone who reads it",
                "give it as a secret, e.g. `password: {secret: env:SHOP_MAIL_PASSWORD}`",
            );
        }
        Login {
            user: login.user.clone(),
            password: var(c, &password_path, &login.password),
        }
    }

    /// The password, or the monitor's error (never the value).
    pub(super) fn password(&self) -> Result<String, Verdict> {
        match &self.password {
            Var::Text(text) => Ok(text.clone()),
            Var::Secret(source) => crate::secret::read_secret(source)
                .map_err(|e| Verdict::error(format!("the login password: {e}"))),
        }
    }
}

/// A mail connection, plain or TLS: a session goes on the same whichever it became.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection's lines.
pub(super) struct Lines<S> {
    stream: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Lines<S> {
    pub fn new(stream: S) -> Self {
        Lines {
            stream: BufReader::new(stream),
        }
    }

    /// The connection, for the TLS upgrade (the server sends nothing before it).
    pub fn into_inner(self) -> S {
        self.stream.into_inner()
    }

    /// One line without its end; `what` says what was awaited, for the timeout reason.
    pub async fn read(&mut self, p: &mut Probing, what: &'static str) -> Result<String, Verdict> {
        p.doing = what;
        let mut line = String::new();
        match (&mut self.stream)
            .take(MAX_LINE as u64)
            .read_line(&mut line)
            .await
        {
            Ok(0) => Err(Verdict::failed(
                "the server closed the connection without a reply",
            )),
            Ok(_) if !line.ends_with('\n') && line.len() >= MAX_LINE => Err(Verdict::failed(
                "the server's line is over 16 KiB: not a mail server",
            )),
            Ok(_) => Ok(line.trim_end_matches(['\r', '\n']).to_string()),
            Err(e) => Err(Verdict::failed(format!("reading the server's reply: {e}"))),
        }
    }

    /// Writes `line` and its CRLF. `shown` is how a failure names it (never a password).
    pub async fn send(&mut self, line: &str, shown: &str) -> Result<(), Verdict> {
        let stream = self.stream.get_mut();
        let sent = async {
            stream.write_all(format!("{line}\r\n").as_bytes()).await?;
            stream.flush().await
        };
        sent.await
            .map_err(|e| Verdict::failed(format!("cannot send {shown}: {e}")))
    }
}

/// What a server said, for a reason: at most 200 characters, quoted.
pub(super) fn quoted(line: &str) -> String {
    format!("{:?}", line.chars().take(200).collect::<String>())
}
