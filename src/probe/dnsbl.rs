//! The `dnsbl` probe: the shop's mail addresses looked up on spam blacklists (DNSBLs, RFC
//! 5782). The addresses are given (`ips`) or found from a `domain`: the addresses of its MX
//! hosts (or of the domain itself when it has no MX). Each address is asked about in each zone,
//! its octets reversed (nibbles for IPv6): no such name means not listed; an address in
//! 127.0.0.0/8 means listed, with the zone's TXT record as the reason.
//!
//! `failed` when an address is listed anywhere (every listing named); `error` when a zone
//! cannot be asked or answers what no DNSBL means (an address outside 127.0.0.0/8, or a
//! refusal code such as Spamhaus's 127.255.255.x for queries through public resolvers): the
//! check did not happen, and that is not the shop's fault.

use super::dns::{dns_name, dns_server};
use super::dns_query::{self, Question, Transport};
use super::{DnsblLookup, Kind, Probing, Verdict};
use crate::yaml::check::Checker;
use crate::yaml::scalars::{opt_scalar_text, scalar_text};
use futures_util::future::join_all;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A validated `dnsbl` probe.
#[derive(Debug, Clone)]
pub struct DnsblProbe {
    pub name: String,
    pub ips: Vec<IpAddr>,
    /// Its mail hosts' addresses are looked up too.
    pub domain: Option<Name>,
    /// The blacklist zones, e.g. `zen.spamhaus.org`.
    pub zones: Vec<Name>,
    /// The resolver; `None`: the system's.
    pub server: Option<SocketAddr>,
    pub every: Duration,
    pub timeout: Duration,
}

/// What one zone said about one address.
enum Said {
    NotListed,
    /// With the zone's reason, when it gives one.
    Listed(String),
    /// The zone could not be asked, or answered what no DNSBL means.
    Unknown(String),
}

impl DnsblProbe {
    /// How long one query may wait: a fifth of the time, as a run asks up to five in a row
    /// (MX, A and AAAA of a mail host, then a listing and its TXT); the probe's timeout still
    /// bounds the whole.
    fn wait(&self) -> Duration {
        self.timeout / 5
    }

    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        let server = match self.server {
            Some(server) => server,
            None => match dns_query::system_servers() {
                Ok(servers) => servers[0],
                Err(e) => return Verdict::error(e),
            },
        };
        p.doing = "finding the mail servers' addresses";
        let mut ips = self.ips.clone();
        if let Some(domain) = &self.domain {
            match self.mail_addresses(server, domain).await {
                Ok(found) => {
                    for ip in found {
                        if !ips.contains(&ip) {
                            ips.push(ip);
                        }
                    }
                }
                Err(verdict) => return verdict,
            }
        }
        p.doing = "asking the blacklists";
        let pairs: Vec<(IpAddr, &Name)> = ips
            .iter()
            .flat_map(|ip| self.zones.iter().map(move |zone| (*ip, zone)))
            .collect();
        let said = join_all(pairs.iter().map(|(ip, zone)| self.ask(server, *ip, zone))).await;
        let mut listed = Vec::new();
        let mut unknown = Vec::new();
        for ((ip, zone), said) in pairs.iter().zip(said) {
            let zone = dns_query::fqdn(zone);
            let zone = zone.trim_end_matches('.').to_string();
            let lookup = |listed| DnsblLookup {
                ip: *ip,
                zone: zone.clone(),
                listed,
            };
            match said {
                Said::NotListed => p.metrics.dnsbl.push(lookup(Some(false))),
                Said::Listed(why) => {
                    p.metrics.dnsbl.push(lookup(Some(true)));
                    listed.push(format!("{ip} is listed on {zone}{why}"));
                }
                Said::Unknown(why) => {
                    p.metrics.dnsbl.push(lookup(None));
                    unknown.push(format!("{zone} about {ip}: {why}"));
                }
            }
        }
        if ips.is_empty() {
            return Verdict::failed("no address to look up: the domain has no mail server address");
        }
        match (listed.is_empty(), unknown.is_empty()) {
            (true, true) => Verdict::ok(),
            (false, _) => Verdict::failed(
                listed
                    .into_iter()
                    .chain(unknown)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            (true, false) => Verdict::error(format!("cannot tell: {}", unknown.join("; "))),
        }
    }

    /// The addresses of `domain`'s MX hosts, or of the domain itself without MX.
    async fn mail_addresses(
        &self,
        server: SocketAddr,
        domain: &Name,
    ) -> Result<Vec<IpAddr>, Verdict> {
        let shown = dns_query::fqdn(domain);
        let mx = self
            .resolve(server, domain, RecordType::MX)
            .await
            .map_err(|e| Verdict::failed(format!("MX of {shown}: {e}")))?;
        let mut hosts: Vec<Name> = mx
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some(mx.exchange.clone()),
                _ => None,
            })
            .collect();
        if hosts.is_empty() {
            hosts.push(domain.clone());
        }
        let mut ips = Vec::new();
        for host in hosts {
            for record_type in [RecordType::A, RecordType::AAAA] {
                let answer = self
                    .resolve(server, &host, record_type)
                    .await
                    .map_err(|e| {
                        Verdict::failed(format!("{record_type} of {}: {e}", dns_query::fqdn(&host)))
                    })?;
                ips.extend(answer.answers.iter().filter_map(|r| address(&r.data)));
            }
        }
        Ok(ips)
    }

    /// A recursive query; NXDOMAIN is an answer here, other failures are not.
    async fn resolve(
        &self,
        server: SocketAddr,
        name: &Name,
        record_type: RecordType,
    ) -> Result<Message, String> {
        let asked = Question {
            name: name.clone(),
            record_type,
            recursion: true,
            transport: Transport::Udp,
        };
        let message = dns_query::ask(server, &asked, self.wait())
            .await
            .map_err(|no| no.reason)?
            .message;
        match message.metadata.response_code {
            ResponseCode::NoError | ResponseCode::NXDomain => Ok(message),
            other => Err(format!(
                "the resolver answered {}",
                super::dns::mnemonic(other)
            )),
        }
    }

    async fn ask(&self, server: SocketAddr, ip: IpAddr, zone: &Name) -> Said {
        let Ok(name) = Name::from_ascii(format!("{}.{}", reversed(ip), dns_query::fqdn(zone)))
        else {
            return Said::Unknown("the query name is too long".to_string());
        };
        let answer = match self.resolve(server, &name, RecordType::A).await {
            Ok(answer) => answer,
            Err(e) => return Said::Unknown(e),
        };
        let codes: Vec<IpAddr> = answer
            .answers
            .iter()
            .filter_map(|r| address(&r.data))
            .collect();
        if answer.metadata.response_code == ResponseCode::NXDomain || codes.is_empty() {
            return Said::NotListed;
        }
        let shown: Vec<String> = codes.iter().map(IpAddr::to_string).collect();
        let shown = shown.join(", ");
        let listing = |ip: &IpAddr| matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 127 && v4.octets()[1] != 255);
        if !codes.iter().all(listing) {
            return Said::Unknown(format!(
                "it answered {shown}, which no blacklist means (outside 127.0.0.0/8, or a refusal code such as 127.255.255.x: some zones refuse queries from public resolvers)"
            ));
        }
        let why = match self.resolve(server, &name, RecordType::TXT).await {
            Ok(txt) => txt
                .answers
                .iter()
                .find_map(|r| match &r.data {
                    RData::TXT(txt) => Some(txt.to_string()),
                    _ => None,
                })
                .map(|text| format!(": \"{text}\"")),
            Err(_) => None,
        };
        Said::Listed(format!(" ({shown}){}", why.unwrap_or_default()))
    }
}

fn address(data: &RData) -> Option<IpAddr> {
    match data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
        _ => None,
    }
}

/// The DNSBL query label of `ip`: octets reversed (`2.0.0.127`), or for IPv6 the 32 nibbles
/// reversed (RFC 5782 2.4).
fn reversed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let hex: String = v6.octets().iter().map(|b| format!("{b:02x}")).collect();
            hex.chars()
                .rev()
                .map(String::from)
                .collect::<Vec<_>>()
                .join(".")
        }
    }
}

impl Kind for DnsblProbe {
    type File = DnsblProbeFile;
    kind_basics!(DnsblProbeFile);

    fn validate(c: &mut Checker, path: &str, file: &DnsblProbeFile) -> DnsblProbe {
        let mut ips = Vec::new();
        for (i, text) in file.ips.iter().enumerate() {
            match text.trim().parse::<IpAddr>() {
                Ok(ip) => ips.push(ip),
                Err(_) => c.error_hint(
                    &format!("{path}.ips[{i}]"),
                    format!("`{text}` is not an IP address"),
                    "the address your mail server sends from, e.g. `192.0.2.25`",
                ),
            }
        }
        if file.ips.is_empty() && file.domain.is_none() {
            c.error_hint(
                &format!("{path}.name"),
                "nothing to look up: give `ips`, `domain` or both",
                "`domain: shop.example.com` looks up the addresses of its mail servers (MX)",
            );
        }
        if file.zones.is_empty() {
            c.error_hint(
                &format!("{path}.zones"),
                "`zones` is empty: no blacklist to ask",
                "list the blacklists, e.g. `zones: [zen.spamhaus.org, bl.spamcop.net]`",
            );
        }
        let (every, timeout) = c.schedule(path, &file.every, &file.timeout);
        DnsblProbe {
            name: file.name.clone(),
            ips,
            domain: file
                .domain
                .as_deref()
                .map(|d| dns_name(c, &format!("{path}.domain"), d)),
            zones: file
                .zones
                .iter()
                .enumerate()
                .map(|(i, z)| dns_name(c, &format!("{path}.zones[{i}]"), z))
                .collect(),
            server: file
                .server
                .as_deref()
                .and_then(|s| dns_server(c, &format!("{path}.server"), s)),
            every,
            timeout,
        }
    }
}

/// `- dnsbl:` as written; values stay text until [`super::validate_probes`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsblProbeFile {
    pub name: String,
    #[serde(default)]
    pub ips: Vec<String>,
    pub domain: Option<String>,
    #[serde(default)]
    pub zones: Vec<String>,
    pub server: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub every: String,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub timeout: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::reversed;

    #[test]
    fn addresses_are_reversed_as_rfc_5782_says() {
        assert_eq!(reversed("192.0.2.99".parse().unwrap()), "99.2.0.192");
        assert_eq!(
            reversed("2001:db8:1:2:3:4:567:89ab".parse().unwrap()),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"
        );
    }
}
