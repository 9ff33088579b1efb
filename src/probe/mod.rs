//! Probes: cheap checks that need no browser (HTTP uptime, TLS certificate; later DNS, RDAP,
//! feeds).
//!
//! One extension point: the `probes!` list below. Each kind is one file (`http.rs`, `tls.rs`)
//! holding its settings as written, their validation and its check, and implements [`Kind`];
//! [`ProbeFile`] (as written) and [`ProbeConfig`] (validated) and every `match` over the kinds
//! are generated from the list, so a new kind is its file and one line.
//! [`ProbeConfig::run`] does the work every kind shares, as blackbox_exporter's handler does: the
//! overall timeout, the duration and the `slow` budget. A kind only checks and fills in its
//! metrics.
//!
//! A failed check is data (an [`Outcome`] with a reason), never an `Err`: `failed` when the shop
//! is at fault (refused connection, wrong status, bad certificate, timeout), `error` only when
//! the monitor is (an unreadable `ca_file`, no system root certificates).
//!
//! [`ProbeResult::metrics`] is plain typed data; each field says which blackbox_exporter metric
//! it feeds, so the metrics module can export them with the same names and meaning, and existing
//! dashboards and alert rules work.
//!
//! Configuration (`probes:` with `- http: {...}` and `- tls: {...}` items) is parsed and
//! validated in [`config`].

/// The parts of a [`Kind`] impl that every kind writes alike, for a probe struct with `name`,
/// `every` and `timeout` fields (and `slow` with `slow`) whose check is `probe_once`.
macro_rules! kind_basics {
    ($file:ty) => {
        fn file_name(file: &$file) -> &str {
            &file.name
        }

        fn name(&self) -> &str {
            &self.name
        }

        fn every(&self) -> std::time::Duration {
            self.every
        }

        fn timeout(&self) -> std::time::Duration {
            self.timeout
        }

        async fn check(&self, probing: &mut super::Probing) -> super::Verdict {
            self.probe_once(probing).await
        }
    };
    ($file:ty, slow) => {
        kind_basics!($file);

        fn slow(&self) -> Option<std::time::Duration> {
            self.slow
        }
    };
}

/// A mail kind's settings as written (`smtp`, `imap`, `pop3`, the delivery check's mailbox):
/// the connection's keys every one takes, then its own; `endpoint()` hands the first to
/// `mail::Endpoint::validate`.
macro_rules! mail_file {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// `host:port`.
            pub target: String,
            /// `starttls`, `implicit` or `none`; default `implicit` on the kind's TLS port
            /// (465, 993, 995), else `starttls`.
            pub tls: Option<String>,
            pub server_name: Option<String>,
            pub ca_file: Option<String>,
            /// Public key hashes (`sha256//BASE64`) trusted instead of roots.
            pub pin_sha256: Option<crate::yaml::scalars::OneOrMany>,
            /// Trust any certificate (its expiry still exported).
            pub insecure_skip_verify: Option<bool>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            pub(super) fn endpoint(&self) -> super::mail::EndpointFile<'_> {
                super::mail::EndpointFile {
                    target: &self.target,
                    tls: &self.tls,
                    server_name: &self.server_name,
                    ca_file: &self.ca_file,
                    pin_sha256: &self.pin_sha256,
                    insecure_skip_verify: self.insecure_skip_verify,
                }
            }
        }
    };
}

pub mod catalog;
pub mod config;
pub mod delegation;
pub mod dns;
mod dns_query;
pub mod dnsbl;
pub mod domain;
pub mod feed;
pub mod feed_counts;
pub mod fetch;
pub mod heartbeat;
pub mod http;
pub mod imap;
mod mail;
pub mod metric;
mod net;
pub mod pop3;
mod product_page;
pub mod smtp;
mod state_file;
pub mod tcp;
pub use net::{public_key_pin, Trust};
pub mod tls;

pub use self::config::{parse_probes, validate_probes};
pub use self::http::HttpProbe;
pub use self::tls::TlsProbe;
pub use crate::journey::outcome::Outcome;

use crate::yaml::check::Checker;
use crate::yaml::one_key::{one_key_enum, Family};
use std::future::Future;
use std::time::{Duration, Instant};

/// One probe kind: its validated settings implement this.
pub trait Kind: Sized {
    /// As written: a serde struct that rejects unknown keys.
    type File;
    /// The `name` as written (names are checked before the rest).
    fn file_name(file: &Self::File) -> &str;
    /// Validates what was written (at `path`); problems go to `c`, located.
    fn validate(c: &mut Checker, path: &str, file: &Self::File) -> Self;
    /// Unique among probes, the `probe` label of its metrics.
    fn name(&self) -> &str;
    fn every(&self) -> Duration;
    /// How long one run may take in all.
    fn timeout(&self) -> Duration;
    /// A run slower than this (but otherwise fine) is `degraded`.
    fn slow(&self) -> Option<Duration> {
        None
    }
    /// The secrets the probe uses (a login's password), so that logs and reasons redact them.
    fn secrets(&self) -> Vec<&crate::secret::Var> {
        Vec::new()
    }
    /// One check: what it found, with the kind's metrics filled in on `probing`.
    fn check(&self, probing: &mut Probing) -> impl Future<Output = Verdict> + Send;
}

/// How messages talk about probes.
const PROBES: Family = Family {
    what: "probe",
    example: "- http: {...}",
    needs: "its settings: `- {kind}: {name: ..., ...}`",
    settings: true,
};

macro_rules! probes {
    ($($variant:ident($module:ident::$ty:ident) = $key:literal),* $(,)?) => {
        one_key_enum! {
            /// One probe as written: `- http: {...}` or `- tls: {...}`.
            pub enum ProbeFile, PROBE_KINDS, PROBES {
                $($variant(<$module::$ty as Kind>::File) = $key),*
            }
        }

        /// Each kind and the keys it takes, read from its `File`.
        pub fn kind_keys() -> Vec<(&'static str, &'static [&'static str])> {
            vec![$(($key, crate::yaml::fields::struct_fields::<<$module::$ty as Kind>::File>()),)*]
        }

        /// One configured probe (boxed: an HTTP probe's header map, URL and regex make it
        /// several times the size of the others).
        #[derive(Debug, Clone)]
        pub enum ProbeConfig { $($variant(Box<$module::$ty>),)* }

        impl ProbeFile {
            pub fn name(&self) -> &str {
                match self { $(ProbeFile::$variant(f) => <$module::$ty as Kind>::file_name(f),)* }
            }

            fn validate(&self, c: &mut Checker, path: &str) -> ProbeConfig {
                match self {
                    $(ProbeFile::$variant(f) => {
                        ProbeConfig::$variant(Box::new(<$module::$ty as Kind>::validate(c, path, f)))
                    })*
                }
            }
        }

        impl ProbeConfig {
            /// The probe's name: unique among probes, the `probe` label of its metrics.
            pub fn name(&self) -> &str {
                match self { $(ProbeConfig::$variant(p) => p.name(),)* }
            }

            /// The kind as written in the configuration: `http` or `tls`.
            pub fn kind(&self) -> &'static str {
                match self { $(ProbeConfig::$variant(_) => $key,)* }
            }

            /// How often the probe runs.
            pub fn every(&self) -> Duration {
                match self { $(ProbeConfig::$variant(p) => p.every(),)* }
            }

            /// How long one run may take in all; past it the run is `failed` (timed out).
            pub fn timeout(&self) -> Duration {
                match self { $(ProbeConfig::$variant(p) => p.timeout(),)* }
            }

            /// A run slower than this (but otherwise fine) is `degraded`.
            pub fn slow(&self) -> Option<Duration> {
                match self { $(ProbeConfig::$variant(p) => p.slow(),)* }
            }

            /// The secrets the probe uses, for redaction.
            pub fn secrets(&self) -> Vec<&crate::secret::Var> {
                match self { $(ProbeConfig::$variant(p) => p.secrets(),)* }
            }

            async fn check(&self, probing: &mut Probing) -> Verdict {
                match self { $(ProbeConfig::$variant(p) => p.check(probing).await,)* }
            }
        }
    };
}

probes! {
    Http(http::HttpProbe) = "http",
    Tls(tls::TlsProbe) = "tls",
    Dns(dns::DnsProbe) = "dns",
    Delegation(delegation::DelegationProbe) = "delegation",
    Dnsbl(dnsbl::DnsblProbe) = "dnsbl",
    Tcp(tcp::TcpProbe) = "tcp",
    Smtp(smtp::SmtpProbe) = "smtp",
    Domain(domain::DomainProbe) = "domain",
    Imap(imap::ImapProbe) = "imap",
    Pop3(pop3::Pop3Probe) = "pop3",
    Feed(feed::FeedProbe) = "feed",
    Heartbeat(heartbeat::HeartbeatProbe) = "heartbeat",
    Catalog(catalog::CatalogProbe) = "catalog",
    Metric(metric::MetricProbe) = "metric",
}

impl ProbeConfig {
    /// Runs the probe once: the kind's check under the overall timeout, timed as a whole.
    /// Never panics on what a server sends and never returns an error: everything is in the
    /// result.
    pub async fn run(&self) -> ProbeResult {
        let started = Instant::now();
        let mut probing = Probing::default();
        let timeout = self.timeout();
        let checked = tokio::time::timeout(timeout, self.check(&mut probing)).await;
        let verdict = match checked {
            Ok(verdict) => verdict,
            Err(_) => Verdict::failed(format!(
                "timed out after {} while {}",
                humantime::format_duration(timeout),
                probing.doing
            )),
        };
        let duration = started.elapsed();
        let verdict = match self.slow() {
            Some(slow) if verdict.outcome == Outcome::Ok && duration > slow => {
                Verdict::degraded(format!(
                    "took {}, over the slow budget of {}",
                    show_duration(duration),
                    humantime::format_duration(slow)
                ))
            }
            _ => verdict,
        };
        ProbeResult {
            outcome: verdict.outcome,
            duration,
            reason: verdict.reason,
            metrics: probing.metrics,
        }
    }
}

/// What one run of a probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// `ok`, `degraded` (passed, but slow or a certificate expires soon), `failed` (the shop's
    /// fault) or `error` (the monitor's fault); never `flaky`. Feeds `probe_success` (1 for `ok`
    /// and `degraded`, see [`ProbeResult::success`]).
    pub outcome: Outcome,
    /// Wall time of the whole run, timeouts included. Feeds `probe_duration_seconds`.
    pub duration: Duration,
    /// Why the outcome is not `ok`; `None` when it is.
    pub reason: Option<String>,
    pub metrics: ProbeMetrics,
}

impl ProbeResult {
    /// The result of a run that panicked: the monitor's fault, never the shop's.
    pub fn panicked(message: &str) -> Self {
        ProbeResult {
            outcome: Outcome::Error,
            duration: Duration::ZERO,
            reason: Some(format!("internal error: shopwatch panicked: {message}")),
            metrics: ProbeMetrics::default(),
        }
    }

    /// The value of blackbox_exporter's `probe_success`: the check passed (`ok` or `degraded`).
    pub fn success(&self) -> bool {
        matches!(self.outcome, Outcome::Ok | Outcome::Degraded)
    }
}

/// The measurements of one run, as plain data. Fields a kind does not measure stay empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeMetrics {
    /// Status code of the final response (after redirects), `None` when no response came.
    /// Feeds `probe_http_status_code` (blackbox exports 0 when there was no response).
    pub http_status: Option<u16>,
    /// Time per phase, summed over all requests of a run (redirects included), in the order
    /// first seen; a phase that never started is absent. Feeds
    /// `probe_http_duration_seconds{phase}` for http probes (blackbox sets every phase, so absent
    /// phases export as 0). A tls probe records `resolve`, `connect` and `tls` too; of those,
    /// blackbox's tcp prober only has `resolve` (as `probe_dns_lookup_time_seconds`).
    pub phases: Vec<(Phase, Duration)>,
    /// Redirects followed. Feeds `probe_http_redirects`.
    pub redirects: u32,
    /// Bytes of the final response body as received. Feeds
    /// `probe_http_uncompressed_body_length` (shopwatch asks for no compression).
    pub body_bytes: Option<u64>,
    /// The TLS connection of a tls probe, or of the final request of an https probe; `None`
    /// when there was no completed TLS handshake.
    pub tls: Option<TlsInfo>,
    /// The answer of a dns probe's query; `None` for other kinds.
    pub dns: Option<DnsInfo>,
    /// What a delegation probe found; `None` for other kinds.
    pub delegation: Option<DelegationInfo>,
    /// A dnsbl probe's lookups, one per address and zone.
    pub dnsbl: Vec<DnsblLookup>,
    /// What the registry said, for a domain probe.
    pub domain: Option<domain::DomainInfo>,
    /// How long an smtp probe's delivery-check message took to show up in the mailbox. Feeds
    /// `shopwatch_probe_smtp_delivery_seconds`.
    pub delivery: Option<Duration>,
    /// What a feed probe found.
    pub feed: Option<feed::FeedInfo>,
    /// What a heartbeat's pings said.
    pub heartbeat: Option<heartbeat::HeartbeatInfo>,
    /// What a catalog probe compared.
    pub catalog: Option<catalog::CatalogInfo>,
    /// The number a metric probe read, and its normal.
    pub metric: Option<metric::MetricInfo>,
}

/// What one blacklist zone said about one address. Feeds
/// `shopwatch_probe_dnsbl_listed{ip, zone}` (absent when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsblLookup {
    pub ip: std::net::IpAddr,
    /// Without the trailing dot: `zen.spamhaus.org`.
    pub zone: String,
    /// `None`: the zone could not be asked or gave an answer no blacklist means.
    pub listed: Option<bool>,
}

/// The servers a delegation probe checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DelegationInfo {
    /// Delegated server addresses asked. Feeds `shopwatch_probe_dns_delegated_servers`.
    pub servers: u32,
    /// Of those, lame, unreachable, disagreeing or behind on the serial. Feeds
    /// `shopwatch_probe_dns_failing_servers`.
    pub failing: u32,
    /// The newest SOA serial a server gave. Feeds `probe_dns_serial`.
    pub serial: Option<u32>,
}

/// What a dns probe's query got back (blackbox's dns prober metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsInfo {
    /// A server answered. Feeds `probe_dns_query_succeeded`.
    pub query_succeeded: bool,
    /// Records in each section. Feed `probe_dns_answer_rrs`, `probe_dns_authority_rrs`,
    /// `probe_dns_additional_rrs`.
    pub answer_rrs: u32,
    pub authority_rrs: u32,
    pub additional_rrs: u32,
    /// The SOA serial in the answer or authority section. Feeds `probe_dns_serial`.
    pub serial: Option<u32>,
    /// `NOERROR`, `NXDOMAIN`, ... Feeds `shopwatch_probe_dns_rcode_info{rcode}`.
    pub rcode: String,
}

impl ProbeMetrics {
    /// The time spent in `phase`, if it started.
    pub fn phase(&self, phase: Phase) -> Option<Duration> {
        self.phases
            .iter()
            .find(|(p, _)| *p == phase)
            .map(|(_, d)| *d)
    }

    /// Adds `duration` to `phase` (blackbox sums phases over redirects).
    fn add_phase(&mut self, phase: Phase, duration: Duration) {
        match self.phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, total)) => *total += duration,
            None => self.phases.push((phase, duration)),
        }
    }
}

/// A phase of a request, with blackbox_exporter's meaning (`prober/http.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Resolving the host name to addresses (near zero for an IP address).
    Resolve,
    /// Opening the TCP connection (every address tried, until one connects).
    Connect,
    /// The TLS handshake (https only).
    Tls,
    /// From the connection being ready until the response head arrived: writing the request
    /// and the server's work (blackbox: until the first response byte).
    Processing,
    /// From the response head until the whole body was read (final response only, as in
    /// blackbox: redirect bodies are not read).
    Transfer,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Resolve,
        Phase::Connect,
        Phase::Tls,
        Phase::Processing,
        Phase::Transfer,
    ];

    /// The `phase` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Resolve => "resolve",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Processing => "processing",
            Phase::Transfer => "transfer",
        }
    }
}

/// A completed TLS handshake: the version and the certificates the server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLS 1.2` or `TLS 1.3`. Feeds `probe_tls_version_info{version}` (same strings).
    pub version: String,
    /// The certificates as the server presented them, leaf first.
    pub certs: Vec<CertInfo>,
    /// The earliest `not_after` of the presented certificates, verified or not, as Unix seconds.
    /// Feeds `probe_ssl_earliest_cert_expiry`.
    pub earliest_expiry: i64,
    /// The earliest `not_after` on the verified path from the leaf to a trusted root (leaf,
    /// the intermediates used and the root's own certificate), as Unix seconds; `None` when the
    /// chain does not verify. Feeds `probe_ssl_last_chain_expiry_timestamp_seconds`. Blackbox
    /// takes the latest of these over all verified chains; webpki builds one path, so this is
    /// that path's (the same unless the server's chain can be completed in several ways, for
    /// example with a cross-signed intermediate). Certificates the server sends that are not on
    /// the path (an old cross-signed root, say) do not count here.
    pub last_chain_expiry: Option<i64>,
    /// The chain verifies against the trusted roots at the time of the probe (no certificate
    /// on the path expired or not yet valid) and the leaf is valid for the server name.
    pub verified: bool,
}

/// One certificate as the server presented it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Distinguished name, RFC 4514 style (`CN=localhost, O=Demo`).
    pub subject: String,
    pub issuer: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// DNS names and IP addresses in the subject alternative names.
    pub names: Vec<String>,
}

/// What a kind's check decided, before the shared work (timeout, `slow`).
#[derive(Debug)]
pub struct Verdict {
    outcome: Outcome,
    reason: Option<String>,
}

impl Verdict {
    fn ok() -> Self {
        Verdict {
            outcome: Outcome::Ok,
            reason: None,
        }
    }

    /// Passed, with something to say (a metric probe without enough history yet).
    fn ok_because(reason: impl Into<String>) -> Self {
        Verdict {
            outcome: Outcome::Ok,
            reason: Some(reason.into()),
        }
    }

    fn degraded(reason: impl Into<String>) -> Self {
        Verdict {
            outcome: Outcome::Degraded,
            reason: Some(reason.into()),
        }
    }

    fn failed(reason: impl Into<String>) -> Self {
        Verdict {
            outcome: Outcome::Failed,
            reason: Some(reason.into()),
        }
    }

    fn error(reason: impl Into<String>) -> Self {
        Verdict {
            outcome: Outcome::Error,
            reason: Some(reason.into()),
        }
    }
}

/// The state of a run in progress. A kind's check borrows it mutably; when the overall timeout
/// drops the check, what it measured so far and what it was doing remain here.
#[derive(Debug)]
pub struct Probing {
    metrics: ProbeMetrics,
    /// What the check is doing now, for the timeout reason ("waiting for the response").
    doing: &'static str,
}

impl Default for Probing {
    fn default() -> Self {
        Probing {
            metrics: ProbeMetrics::default(),
            doing: "starting",
        }
    }
}

/// A measured duration for a reason: `850ms`, `1.25s`.
fn show_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_add_up_over_redirects_in_first_seen_order() {
        let mut m = ProbeMetrics::default();
        m.add_phase(Phase::Resolve, Duration::from_millis(1));
        m.add_phase(Phase::Connect, Duration::from_millis(2));
        m.add_phase(Phase::Resolve, Duration::from_millis(3));
        assert_eq!(
            m.phases,
            [
                (Phase::Resolve, Duration::from_millis(4)),
                (Phase::Connect, Duration::from_millis(2))
            ]
        );
        assert_eq!(m.phase(Phase::Tls), None);
        assert_eq!(
            Phase::ALL.map(Phase::as_str),
            ["resolve", "connect", "tls", "processing", "transfer"]
        );
    }

    #[test]
    fn shows_durations_for_reasons() {
        assert_eq!(show_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(show_duration(Duration::from_millis(1250)), "1.25s");
    }
}
