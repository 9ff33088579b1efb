//! What the kinds share on the wire: resolve, connect, the TLS handshake, and the inspection of
//! the certificates a server presents.
//!
//! The handshake accepts any certificate (it still checks the server's handshake signature
//! against the certificate it sent), so that a chain which does not verify can still be read
//! and reported; [`inspect`] then verifies that chain with webpki, the verifier rustls itself
//! uses, against the trusted roots and the server name, or (a self-signed certificate) looks
//! for a pinned public key among them, or verifies nothing ([`Trust`]); expiry is read in
//! every case. Nothing is sent over the connection before that check passed.

use super::{CertInfo, Phase, Probing, TlsInfo, Verdict};
use crate::capped;
use crate::resources::local_cause;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{aws_lc_rs, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use url::Host;

/// Resolves `host` (an IP address resolves to itself), timed as [`Phase::Resolve`].
pub(super) async fn resolve(
    host: &Host<String>,
    port: u16,
    p: &mut Probing,
) -> Result<Vec<SocketAddr>, Verdict> {
    p.doing = "resolving the host name";
    let started = Instant::now();
    let addrs = match host {
        Host::Ipv4(ip) => vec![SocketAddr::new((*ip).into(), port)],
        Host::Ipv6(ip) => vec![SocketAddr::new((*ip).into(), port)],
        Host::Domain(name) => match tokio::net::lookup_host((name.as_str(), port)).await {
            Ok(addrs) => addrs.collect(),
            Err(e) => {
                return Err(match local_cause(&e) {
                    Some(cause) => Verdict::error(format!("cannot resolve `{name}`: {cause}")),
                    None => Verdict::failed(format!("cannot resolve `{name}`: {e}")),
                })
            }
        },
    };
    p.metrics.add_phase(Phase::Resolve, started.elapsed());
    if addrs.is_empty() {
        return Err(Verdict::failed(format!("`{host}` resolves to no address")));
    }
    Ok(addrs)
}

/// Connects to the first of `addrs` that accepts, timed as [`Phase::Connect`].
pub(super) async fn connect(addrs: &[SocketAddr], p: &mut Probing) -> Result<TcpStream, Verdict> {
    p.doing = "connecting";
    let started = Instant::now();
    let mut errors = Vec::new();
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                p.metrics.add_phase(Phase::Connect, started.elapsed());
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            // Out of descriptors, memory or network here: no other address will do better.
            Err(e) => match local_cause(&e) {
                Some(cause) => {
                    p.metrics.add_phase(Phase::Connect, started.elapsed());
                    return Err(Verdict::error(format!("cannot connect to {addr}: {cause}")));
                }
                None => errors.push(format!("{addr}: {e}")),
            },
        }
    }
    p.metrics.add_phase(Phase::Connect, started.elapsed());
    Err(Verdict::failed(format!(
        "cannot connect to {}",
        errors.join("; ")
    )))
}

/// The TLS handshake with SNI `server_name`, timed as [`Phase::Tls`], accepting any certificate
/// chain: call [`inspect`] before trusting the connection.
pub(super) async fn handshake(
    tcp: TcpStream,
    server_name: &ServerName<'static>,
    alpn: &[&[u8]],
    p: &mut Probing,
) -> Result<TlsStream<TcpStream>, Verdict> {
    p.doing = "in the TLS handshake";
    let config = client_config(alpn).map_err(Verdict::error)?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let started = Instant::now();
    let result = connector.connect(server_name.clone(), tcp).await;
    p.metrics.add_phase(Phase::Tls, started.elapsed());
    result.map_err(|e| Verdict::failed(format!("TLS handshake failed: {e}")))
}

/// A TLS session the probe may trust: the handshake, then the presented certificates checked
/// as `trust` says and recorded in the metrics before anything is sent over it; `failed` when
/// they do not verify. `probe` names the probe in a `ca_file` error.
pub(super) async fn secure(
    tcp: TcpStream,
    server_name: &ServerName<'static>,
    probe: &str,
    trust: &Trust,
    p: &mut Probing,
) -> Result<TlsStream<TcpStream>, Verdict> {
    let verifier = trust.load(probe).map_err(Verdict::error)?;
    let tls = handshake(tcp, server_name, &[], p).await?;
    p.doing = "checking the certificates";
    let inspection = inspect(&tls, server_name, &verifier, now())?;
    p.metrics.tls = Some(inspection.info);
    match inspection.problem {
        Some(problem) => Err(Verdict::failed(problem)),
        None => Ok(tls),
    }
}

/// The client configuration for handshakes offering `alpn`, made once per process and shared
/// by every probe (it holds no per-connection state; made per handshake it cost an allocation
/// of the provider, the verifier and a session cache each time). Session resumption is off, as
/// it was with a fresh configuration per handshake: every handshake is a full one, timed the
/// same way, in which the server presents its certificates (a resumed TLS 1.3 handshake
/// presents none).
fn client_config(alpn: &[&[u8]]) -> Result<Arc<rustls::ClientConfig>, String> {
    type Configs = Vec<(Vec<Vec<u8>>, Arc<rustls::ClientConfig>)>;
    static CONFIGS: Mutex<Configs> = Mutex::new(Vec::new());
    let alpn: Vec<Vec<u8>> = alpn.iter().map(|p| p.to_vec()).collect();
    let mut configs = CONFIGS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, config)) = configs.iter().find(|(a, _)| *a == alpn) {
        return Ok(config.clone());
    }
    let provider = Arc::new(aws_lc_rs::default_provider());
    let verifier = Arc::new(AnyCertificate {
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = alpn.clone();
    config.resumption = rustls::client::Resumption::disabled();
    let config = Arc::new(config);
    configs.push((alpn, config.clone()));
    Ok(config)
}

/// Accepts every certificate chain, so that one which does not verify can be read; still
/// checks that the server holds the key of the certificate it sent.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Trusted root certificates: the anchors webpki needs, and each one's subject and expiry.
#[derive(Debug)]
pub(super) struct Roots {
    anchors: Vec<TrustAnchor<'static>>,
    /// Per anchor (same index): its certificate's subject and `not_after`.
    certs: Vec<(String, i64)>,
}

impl Roots {
    fn from_certs<'a>(certs: impl IntoIterator<Item = &'a CertificateDer<'a>>) -> Roots {
        let mut roots = Roots {
            anchors: Vec::new(),
            certs: Vec::new(),
        };
        for der in certs {
            let (Ok(anchor), Ok(info)) = (webpki::anchor_from_trusted_cert(der), cert_info(der))
            else {
                continue;
            };
            roots.anchors.push(anchor.to_owned());
            roots.certs.push((info.subject, info.not_after));
        }
        roots
    }

    fn find(&self, anchor: &TrustAnchor<'_>) -> Option<&(String, i64)> {
        self.anchors
            .iter()
            .position(|a| {
                a.subject == anchor.subject
                    && a.subject_public_key_info == anchor.subject_public_key_info
            })
            .map(|i| &self.certs[i])
    }
}

/// The roots in `ca_file` (PEM), read on every call so that a replaced file counts at the next
/// run; or the system's roots, loaded once per process. An `Err` is a monitor fault.
/// `probe` names the probe in the messages.
pub(super) fn roots(probe: &str, ca_file: Option<&Path>) -> Result<Arc<Roots>, String> {
    match ca_file {
        Some(path) => {
            let pem = match capped::read(path, capped::CA_FILE) {
                Ok(pem) => pem,
                Err(capped::ReadError::TooLarge { cap }) => {
                    return Err(format!(
                        "ca_file {} of probe `{probe}` holds more than {}, the most a CA file may be: point `ca_file` at a PEM file with only the CA certificates to trust",
                        path.display(),
                        capped::size(cap)
                    ))
                }
                Err(e) => return Err(format!("cannot read ca_file {}: {e}", path.display())),
            };
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("ca_file {} is not valid PEM: {e}", path.display()))?;
            let roots = Roots::from_certs(&certs);
            if roots.anchors.is_empty() {
                return Err(format!(
                    "ca_file {} holds no usable PEM certificate",
                    path.display()
                ));
            }
            Ok(Arc::new(roots))
        }
        None => {
            static SYSTEM: OnceLock<Result<Arc<Roots>, String>> = OnceLock::new();
            SYSTEM
                .get_or_init(|| {
                    let found = rustls_native_certs::load_native_certs();
                    let roots = Roots::from_certs(&found.certs);
                    if roots.anchors.is_empty() {
                        let why = found.errors.first().map(|e| format!(" ({e})")).unwrap_or_default();
                        return Err(format!(
                            "no system root certificates found{why}: install the ca-certificates package or give `ca_file`"
                        ));
                    }
                    Ok(Arc::new(roots))
                })
                .clone()
        }
    }
}

/// What a probe trusts in a server's certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The chain verified against the roots of this PEM file (`ca_file`), or the system's, and
    /// the leaf valid for the server name.
    Roots(Option<PathBuf>),
    /// A presented certificate whose public key (SubjectPublicKeyInfo) has one of these
    /// SHA-256 hashes (`pin_sha256`): a self-signed or private certificate, known by its key.
    Pinned(Vec<[u8; 32]>),
    /// Nothing verified (`insecure_skip_verify`); expiry is still watched.
    Insecure,
}

/// [`Trust`] made ready for one run: the roots read.
pub(super) enum Verifier {
    Roots(Arc<Roots>),
    Pinned(Vec<[u8; 32]>),
    Insecure,
}

impl Trust {
    /// Reads what verifying needs (the roots); an `Err` is a monitor fault.
    pub(super) fn load(&self, probe: &str) -> Result<Verifier, String> {
        Ok(match self {
            Trust::Roots(ca_file) => Verifier::Roots(roots(probe, ca_file.as_deref())?),
            Trust::Pinned(pins) => Verifier::Pinned(pins.clone()),
            Trust::Insecure => Verifier::Insecure,
        })
    }
}

/// `sha256//BASE64` of the SHA-256 of a certificate's SubjectPublicKeyInfo (curl's
/// `--pinnedpubkey` form); None when it cannot be parsed.
pub fn public_key_pin(der: &[u8]) -> Option<String> {
    use base64::Engine;
    let hash = public_key_sha256(der)?;
    Some(format!(
        "sha256//{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    ))
}

fn public_key_sha256(der: &[u8]) -> Option<[u8; 32]> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let digest = ::aws_lc_rs::digest::digest(
        &::aws_lc_rs::digest::SHA256,
        cert.tbs_certificate.subject_pki.raw,
    );
    digest.as_ref().try_into().ok()
}

/// The certificates of a completed handshake, read and verified.
pub(super) struct Inspection {
    pub info: TlsInfo,
    /// Why the chain or the name does not verify; `None` when both do.
    pub problem: Option<String>,
    /// The expiry `warn_days` watches and its certificate's subject: the verified chain's
    /// first, or without verification the first of the presented certificates.
    pub watched_expiry: Option<(i64, String)>,
}

/// Reads the presented chain of `tls` and verifies it against `roots` and `server_name` at
/// `now` (Unix seconds). `Err` when a presented certificate cannot be parsed (a failed check).
pub(super) fn inspect(
    tls: &TlsStream<TcpStream>,
    server_name: &ServerName<'_>,
    verifier: &Verifier,
    now: UnixTime,
) -> Result<Inspection, Verdict> {
    let (_, conn) = tls.get_ref();
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        _ => "unknown".to_string(),
    };
    let presented: &[CertificateDer<'static>] = conn.peer_certificates().unwrap_or_default();
    match verifier {
        Verifier::Roots(roots) => inspect_chain(presented, version, server_name, roots, now),
        Verifier::Pinned(pins) => inspect_unverified(presented, version, Some(pins), now),
        Verifier::Insecure => inspect_unverified(presented, version, None, now),
    }
}

/// The presented certificates read without verifying the chain: the probe fails when none
/// has a pinned key (with `pins`) or the leaf is expired or not valid yet.
fn inspect_unverified(
    presented: &[CertificateDer<'_>],
    version: String,
    pins: Option<&[[u8; 32]]>,
    now: UnixTime,
) -> Result<Inspection, Verdict> {
    let certs = parse_presented(presented)?;
    let Some(earliest_expiry) = certs.iter().map(|c| c.not_after).min() else {
        return Err(Verdict::failed("the server presented no certificate"));
    };
    let now_secs = now.as_secs() as i64;
    let leaf = &certs[0];
    let mut problem = None;
    if let Some(pins) = pins {
        let pinned = presented
            .iter()
            .filter_map(|der| public_key_sha256(der))
            .any(|hash| pins.contains(&hash));
        if !pinned {
            problem = Some(format!(
                "no certificate the server presented has a pinned public key (pin_sha256); its leaf `{}` has `{}`",
                leaf.subject,
                public_key_pin(&presented[0]).unwrap_or_else(|| "?".to_string())
            ));
        }
    }
    if problem.is_none() && leaf.not_after < now_secs {
        problem = Some(format!(
            "certificate `{}` expired on {}",
            leaf.subject,
            show_time(leaf.not_after)
        ));
    } else if problem.is_none() && leaf.not_before > now_secs {
        problem = Some(format!(
            "certificate `{}` is not valid before {}",
            leaf.subject,
            show_time(leaf.not_before)
        ));
    }
    let watched_expiry = certs.iter().map(|c| (c.not_after, c.subject.clone())).min();
    Ok(Inspection {
        info: TlsInfo {
            version,
            // Not verified against any roots, whatever else passed.
            verified: false,
            certs,
            earliest_expiry,
            last_chain_expiry: None,
        },
        problem,
        watched_expiry,
    })
}

fn parse_presented(presented: &[CertificateDer<'_>]) -> Result<Vec<CertInfo>, Verdict> {
    let mut certs = Vec::with_capacity(presented.len());
    for (i, der) in presented.iter().enumerate() {
        match cert_info(der) {
            Ok(info) => certs.push(info),
            Err(e) => {
                return Err(Verdict::failed(format!(
                    "the server's certificate #{} cannot be parsed: {e}",
                    i + 1
                )))
            }
        }
    }
    Ok(certs)
}

fn inspect_chain(
    presented: &[CertificateDer<'_>],
    version: String,
    server_name: &ServerName<'_>,
    roots: &Roots,
    now: UnixTime,
) -> Result<Inspection, Verdict> {
    let certs = parse_presented(presented)?;
    let Some(earliest_expiry) = certs.iter().map(|c| c.not_after).min() else {
        return Err(Verdict::failed("the server presented no certificate"));
    };
    let algorithms = aws_lc_rs::default_provider()
        .signature_verification_algorithms
        .all;
    let leaf = match webpki::EndEntityCert::try_from(&presented[0]) {
        Ok(leaf) => leaf,
        Err(e) => {
            return Err(Verdict::failed(format!(
                "the server's certificate cannot be used: {e}"
            )))
        }
    };
    let path = leaf.verify_for_usage(
        algorithms,
        &roots.anchors,
        &presented[1..],
        now,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    );
    // The certificate on the verified path that expires first: (not_after, subject).
    let mut chain_expiry = None;
    let mut problem = match &path {
        Ok(path) => {
            let leaf = (certs[0].not_after, certs[0].subject.clone());
            let intermediates = path
                .intermediate_certificates()
                .filter_map(|cert| presented.iter().position(|p| *p == cert.der()))
                .map(|i| (certs[i].not_after, certs[i].subject.clone()));
            let root = roots
                .find(path.anchor())
                .map(|(subject, not_after)| (*not_after, subject.clone()));
            chain_expiry = std::iter::once(leaf).chain(intermediates).chain(root).min();
            None
        }
        Err(e) => Some(chain_problem(e, &certs)),
    };
    if problem.is_none() {
        if let Err(e) = leaf.verify_is_valid_for_subject_name(server_name) {
            problem = Some(name_problem(&e, server_name, &certs[0]));
        }
    }
    let last_chain_expiry = chain_expiry.as_ref().map(|(at, _)| *at);
    Ok(Inspection {
        info: TlsInfo {
            version,
            verified: problem.is_none(),
            certs,
            earliest_expiry,
            last_chain_expiry,
        },
        problem,
        watched_expiry: chain_expiry,
    })
}

/// Why webpki refused the chain, naming the certificate where that helps.
fn chain_problem(error: &webpki::Error, certs: &[CertInfo]) -> String {
    match error {
        webpki::Error::CertExpired { not_after, .. } => {
            let not_after = not_after.as_secs() as i64;
            match certs.iter().find(|c| c.not_after == not_after) {
                Some(cert) => format!(
                    "certificate `{}` expired on {}",
                    cert.subject,
                    show_time(not_after)
                ),
                None => format!(
                    "a certificate of the chain expired on {}",
                    show_time(not_after)
                ),
            }
        }
        webpki::Error::CertNotValidYet { not_before, .. } => {
            let not_before = not_before.as_secs() as i64;
            match certs.iter().find(|c| c.not_before == not_before) {
                Some(cert) => format!(
                    "certificate `{}` is not valid before {}",
                    cert.subject,
                    show_time(not_before)
                ),
                None => format!(
                    "a certificate of the chain is not valid before {}",
                    show_time(not_before)
                ),
            }
        }
        // A trusted CA with the issuer's name but another key (Debian's snakeoil certificate
        // is "CN=localhost", say) makes webpki report the signature instead of the issuer.
        webpki::Error::UnknownIssuer
        | webpki::Error::InvalidSignatureForPublicKey
        | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | webpki::Error::UnsupportedSignatureAlgorithmContext(_) => {
            let leaf = &certs[0];
            if certs.len() == 1 && leaf.subject == leaf.issuer {
                return format!(
                    "certificate chain does not verify: `{}` is self-signed and not a trusted CA",
                    leaf.subject
                );
            }
            // The first certificate whose issuer the server did not send.
            let unsent = certs.iter().find(|c| {
                c.subject != c.issuer && !certs.iter().any(|other| other.subject == c.issuer)
            });
            match (unsent, error) {
                (Some(top), _) => format!(
                    "certificate chain does not verify: `{}` is issued by `{}`, which the server did not send and which is not a trusted CA (is an intermediate certificate missing?)",
                    top.subject, top.issuer
                ),
                (None, webpki::Error::UnknownIssuer) => {
                    let last = &certs[certs.len() - 1];
                    format!(
                        "certificate chain does not verify: it ends at `{}`, which is not a trusted CA",
                        last.subject
                    )
                }
                (None, webpki::Error::InvalidSignatureForPublicKey) => {
                    "certificate chain does not verify: a signature does not match the issuer's key".to_string()
                }
                (None, _) => {
                    "certificate chain does not verify: a signature algorithm is not supported or does not fit the issuer's key".to_string()
                }
            }
        }
        webpki::Error::CaUsedAsEndEntity => {
            "certificate chain does not verify: the server's certificate is a CA certificate".to_string()
        }
        webpki::Error::EndEntityUsedAsCa => {
            "certificate chain does not verify: a certificate that is not a CA issued another".to_string()
        }
        webpki::Error::RequiredEkuNotFoundContext(_) => {
            "certificate chain does not verify: the server's certificate is not for server authentication (extended key usage)".to_string()
        }
        other => format!("certificate chain does not verify: {other:?}"),
    }
}

fn name_problem(error: &webpki::Error, server_name: &ServerName<'_>, leaf: &CertInfo) -> String {
    let name = server_name.to_str();
    match error {
        webpki::Error::CertNotValidForName(_) if leaf.names.is_empty() => {
            format!("certificate is not valid for `{name}`: it names no host (no subject alternative names)")
        }
        webpki::Error::CertNotValidForName(_) => {
            format!(
                "certificate is not valid for `{name}`: it is for {}",
                leaf.names.join(", ")
            )
        }
        other => format!("certificate is not valid for `{name}`: {other}"),
    }
}

/// Subject, issuer, validity and names of one DER certificate.
fn cert_info(der: &CertificateDer<'_>) -> Result<CertInfo, String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(dns.to_string()),
                GeneralName::IPAddress(bytes) => ip_text(bytes),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        names,
    })
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| std::net::Ipv4Addr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| std::net::Ipv6Addr::from(b).to_string()),
        _ => None,
    }
}

/// Unix seconds as `2025-06-01 12:00:00 UTC`.
pub(super) fn show_time(secs: i64) -> String {
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => format!("@{secs}"),
    }
}

/// The TLS server name of a URL's host: a DNS name, or an IP address (then no SNI is sent).
pub(super) fn server_name(host: &Host<String>) -> Result<ServerName<'static>, String> {
    match host {
        Host::Domain(name) => ServerName::try_from(name.clone())
            .map_err(|e| format!("`{name}` cannot be a TLS server name: {e}")),
        Host::Ipv4(ip) => Ok(ServerName::from(std::net::IpAddr::V4(*ip))),
        Host::Ipv6(ip) => Ok(ServerName::from(std::net::IpAddr::V6(*ip))),
    }
}

/// The current time for certificate checks.
pub(super) fn now() -> UnixTime {
    UnixTime::now()
}

/// The name a certificate must be valid for when none is configured: the host, an IP address
/// without brackets.
pub(super) fn default_server_name(host: &Host<String>) -> String {
    match host {
        Host::Domain(name) => name.clone(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(subject: &str, issuer: &str) -> CertInfo {
        CertInfo {
            subject: subject.to_string(),
            issuer: issuer.to_string(),
            not_before: 0,
            not_after: 1_700_000_000,
            names: vec![],
        }
    }

    #[test]
    fn chain_problems_name_the_certificate_at_fault() {
        let complete = [cert("CN=leaf", "CN=ca"), cert("CN=ca", "CN=ca")];
        assert_eq!(
            chain_problem(&webpki::Error::UnknownIssuer, &complete),
            "certificate chain does not verify: it ends at `CN=ca`, which is not a trusted CA"
        );
        assert_eq!(
            chain_problem(&webpki::Error::InvalidSignatureForPublicKey, &complete),
            "certificate chain does not verify: a signature does not match the issuer's key"
        );
        let missing = [cert("CN=leaf", "CN=intermediate")];
        assert!(
            chain_problem(&webpki::Error::InvalidSignatureForPublicKey, &missing).contains(
                "`CN=leaf` is issued by `CN=intermediate`, which the server did not send"
            )
        );
        let expired = webpki::Error::CertExpired {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
        };
        assert_eq!(
            chain_problem(&expired, &missing),
            "certificate `CN=leaf` expired on 2023-11-14 22:13:20 UTC"
        );
    }
}
