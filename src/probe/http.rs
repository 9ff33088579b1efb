//! The `http` probe: one request (and its redirects), checked for status, body text and speed.
//!
//! # How the phases are measured
//! reqwest does not say how long resolving, connecting or the TLS handshake took (blackbox gets
//! these from Go's `httptrace`). So this probe makes each request itself, on a fresh connection
//! per request, and times each step where it happens:
//! - `resolve`: `tokio::net::lookup_host` (an IP address in the URL resolves to itself, ~0);
//! - `connect`: `TcpStream::connect`, trying each resolved address until one accepts;
//! - `tls`: the tokio-rustls handshake (https only), then the chain is verified;
//! - `processing`: hyper's HTTP/1.1 client connection, from the connection being ready until
//!   the response head is parsed (blackbox: until the first response byte; the difference is
//!   the parsing of the head);
//! - `transfer`: from the head until the last body byte, for the final response only.
//!
//! Phases are summed over redirects, as blackbox does. HTTP/1.1 only (ALPN `http/1.1`): enough
//! to tell whether a shop answers, and it keeps the timings exact.
//!
//! Redirects (301, 302, 303, 307, 308) are followed up to 10 when `follow_redirects` (the
//! default); 303, and 301/302 after a POST, continue with GET, as browsers do. Cookies set along
//! the way are sent back to the same host (a session cookie set before a redirect, as many shops
//! do); configured `Authorization` and `Cookie` headers are not sent to another origin.

use super::net;
use super::Kind;
use super::{Phase, Probing, Verdict};
use crate::error_chain::error_chain;
use crate::yaml::check::{regex_reason, Checker};
use crate::yaml::scalars::{
    opt_scalar_text, parse_http_url, scalar_text, OneOrMany, StatusList, UrlProblem,
};
use ::http::header::{self, HeaderMap, HeaderValue};
use ::http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;

/// Redirects followed at most, as blackbox.
pub const MAX_REDIRECTS: u32 = 10;
/// Largest response body read; a larger one fails the probe.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// A validated `http` probe.
#[derive(Debug, Clone)]
pub struct HttpProbe {
    pub name: String,
    /// An `http` or `https` URL without credentials.
    pub url: Url,
    pub every: Duration,
    pub method: Method,
    /// Sent with every request (`Host` and `User-Agent` replace the defaults).
    pub headers: HeaderMap,
    /// Accepted final status codes; empty: any 2xx.
    pub expect_status: Vec<u16>,
    pub body_contains: Option<String>,
    pub body_matches: Option<regex::Regex>,
    pub follow_redirects: bool,
    /// `degraded` when the whole run takes longer.
    pub slow: Option<Duration>,
    pub timeout: Duration,
    /// What https trusts: `ca_file`'s roots or the system's, `pin_sha256`, or nothing.
    pub trust: net::Trust,
}

/// One response whose head arrived; the connection lives as long as this.
struct Sent {
    response: Response<Incoming>,
    _connection: AbortOnDrop,
}

impl HttpProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        let mut url = self.url.clone();
        let mut method = self.method.clone();
        let mut jar = CookieJar::default();
        let mut roots = None;
        loop {
            // Status and TLS are those of the final request, as in blackbox.
            p.metrics.http_status = None;
            p.metrics.tls = None;
            let sent = match self.send(&url, &method, &jar, &mut roots, p).await {
                Ok(sent) => sent,
                Err(verdict) => return verdict,
            };
            let status = sent.response.status();
            p.metrics.http_status = Some(status.as_u16());
            jar.store(&url, sent.response.headers());
            let location = redirect_location(status, sent.response.headers(), &url);
            if self.follow_redirects {
                if let Some(location) = location.clone() {
                    let next = match location {
                        Ok(next) => next,
                        Err(e) => return Verdict::failed(e),
                    };
                    if p.metrics.redirects >= MAX_REDIRECTS {
                        return Verdict::failed(format!(
                            "more than {MAX_REDIRECTS} redirects; the last one to {next}"
                        ));
                    }
                    p.metrics.redirects += 1;
                    if status == StatusCode::SEE_OTHER && method != Method::HEAD
                        || matches!(status.as_u16(), 301 | 302) && method == Method::POST
                    {
                        method = Method::GET;
                    }
                    url = next;
                    continue;
                }
            }
            let body = match read_body(sent, p).await {
                Ok(body) => body,
                Err(verdict) => return verdict,
            };
            p.metrics.body_bytes = Some(body.len() as u64);
            return self.judge(status, location, &body);
        }
    }

    /// The final response against `expect_status`, `body_contains` and `body_matches`.
    fn judge(
        &self,
        status: StatusCode,
        location: Option<Result<Url, String>>,
        body: &[u8],
    ) -> Verdict {
        let code = status.as_u16();
        let status_ok = if self.expect_status.is_empty() {
            status.is_success()
        } else {
            self.expect_status.contains(&code)
        };
        if !status_ok {
            let expected = match self.expect_status.as_slice() {
                [] => "2xx".to_string(),
                [one] => one.to_string(),
                many => format!(
                    "one of {}",
                    many.iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let to = match location {
                Some(Ok(to)) => format!(" (redirect to {to})"),
                _ => String::new(),
            };
            return Verdict::failed(format!("status {code}{to}, expected {expected}"));
        }
        let text = String::from_utf8_lossy(body);
        if let Some(needle) = &self.body_contains {
            if !text.contains(needle.as_str()) {
                return Verdict::failed(format!("body does not contain `{needle}`"));
            }
        }
        if let Some(re) = &self.body_matches {
            if !re.is_match(&text) {
                return Verdict::failed(format!("body does not match `{re}`"));
            }
        }
        Verdict::ok()
    }

    /// Resolves, connects, (for https) shakes hands and verifies, and sends one request.
    async fn send(
        &self,
        url: &Url,
        method: &Method,
        jar: &CookieJar,
        roots: &mut Option<Arc<net::Verifier>>,
        p: &mut Probing,
    ) -> Result<Sent, Verdict> {
        let https = url.scheme() == "https";
        let roots = match (https, roots.as_ref()) {
            (false, _) => None,
            (true, Some(loaded)) => Some(loaded.clone()),
            (true, None) => {
                let loaded = Arc::new(self.trust.load(&self.name).map_err(Verdict::error)?);
                *roots = Some(loaded.clone());
                Some(loaded)
            }
        };
        let Some(host) = url.host().map(|h| h.to_owned()) else {
            return Err(Verdict::error(format!("URL {url} has no host")));
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let request = self.request(url, method, jar)?;
        let addrs = net::resolve(&host, port, p).await?;
        let tcp = net::connect(&addrs, p).await?;
        match roots {
            None => exchange(tcp, request, p).await,
            Some(roots) => {
                let server_name = net::server_name(&host).map_err(Verdict::error)?;
                let tls = net::handshake(tcp, &server_name, &[b"http/1.1"], p).await?;
                p.doing = "checking the certificates";
                let inspection = net::inspect(&tls, &server_name, &roots, net::now())?;
                p.metrics.tls = Some(inspection.info);
                if let Some(problem) = inspection.problem {
                    return Err(Verdict::failed(format!("TLS: {problem}")));
                }
                exchange(tls, request, p).await
            }
        }
    }

    fn request(
        &self,
        url: &Url,
        method: &Method,
        jar: &CookieJar,
    ) -> Result<Request<Empty<Bytes>>, Verdict> {
        let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let mut request = Request::builder()
            .method(method.clone())
            .uri(target)
            .body(Empty::new())
            .map_err(|e| Verdict::error(format!("cannot build a request for {url}: {e}")))?;
        let headers = request.headers_mut();
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        if let Ok(host) = HeaderValue::from_str(&host) {
            headers.insert(header::HOST, host);
        }
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("shopwatch/", env!("CARGO_PKG_VERSION"))),
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        let same_origin = url.origin() == self.url.origin();
        for (name, value) in &self.headers {
            let credential = [
                header::AUTHORIZATION,
                header::COOKIE,
                header::PROXY_AUTHORIZATION,
            ]
            .contains(name);
            if same_origin || !credential {
                headers.insert(name.clone(), value.clone());
            }
        }
        if !headers.contains_key(header::COOKIE) {
            if let Some(cookies) = jar.header(url) {
                headers.insert(header::COOKIE, cookies);
            }
        }
        Ok(request)
    }
}

/// Sends `request` over `io` with an HTTP/1.1 client connection and waits for the response
/// head, timed as [`Phase::Processing`].
async fn exchange<S>(
    io: S,
    request: Request<Empty<Bytes>>,
    p: &mut Probing,
) -> Result<Sent, Verdict>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    p.doing = "waiting for the response";
    let started = Instant::now();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| Verdict::failed(format!("HTTP connection failed: {e}")))?;
    let connection = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender.send_request(request).await;
    p.metrics.add_phase(Phase::Processing, started.elapsed());
    match response {
        Ok(response) => Ok(Sent {
            response,
            _connection: connection,
        }),
        Err(e) => Err(Verdict::failed(format!(
            "no HTTP response: {}",
            error_chain(&e)
        ))),
    }
}

/// Reads the whole body (at most [`MAX_BODY_BYTES`]), timed as [`Phase::Transfer`].
async fn read_body(sent: Sent, p: &mut Probing) -> Result<Vec<u8>, Verdict> {
    p.doing = "reading the response body";
    let started = Instant::now();
    let Sent {
        response,
        _connection,
    } = sent;
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Verdict::failed(format!("reading the body failed: {}", error_chain(&e)))
        })?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > MAX_BODY_BYTES {
                return Err(Verdict::failed(format!(
                    "body is larger than {} MiB",
                    MAX_BODY_BYTES / 1024 / 1024
                )));
            }
            bytes.extend_from_slice(&data);
        }
    }
    p.metrics.add_phase(Phase::Transfer, started.elapsed());
    Ok(bytes)
}

/// Where a redirect response points: `None` when it is no redirect (or has no `Location`).
fn redirect_location(
    status: StatusCode,
    headers: &HeaderMap,
    url: &Url,
) -> Option<Result<Url, String>> {
    if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = headers.get(header::LOCATION)?;
    let text = String::from_utf8_lossy(location.as_bytes());
    Some(match url.join(&text) {
        Ok(next) if matches!(next.scheme(), "http" | "https") => Ok(next),
        Ok(next) => Err(format!(
            "status {status} redirects to {next}, which is not http or https"
        )),
        Err(e) => Err(format!(
            "status {status} redirects to `{text}`, which is not a URL: {e}"
        )),
    })
}

/// Cookies set during one run, sent back to the host that set them. Attributes (path, expiry,
/// domain) are ignored: the jar lives for one run only.
#[derive(Debug, Default)]
struct CookieJar {
    /// (host, name, value)
    cookies: Vec<(String, String, String)>,
}

impl CookieJar {
    fn store(&mut self, url: &Url, headers: &HeaderMap) {
        let host = url.host_str().unwrap_or_default();
        for value in headers.get_all(header::SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() {
                continue;
            }
            self.cookies.retain(|(h, n, _)| !(h == host && n == name));
            self.cookies
                .push((host.to_string(), name.to_string(), value.to_string()));
        }
    }

    fn header(&self, url: &Url) -> Option<HeaderValue> {
        let host = url.host_str().unwrap_or_default();
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .filter(|(h, _, _)| h == host)
            .map(|(_, name, value)| format!("{name}={value}"))
            .collect();
        if pairs.is_empty() {
            return None;
        }
        HeaderValue::from_str(&pairs.join("; ")).ok()
    }
}

/// Aborts the connection task when the probe is done with it, or is dropped by the timeout.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `- http:` as written; values stay text until [`super::validate_probes`].
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
    /// Public key hashes (`sha256//BASE64`) trusted instead of roots.
    pub pin_sha256: Option<OneOrMany>,
    /// Trust any certificate (expiry still read).
    pub insecure_skip_verify: Option<bool>,
}

fn validate(c: &mut Checker, path: &str, h: &HttpProbeFile) -> HttpProbe {
    let url_path = format!("{path}.url");
    let url = match parse_http_url(&h.url) {
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            c.error_hint(
                &url_path,
                "url must not hold credentials: they would show in logs and reasons",
                "send them as a header, e.g. `headers: {Authorization: \"Basic ...\"}`",
            );
            url
        }
        Ok(url) => url,
        Err(problem) => {
            let hint = match &problem {
                UrlProblem::Scheme(_) => "for a certificate check without HTTP, use a `tls` probe",
                UrlProblem::NotAUrl(_) => "write a full URL such as `https://shop.example.com/`",
            };
            c.error_hint(&url_path, problem.message("url", &h.url), hint);
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
    let method = c.http_method(&format!("{path}.method"), h.method.as_deref());
    let mut headers = ::http::HeaderMap::new();
    for (name, value) in &h.headers {
        if let Some((name, value)) = c.header(&format!("{path}.headers.{name}"), name, value) {
            headers.insert(name, value);
        }
    }
    let expect_status = c.status_codes(&format!("{path}.expect_status"), &h.expect_status);
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
        trust: c.trust(path, &h.ca_file, &h.pin_sha256, h.insecure_skip_verify),
    }
}

impl Kind for HttpProbe {
    type File = HttpProbeFile;

    fn file_name(file: &HttpProbeFile) -> &str {
        &file.name
    }

    fn validate(c: &mut Checker, path: &str, file: &HttpProbeFile) -> HttpProbe {
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

    fn slow(&self) -> Option<Duration> {
        self.slow
    }

    async fn check(&self, probing: &mut Probing) -> Verdict {
        self.probe_once(probing).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_resolve_against_the_current_url() {
        let url = Url::parse("http://shop.example:8080/account").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LOCATION,
            HeaderValue::from_static("/login?next=/account"),
        );
        assert_eq!(
            redirect_location(StatusCode::SEE_OTHER, &headers, &url)
                .unwrap()
                .unwrap()
                .as_str(),
            "http://shop.example:8080/login?next=/account"
        );
        assert!(redirect_location(StatusCode::OK, &headers, &url).is_none());
        headers.insert(
            header::LOCATION,
            HeaderValue::from_static("ftp://files.example/"),
        );
        assert!(redirect_location(StatusCode::FOUND, &headers, &url)
            .unwrap()
            .is_err());
    }

    #[test]
    fn cookies_go_back_to_their_host_only() {
        let a = Url::parse("http://a.example/").unwrap();
        let b = Url::parse("http://b.example/").unwrap();
        let mut headers = HeaderMap::new();
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_static("sid=1; Path=/; HttpOnly"),
        );
        headers.append(header::SET_COOKIE, HeaderValue::from_static("lang=de"));
        let mut jar = CookieJar::default();
        jar.store(&a, &headers);
        let mut again = HeaderMap::new();
        again.append(header::SET_COOKIE, HeaderValue::from_static("sid=2"));
        jar.store(&a, &again);
        assert_eq!(jar.header(&a).unwrap(), "lang=de; sid=2");
        assert!(jar.header(&b).is_none());
    }
}
