//! The `dns` probe: one query (A, AAAA, CNAME, MX, NS, SOA, TXT, CAA, ...) to a given server
//! or the system's resolvers, over UDP with TCP for a truncated answer, and expectations on
//! the response code, the answers and their TTLs. Blackbox_exporter's dns prober is the model,
//! with its metric names (`probe_dns_answer_rrs`, `probe_dns_serial`, ...).
//!
//! `failed` when no server answers, the response code is not an expected one, or the answers
//! are not what the probe expects; `error` only for the monitor's own faults (no resolver in
//! `/etc/resolv.conf`, no sockets left).

use super::dns_query::{self, Question, Transport};
use super::{DnsInfo, Kind, Probing, Verdict};
use crate::yaml::check::{regex_reason, Checker};
use crate::yaml::scalars::{opt_scalar_text, scalar_text};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// A validated `dns` probe.
#[derive(Debug, Clone)]
pub struct DnsProbe {
    pub name: String,
    pub question: Question,
    /// `None`: the system's resolvers, in order, until one answers.
    pub server: Option<SocketAddr>,
    /// Response codes that pass; default NOERROR.
    pub rcodes: Vec<ResponseCode>,
    /// Answer records of the asked type, at least; default 1 when only NOERROR passes.
    pub min_answers: u32,
    /// Each must be among the answers (compared as zone-file text, without case and trailing dots).
    pub answers_contain: Vec<String>,
    /// The answers must be exactly these, in any order.
    pub answers_equal: Option<Vec<String>>,
    /// Every answer must match.
    pub answers_match: Option<regex::Regex>,
    /// Every answer's TTL at least this.
    pub min_ttl: Option<u32>,
    /// The answer must carry the AA bit (the server is authoritative for the name).
    pub authoritative: bool,
    pub every: Duration,
    pub timeout: Duration,
    pub slow: Option<Duration>,
}

impl DnsProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        let servers = match self.server {
            Some(server) => vec![server],
            None => match dns_query::system_servers() {
                Ok(servers) => servers,
                Err(e) => return Verdict::error(e),
            },
        };
        p.doing = "waiting for the DNS answer";
        p.metrics.dns = Some(DnsInfo::default());
        // Each server gets its share of the time; the system's second resolver is asked
        // only when the first does not answer, as the system's resolver does. A little is kept
        // back so that a server that never answers is named, not cut by the probe's timeout.
        let share = self.timeout.saturating_sub(Duration::from_millis(100));
        let wait = share / servers.len().max(1) as u32;
        let mut problems = Vec::new();
        let mut answered = None;
        for server in &servers {
            match dns_query::ask(*server, &self.question, wait).await {
                Ok(answer) => {
                    answered = Some((server, answer));
                    break;
                }
                Err(no) if no.local => return Verdict::error(no.reason),
                Err(no) => problems.push(no.reason),
            }
        }
        let Some((server, answer)) = answered else {
            return Verdict::failed(problems.join("; "));
        };
        let message = &answer.message;
        let asked = format!(
            "{} {} from {server}",
            self.question.record_type,
            dns_query::fqdn(&self.question.name)
        );
        let rcode = message.metadata.response_code;
        let records: Vec<_> = message
            .answers
            .iter()
            .filter(|r| r.record_type() == self.question.record_type)
            .collect();
        p.metrics.dns = Some(DnsInfo {
            query_succeeded: true,
            answer_rrs: message.answers.len() as u32,
            authority_rrs: message.authorities.len() as u32,
            additional_rrs: message.additionals.len() as u32,
            serial: dns_query::soa_serial(message.answers.iter().chain(&message.authorities)),
            rcode: mnemonic(rcode),
        });
        if !self.rcodes.contains(&rcode) {
            let expected: Vec<String> = self.rcodes.iter().map(|c| mnemonic(*c)).collect();
            return Verdict::failed(format!(
                "{asked}: answered {} (expected {})",
                mnemonic(rcode),
                expected.join(" or ")
            ));
        }
        if self.authoritative && !message.metadata.authoritative {
            return Verdict::failed(format!(
                "{asked}: the answer is not authoritative (no AA bit): the server does not serve the zone"
            ));
        }
        let texts: Vec<String> = records.iter().map(|r| dns_query::record_text(r)).collect();
        let got = || {
            if texts.is_empty() {
                "none".to_string()
            } else {
                texts.join(", ")
            }
        };
        if (records.len() as u32) < self.min_answers {
            return Verdict::failed(format!(
                "{asked}: {} {} record(s), expected at least {} ({}, {} answer record(s) in all)",
                records.len(),
                self.question.record_type,
                self.min_answers,
                mnemonic(rcode),
                message.answers.len()
            ));
        }
        let missing: Vec<&str> = self
            .answers_contain
            .iter()
            .filter(|want| !texts.contains(want))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Verdict::failed(format!(
                "{asked}: no answer `{}` (got: {})",
                missing.join("`, `"),
                got()
            ));
        }
        if let Some(want) = &self.answers_equal {
            let mut want = want.clone();
            let mut have = texts.clone();
            want.sort();
            have.sort();
            if want != have {
                return Verdict::failed(format!(
                    "{asked}: the answers are {}, expected exactly {}",
                    got(),
                    want.join(", ")
                ));
            }
        }
        if let Some(re) = &self.answers_match {
            if let Some(bad) = texts.iter().find(|t| !re.is_match(t)) {
                return Verdict::failed(format!("{asked}: answer `{bad}` does not match `{re}`"));
            }
        }
        if let Some(min) = self.min_ttl {
            if let Some(short) = records.iter().find(|r| r.ttl < min) {
                return Verdict::failed(format!(
                    "{asked}: answer `{}` has a TTL of {}s, below min_ttl {min}s",
                    dns_query::record_text(short),
                    short.ttl
                ));
            }
        }
        Verdict::ok()
    }
}

impl Kind for DnsProbe {
    type File = DnsProbeFile;
    kind_basics!(DnsProbeFile, slow);

    fn validate(c: &mut Checker, path: &str, file: &DnsProbeFile) -> DnsProbe {
        validate(c, path, file)
    }
}

/// `- dns:` as written; values stay text until [`super::validate_probes`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsProbeFile {
    pub name: String,
    /// The name asked about.
    pub query: String,
    /// The record type; default A.
    #[serde(rename = "type")]
    pub record_type: Option<String>,
    /// An IP address, with a port or not; default the system's resolvers.
    pub server: Option<String>,
    /// `udp` (default; TCP for a truncated answer) or `tcp`.
    pub transport: Option<String>,
    /// Ask the server to recurse; default true (false for an authoritative server).
    pub recursion: Option<bool>,
    /// Response codes that pass; default `[NOERROR]`.
    pub rcodes: Option<Vec<String>>,
    pub min_answers: Option<u32>,
    #[serde(default)]
    pub answers_contain: Vec<String>,
    pub answers_equal: Option<Vec<String>>,
    pub answers_match: Option<String>,
    pub min_ttl: Option<u32>,
    pub authoritative: Option<bool>,
    #[serde(deserialize_with = "scalar_text")]
    pub every: String,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub timeout: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub slow: Option<String>,
}

/// The name to ask about: a domain name, made fully qualified.
pub(super) fn dns_name(c: &mut Checker, path: &str, text: &str) -> Name {
    match Name::from_ascii(text.trim()) {
        Ok(mut name) if !text.trim().is_empty() => {
            name.set_fqdn(true);
            name
        }
        Ok(_) => {
            c.error_hint(
                path,
                "the name is empty",
                "a domain name, e.g. `shop.example.com`",
            );
            Name::root()
        }
        Err(e) => {
            c.error_hint(
                path,
                format!("`{text}` is not a domain name: {e}"),
                "a domain name, e.g. `shop.example.com`",
            );
            Name::root()
        }
    }
}

/// `server: IP[:port]`.
pub(super) fn dns_server(c: &mut Checker, path: &str, text: &str) -> Option<SocketAddr> {
    let server = dns_query::parse_server(text);
    if server.is_none() {
        c.error_hint(
            path,
            format!("`{text}` is not an IP address with an optional port"),
            "write the server's address, e.g. `192.0.2.53`, `192.0.2.53:5353` or `[2001:db8::53]:53`",
        );
    }
    server
}

/// `transport: udp | tcp`.
pub(super) fn transport(c: &mut Checker, path: &str, text: Option<&str>) -> Transport {
    match text.map(str::trim) {
        None | Some("udp") => Transport::Udp,
        Some("tcp") => Transport::Tcp,
        Some(other) => {
            c.error_hint(
                path,
                format!("unknown transport `{other}`"),
                "`udp` (TCP again for a truncated answer) or `tcp`",
            );
            Transport::Udp
        }
    }
}

fn validate(c: &mut Checker, path: &str, d: &DnsProbeFile) -> DnsProbe {
    let type_path = format!("{path}.type");
    let record_type = match d.record_type.as_deref().map(str::trim) {
        None => RecordType::A,
        Some(text) => {
            let upper = text.to_ascii_uppercase();
            match upper.parse::<RecordType>() {
                Ok(t) if dns_query::TYPES.contains(&upper.as_str()) => t,
                _ => {
                    c.error_hint(
                        &type_path,
                        format!("unknown record type `{text}`"),
                        format!("one of {}", dns_query::TYPES.join(", ")),
                    );
                    RecordType::A
                }
            }
        }
    };
    let rcodes = match &d.rcodes {
        None => vec![ResponseCode::NoError],
        Some(list) => {
            let mut codes = Vec::new();
            for (i, text) in list.iter().enumerate() {
                match rcode(text) {
                    Some(code) => codes.push(code),
                    None => c.error_hint(
                        &format!("{path}.rcodes[{i}]"),
                        format!("unknown response code `{text}`"),
                        "NOERROR, NXDOMAIN, SERVFAIL, REFUSED, FORMERR or NOTIMP",
                    ),
                }
            }
            if list.is_empty() {
                c.error_hint(
                    &format!("{path}.rcodes"),
                    "`rcodes` is empty: no answer could pass",
                    "leave it out for NOERROR, or list the codes that pass",
                );
            }
            codes
        }
    };
    let only_noerror = rcodes.iter().all(|c| *c == ResponseCode::NoError);
    let answers_match =
        d.answers_match
            .as_ref()
            .and_then(|pattern| match regex::Regex::new(pattern) {
                Ok(re) => Some(re),
                Err(e) => {
                    c.error(
                        &format!("{path}.answers_match"),
                        format!(
                            "`{pattern}` is not a valid regex: {}",
                            regex_reason(&e.to_string())
                        ),
                    );
                    None
                }
            });
    let (every, timeout) = c.schedule(path, &d.every, &d.timeout);
    let slow = c.opt_duration(&format!("{path}.slow"), &d.slow);
    DnsProbe {
        name: d.name.clone(),
        question: Question {
            name: dns_name(c, &format!("{path}.query"), &d.query),
            record_type,
            recursion: d.recursion.unwrap_or(true),
            transport: transport(c, &format!("{path}.transport"), d.transport.as_deref()),
        },
        server: d
            .server
            .as_deref()
            .and_then(|s| dns_server(c, &format!("{path}.server"), s)),
        rcodes,
        min_answers: d.min_answers.unwrap_or(u32::from(only_noerror)),
        answers_contain: d
            .answers_contain
            .iter()
            .map(|t| dns_query::normalize(t))
            .collect(),
        answers_equal: d
            .answers_equal
            .as_ref()
            .map(|list| list.iter().map(|t| dns_query::normalize(t)).collect()),
        answers_match,
        min_ttl: d.min_ttl,
        authoritative: d.authoritative.unwrap_or(false),
        every,
        timeout,
        slow,
    }
}

/// A response code's mnemonic (RFC 6895): `NOERROR`, `NXDOMAIN`, ...; `RCODE23` for others.
pub(super) fn mnemonic(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::BADVERS => "BADVERS",
        other => return format!("RCODE{}", u16::from(other)),
    }
    .to_string()
}

/// A response code by its mnemonic.
fn rcode(text: &str) -> Option<ResponseCode> {
    Some(match text.trim().to_ascii_uppercase().as_str() {
        "NOERROR" => ResponseCode::NoError,
        "FORMERR" => ResponseCode::FormErr,
        "SERVFAIL" => ResponseCode::ServFail,
        "NXDOMAIN" => ResponseCode::NXDomain,
        "NOTIMP" => ResponseCode::NotImp,
        "REFUSED" => ResponseCode::Refused,
        _ => return None,
    })
}
