//! Plain HTTP GETs for the kinds that read a document rather than time a request (domain,
//! feed, catalog, metric): a reqwest client trusting the system roots and an optional
//! `ca_file`, the document's own `headers` (an ERP export or a stats endpoint behind a token),
//! and a body read up to a cap.

use crate::secret::Var;
use crate::yaml::check::Checker;
use crate::yaml::secret::{var, VarFile};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// `headers:` as written: each value text or a secret.
pub type HeadersFile = BTreeMap<String, VarFile>;

/// Request headers a kind sends to its document's origin and to no other;
/// secret values are read at each run and redacted.
#[derive(Debug, Clone, Default)]
pub struct Headers(Vec<(HeaderName, Var)>);

impl Headers {
    pub(super) fn validate(c: &mut Checker, path: &str, written: &HeadersFile) -> Headers {
        let mut headers = Vec::new();
        for (name, value) in written {
            let at = format!("{path}.headers.{name}");
            let parsed = match value {
                VarFile::Text(text) => c.header(&at, name, text).map(|(name, _)| name),
                VarFile::Secret(_) => c.header_name(&at, name),
            };
            if let Some(parsed) = parsed {
                headers.push((parsed, var(c, &at, value)));
            }
        }
        Headers(headers)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The secret values, for the monitor's redaction.
    pub fn secrets(&self) -> impl Iterator<Item = &Var> {
        self.0
            .iter()
            .map(|(_, value)| value)
            .filter(|value| matches!(value, Var::Secret(_)))
    }

    /// The headers with their secrets read; what failed names the header, never a value.
    fn read(&self) -> Result<HeaderMap, String> {
        let mut map = HeaderMap::new();
        for (name, value) in &self.0 {
            let header = match value {
                Var::Text(text) => HeaderValue::from_str(text).ok(),
                Var::Secret(source) => {
                    let secret = crate::secret::read_secret(source)
                        .map_err(|e| format!("the header `{name}`: {e}"))?;
                    let mut header = HeaderValue::from_str(&secret).map_err(|_| {
                        format!("the header `{name}`: its secret is not a header value (visible ASCII text, no line breaks)")
                    })?;
                    header.set_sensitive(true);
                    Some(header)
                }
            };
            if let Some(header) = header {
                map.insert(name.clone(), header);
            }
        }
        Ok(map)
    }
}

/// The clients of a kind with `headers`: one sending them, for the origin (scheme, host and
/// port) of the document's URL; one without, for any other (a product page on the shop when
/// the document is the ERP's).
pub(super) struct Clients {
    own: reqwest::Client,
    other: reqwest::Client,
    origin: Option<url::Origin>,
}

impl Clients {
    pub(super) fn new(
        timeout: Duration,
        ca_file: Option<&Path>,
        headers: &Headers,
        document: Option<&url::Url>,
    ) -> Result<Clients, String> {
        let other = client(timeout, ca_file)?;
        let own = match document {
            Some(document) if !headers.is_empty() => {
                client_sending(timeout, ca_file, headers, document)?
            }
            _ => other.clone(),
        };
        Ok(Clients {
            own,
            other,
            origin: document.map(url::Url::origin),
        })
    }

    /// The client for a request to `url`.
    pub(super) fn to(&self, url: &str) -> &reqwest::Client {
        let origin = url::Url::parse(url).ok().map(|u| u.origin());
        match origin.is_some() && origin == self.origin {
            true => &self.own,
            false => &self.other,
        }
    }
}

/// The one client a kind that fetches only its document needs: sending `headers` when it has
/// some (to `document`'s origin only, as [`Clients`] does), else a plain one.
pub(super) fn document_client(
    timeout: Duration,
    ca_file: Option<&Path>,
    headers: &Headers,
    document: &url::Url,
) -> Result<reqwest::Client, String> {
    match headers.is_empty() {
        true => client(timeout, ca_file),
        false => client_sending(timeout, ca_file, headers, document),
    }
}

/// A client whose every request gives up after `timeout`.
pub(super) fn client(timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
    builder(timeout, ca_file)?
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))
}

/// A client like [`client`] sending `headers` with every request, for `document`'s origin: a
/// redirect to another origin is refused, as it would take them there (reqwest drops only
/// `Authorization` and cookies on the way, not an `X-Api-Key`).
fn client_sending(
    timeout: Duration,
    ca_file: Option<&Path>,
    headers: &Headers,
    document: &url::Url,
) -> Result<reqwest::Client, String> {
    let origin = document.origin();
    let shown = origin.ascii_serialization();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.url().origin() != origin {
            let to = attempt.url().to_string();
            attempt.error(format!(
                "it redirects to {to}, another origin than {shown}, where its headers are not sent: give the URL it ends at"
            ))
        } else if attempt.previous().len() >= 10 {
            attempt.error("over 10 redirects")
        } else {
            attempt.follow()
        }
    });
    builder(timeout, ca_file)?
        .default_headers(headers.read()?)
        .redirect(redirects)
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))
}

/// The settings every client here shares: its name, `timeout`, and the roots it trusts.
fn builder(timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::ClientBuilder, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("shopwatch/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout);
    if let Some(file) = ca_file {
        let pem = std::fs::read(file)
            .map_err(|e| format!("cannot read ca_file {}: {e}", file.display()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("ca_file {}: {e}", file.display()))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// The body, refused past `max` bytes.
pub(super) async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, String> {
    // Sized by Content-Length (within `max`): grown by doubling, a large body would take up to
    // twice its size.
    let expected = response.content_length().unwrap_or(0).min(max as u64) as usize;
    let mut body = Vec::with_capacity(expected);
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        body.extend_from_slice(&chunk);
        if body.len() > max {
            return Err(format!("the answer is over {} MiB", max >> 20));
        }
    }
    Ok(body)
}
