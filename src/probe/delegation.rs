//! The `delegation` probe: a zone's DNS followed from its parent. The parent zone's servers are
//! asked (without recursion) for the zone's NS set; each delegated server, at its glue address
//! or the address its name resolves to, must then answer authoritatively (the AA bit) for the
//! zone, with the same NS set and the same SOA serial as the others. Lame, unreachable,
//! refusing or disagreeing servers are named in the reason, all of them.
//!
//! `failed` when the parent has no delegation (NXDOMAIN: an expired or deleted domain), its
//! servers disagree, the NS set is not `expect_ns`, or any delegated server has a problem;
//! `error` only for the monitor's own faults.

use super::dns::{dns_name, dns_server, mnemonic};
use super::dns_query::{self, NoAnswer, Question, Transport};
use super::{DelegationInfo, Kind, Probing, Verdict};
use crate::yaml::check::Checker;
use crate::yaml::scalars::{opt_scalar_text, scalar_text};
use futures_util::future::join_all;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A validated `delegation` probe.
#[derive(Debug, Clone)]
pub struct DelegationProbe {
    pub name: String,
    pub zone: Name,
    /// The parent zone's servers; empty: found through the system's resolvers.
    pub parent_servers: Vec<SocketAddr>,
    /// The NS set the parent must delegate to (fully qualified, lowercase); empty: any.
    pub expect_ns: BTreeSet<String>,
    pub every: Duration,
    pub timeout: Duration,
}

/// The parent's view: the delegated NS names and the glue addresses it gave.
struct Delegation {
    ns: BTreeSet<String>,
    glue: BTreeMap<String, Vec<IpAddr>>,
}

impl DelegationProbe {
    /// Each of the three rounds (parent, names, servers) gets a third of the time.
    fn wait(&self) -> Duration {
        self.timeout / 3
    }

    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        let zone = dns_query::fqdn(&self.zone);
        p.doing = "asking the parent zone's servers";
        let parents = if self.parent_servers.is_empty() {
            match self.find_parent_servers().await {
                Ok(servers) => servers,
                Err(verdict) => return verdict,
            }
        } else {
            self.parent_servers.clone()
        };
        let delegation = match self.ask_parents(&parents).await {
            Ok(delegation) => delegation,
            Err(verdict) => return verdict,
        };
        let mut problems = Vec::new();
        if !self.expect_ns.is_empty() && self.expect_ns != delegation.ns {
            problems.push(format!(
                "the parent delegates {zone} to {}, expected {}",
                list(&delegation.ns),
                list(&self.expect_ns)
            ));
        }

        p.doing = "resolving the delegated servers";
        let mut servers: Vec<(String, SocketAddr)> = Vec::new();
        for ns in &delegation.ns {
            let addresses = match delegation.glue.get(ns) {
                Some(glue) => glue.clone(),
                None => match self.resolve(ns).await {
                    Ok(found) if !found.is_empty() => found,
                    Ok(_) => {
                        problems.push(format!("{ns}: no glue and its name resolves to no address"));
                        continue;
                    }
                    Err(e) => {
                        problems.push(format!("{ns}: no glue and its name does not resolve: {e}"));
                        continue;
                    }
                },
            };
            servers.extend(
                addresses
                    .into_iter()
                    .map(|ip| (ns.clone(), SocketAddr::new(ip, 53))),
            );
        }

        p.doing = "asking the delegated servers";
        let checks = servers
            .iter()
            .map(|(_, addr)| self.check_server(*addr, &delegation.ns));
        let results = join_all(checks).await;
        let mut failing = 0;
        let mut serials: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for ((ns, addr), result) in servers.iter().zip(results) {
            match result {
                Ok(serial) => serials
                    .entry(serial)
                    .or_default()
                    .push(format!("{ns} ({})", addr.ip())),
                Err(problem) => {
                    failing += 1;
                    problems.push(format!("{ns} ({}): {problem}", addr.ip()));
                }
            }
        }
        if serials.len() > 1 {
            let seen: Vec<String> = serials
                .iter()
                .rev()
                .map(|(serial, names)| format!("{serial} at {}", names.join(", ")))
                .collect();
            problems.push(format!(
                "the servers disagree on the SOA serial: {} (a server that did not get the latest zone)",
                seen.join("; ")
            ));
            // The servers behind the newest serial count as failing.
            failing += serials.values().rev().skip(1).map(Vec::len).sum::<usize>();
        }
        p.metrics.delegation = Some(DelegationInfo {
            servers: servers.len() as u32,
            failing: failing as u32,
            serial: serials.keys().next_back().copied(),
        });
        if problems.is_empty() {
            Verdict::ok()
        } else {
            Verdict::failed(format!("{zone}: {}", problems.join("; ")))
        }
    }

    /// Without configured parent servers: the parent zone's NS set and addresses, through the
    /// system's resolvers.
    async fn find_parent_servers(&self) -> Result<Vec<SocketAddr>, Verdict> {
        let parent = self.zone.base_name();
        let asked = Question {
            name: parent.clone(),
            record_type: RecordType::NS,
            recursion: true,
            transport: Transport::Udp,
        };
        let message = self
            .ask_resolver(&asked)
            .await
            .map_err(|no| match no.local {
                true => Verdict::error(no.reason),
                false => Verdict::failed(format!(
                    "cannot find the servers of the parent zone {}: {}",
                    dns_query::fqdn(&parent),
                    no.reason
                )),
            })?;
        let mut servers = Vec::new();
        for ns in ns_names(&message.answers) {
            if let Ok(ips) = self.resolve(&ns).await {
                servers.extend(ips.into_iter().map(|ip| SocketAddr::new(ip, 53)));
            }
        }
        if servers.is_empty() {
            return Err(Verdict::failed(format!(
                "cannot find the servers of the parent zone {}: the resolver named none that resolves",
                dns_query::fqdn(&parent)
            )));
        }
        Ok(servers)
    }

    /// Asks every parent server for the zone's NS set; they must agree.
    async fn ask_parents(&self, parents: &[SocketAddr]) -> Result<Delegation, Verdict> {
        let zone = dns_query::fqdn(&self.zone);
        let asked = Question {
            name: self.zone.clone(),
            record_type: RecordType::NS,
            recursion: false,
            transport: Transport::Udp,
        };
        let answers = join_all(
            parents
                .iter()
                .map(|s| dns_query::ask(*s, &asked, self.wait())),
        )
        .await;
        let mut views: Vec<(SocketAddr, Delegation)> = Vec::new();
        let mut problems = Vec::new();
        for (server, answer) in parents.iter().zip(answers) {
            let message = match answer {
                Ok(answer) => answer.message,
                Err(no) if no.local => return Err(Verdict::error(no.reason)),
                Err(no) => {
                    problems.push(format!("parent server {}", no.reason));
                    continue;
                }
            };
            match message.metadata.response_code {
                ResponseCode::NoError => {}
                ResponseCode::NXDomain => {
                    return Err(Verdict::failed(format!(
                        "{zone}: the parent server {server} says the zone does not exist (NXDOMAIN): the delegation is gone (an expired or deleted domain?)"
                    )))
                }
                other => {
                    problems.push(format!("parent server {server} answered {}", mnemonic(other)));
                    continue;
                }
            }
            // A referral has the NS set in the authority section; a parent that also serves
            // the zone answers with it.
            let ns: BTreeSet<String> = ns_names(&message.authorities)
                .into_iter()
                .chain(ns_names(&message.answers))
                .collect();
            if ns.is_empty() {
                problems.push(format!(
                    "parent server {server} delegates {zone} to no server"
                ));
                continue;
            }
            views.push((
                *server,
                Delegation {
                    glue: glue(&message, &ns),
                    ns,
                },
            ));
        }
        let Some((_, first)) = views.first() else {
            return Err(Verdict::failed(format!("{zone}: {}", problems.join("; "))));
        };
        if let Some((server, other)) = views.iter().find(|(_, v)| v.ns != first.ns) {
            problems.push(format!(
                "the parent servers disagree: {} delegates to {}, {server} to {}",
                views[0].0,
                list(&first.ns),
                list(&other.ns)
            ));
        }
        if !problems.is_empty() {
            return Err(Verdict::failed(format!("{zone}: {}", problems.join("; "))));
        }
        Ok(views.swap_remove(0).1)
    }

    /// One delegated server: authoritative, NOERROR, a SOA, the delegated NS set. Its serial.
    async fn check_server(
        &self,
        server: SocketAddr,
        delegated: &BTreeSet<String>,
    ) -> Result<u32, String> {
        let question = |record_type| Question {
            name: self.zone.clone(),
            record_type,
            recursion: false,
            transport: Transport::Udp,
        };
        let (soa, ns_set) = (question(RecordType::SOA), question(RecordType::NS));
        let (soa, ns_set) = tokio::join!(
            dns_query::ask(server, &soa, self.wait()),
            dns_query::ask(server, &ns_set, self.wait())
        );
        let soa = authoritative(soa.map_err(|no| no.reason)?.message)?;
        let serial =
            dns_query::soa_serial(&soa.answers).ok_or("answers without the zone's SOA record")?;
        let ns_set = authoritative(ns_set.map_err(|no| no.reason)?.message)?;
        let theirs: BTreeSet<String> = ns_names(&ns_set.answers).into_iter().collect();
        if &theirs != delegated {
            return Err(format!(
                "its NS set {} is not the delegation's {}",
                list(&theirs),
                list(delegated)
            ));
        }
        Ok(serial)
    }

    /// The addresses of a server name, through the system's resolvers (A, then AAAA).
    async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let name = Name::from_ascii(name).map_err(|e| e.to_string())?;
        let mut found = Vec::new();
        for record_type in [RecordType::A, RecordType::AAAA] {
            let asked = Question {
                name: name.clone(),
                record_type,
                recursion: true,
                transport: Transport::Udp,
            };
            let message = self.ask_resolver(&asked).await.map_err(|no| no.reason)?;
            found.extend(message.answers.iter().filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            }));
        }
        Ok(found)
    }

    /// The first of the system's resolvers that answers.
    async fn ask_resolver(&self, asked: &Question) -> Result<Message, NoAnswer> {
        let servers = dns_query::system_servers().map_err(|reason| NoAnswer {
            reason,
            local: true,
        })?;
        let mut last = None;
        for server in servers {
            match dns_query::ask(server, asked, self.wait()).await {
                Ok(answer) => return Ok(answer.message),
                Err(no) => last = Some(no),
            }
        }
        Err(last.unwrap_or(NoAnswer {
            reason: "no resolver".to_string(),
            local: true,
        }))
    }
}

/// The answer of a server that must serve the zone: NOERROR with the AA bit.
fn authoritative(message: Message) -> Result<Message, String> {
    match message.metadata.response_code {
        ResponseCode::NoError if message.metadata.authoritative => Ok(message),
        ResponseCode::NoError => {
            Err("lame: it answers without authority for the zone (no AA bit)".to_string())
        }
        other => Err(format!("lame: it answers {}", mnemonic(other))),
    }
}

/// The NS names among `records`, fully qualified and lowercase.
fn ns_names(records: &[hickory_proto::rr::Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(dns_query::fqdn(&ns.0)),
            _ => None,
        })
        .collect()
}

/// The glue in a referral: the addresses given for the delegated names.
fn glue(message: &Message, ns: &BTreeSet<String>) -> BTreeMap<String, Vec<IpAddr>> {
    let mut glue: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    for record in &message.additionals {
        let name = dns_query::fqdn(&record.name);
        let ip = match &record.data {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(a) => IpAddr::V6(a.0),
            _ => continue,
        };
        if ns.contains(&name) {
            glue.entry(name).or_default().push(ip);
        }
    }
    glue
}

fn list(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join(" ")
}

impl Kind for DelegationProbe {
    type File = DelegationProbeFile;
    kind_basics!(DelegationProbeFile);

    fn validate(c: &mut Checker, path: &str, file: &DelegationProbeFile) -> DelegationProbe {
        let (every, timeout) = c.schedule(path, &file.every, &file.timeout);
        let servers = file.parent_servers.iter().enumerate();
        let expected = file.expect_ns.iter().enumerate();
        DelegationProbe {
            name: file.name.clone(),
            zone: dns_name(c, &format!("{path}.zone"), &file.zone),
            parent_servers: servers
                .filter_map(|(i, s)| dns_server(c, &format!("{path}.parent_servers[{i}]"), s))
                .collect(),
            expect_ns: expected
                .map(|(i, ns)| dns_query::fqdn(&dns_name(c, &format!("{path}.expect_ns[{i}]"), ns)))
                .collect(),
            every,
            timeout,
        }
    }
}

/// `- delegation:` as written; values stay text until [`super::validate_probes`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegationProbeFile {
    pub name: String,
    /// The zone followed from its parent, e.g. `shop.example.com`.
    pub zone: String,
    /// IP addresses (with a port or not); default: the parent zone's servers, found through
    /// the system's resolvers.
    #[serde(default)]
    pub parent_servers: Vec<String>,
    #[serde(default)]
    pub expect_ns: Vec<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub every: String,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub timeout: Option<String>,
}
