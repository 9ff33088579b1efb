//! The `domain` probe: the domain's registration over RDAP (RFC 9083), as its registry
//! publishes it: the expiry date, the status flags and the name servers. The registry's RDAP
//! server comes from IANA's bootstrap file (RFC 9224, `bootstrap_url`, fetched once a day and
//! kept in memory; the last good copy is used while a refresh fails, and the copy shipped in
//! `rdap-dns.json` before any fetch has worked), or is given (`rdap_url`).
//!
//! `failed` when the domain expires within `critical_days` or has expired, the registry does
//! not know it (404: never registered, or expired and deleted), a required status flag is
//! missing or the name servers are not the expected ones; `degraded` within `warn_days`;
//! `error` when the check cannot happen: no RDAP service for the TLD (no guess is made), the
//! bootstrap or the registry unreachable or answering what is not RDAP.

use super::{fetch, Kind, Probing, Verdict};
use crate::yaml::check::Checker;
use crate::yaml::scalars::{http_url, opt_scalar_text, scalar_text};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

/// IANA's bootstrap file for domain names.
pub const IANA_BOOTSTRAP: &str = "https://data.iana.org/rdap/dns.json";
/// How long a fetched bootstrap file is used before it is fetched again.
const BOOTSTRAP_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Largest RDAP or bootstrap answer read (IANA's file is about 100 KB).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// IANA's bootstrap file as of August 2026, for a monitor that has not yet read
/// `bootstrap_url` (refresh: `curl -o src/probe/rdap-dns.json https://data.iana.org/rdap/dns.json`).
const SHIPPED_BOOTSTRAP: &str = include_str!("rdap-dns.json");
static SHIPPED: LazyLock<Arc<Bootstrap>> = LazyLock::new(|| {
    Arc::new(
        serde_json::from_str(SHIPPED_BOOTSTRAP).expect("the shipped copy parses (unit-tested)"),
    )
});

/// A validated `domain` probe.
#[derive(Debug, Clone)]
pub struct DomainProbe {
    pub name: String,
    /// Lowercase, without a trailing dot: `example.com`.
    pub domain: String,
    /// The registry's RDAP base URL; `None`: from the bootstrap file.
    pub rdap_url: Option<Url>,
    pub bootstrap_url: Url,
    pub warn_days: u32,
    pub critical_days: u32,
    /// RDAP status values that must be there, e.g. `client transfer prohibited`.
    pub expect_status: Vec<String>,
    /// The name servers the registry must list (lowercase, without trailing dots); empty: any.
    pub expect_ns: BTreeSet<String>,
    pub ca_file: Option<PathBuf>,
    pub every: Duration,
    pub timeout: Duration,
}

/// What the registry says about the domain. Feeds `shopwatch_probe_domain_expiry_timestamp_seconds`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainInfo {
    /// Unix seconds, when the registry gives an expiration event.
    pub expiry: Option<i64>,
}

/// The parts of an RDAP domain answer read here.
#[derive(Debug, Deserialize)]
struct RdapDomain {
    #[serde(default)]
    events: Vec<RdapEvent>,
    #[serde(default)]
    status: Vec<String>,
    #[serde(default)]
    nameservers: Vec<RdapNameserver>,
}

#[derive(Debug, Deserialize)]
struct RdapEvent {
    #[serde(rename = "eventAction")]
    action: String,
    #[serde(rename = "eventDate")]
    date: String,
}

#[derive(Debug, Deserialize)]
struct RdapNameserver {
    #[serde(rename = "ldhName")]
    ldh_name: Option<String>,
}

/// RFC 9224's file: `services: [[[tld, ...], [url, ...]], ...]`.
#[derive(Debug, Deserialize)]
struct Bootstrap {
    services: Vec<(Vec<String>, Vec<String>)>,
}

impl Bootstrap {
    /// The RDAP base URL for `domain`: the longest matching label suffix, an https URL first.
    fn base_for(&self, domain: &str) -> Option<String> {
        let labels: Vec<&str> = domain.split('.').collect();
        (0..labels.len()).find_map(|i| {
            let suffix = labels[i..].join(".");
            self.services.iter().find_map(|(tlds, urls)| {
                tlds.iter()
                    .any(|t| t.eq_ignore_ascii_case(&suffix))
                    .then(|| {
                        urls.iter()
                            .find(|u| u.starts_with("https://"))
                            .or(urls.first())
                            .cloned()
                    })?
            })
        })
    }
}

/// A fetched bootstrap file and when it was fetched.
type Fetched = (Instant, Arc<Bootstrap>);

/// Fetched bootstrap files by URL.
static BOOTSTRAPS: LazyLock<Mutex<HashMap<String, Fetched>>> = LazyLock::new(Mutex::default);

impl DomainProbe {
    async fn probe_once(&self, p: &mut Probing) -> Verdict {
        let client = match fetch::client(self.timeout, self.ca_file.as_deref()) {
            Ok(client) => client,
            Err(e) => return Verdict::error(e),
        };
        let base = match &self.rdap_url {
            Some(url) => url.to_string(),
            None => {
                p.doing = "reading the RDAP bootstrap file";
                let (bootstrap, source) = self.bootstrap(&client).await;
                match bootstrap.base_for(&self.domain) {
                    Some(base) => base,
                    None => {
                        let tld = self.domain.rsplit('.').next().unwrap_or(&self.domain);
                        return Verdict::error(format!(
                            "no RDAP service for .{tld} in {source}: its registry publishes no RDAP, so the expiry cannot be read (set `rdap_url` if it has one elsewhere)"
                        ));
                    }
                }
            }
        };
        let url = format!("{}/domain/{}", base.trim_end_matches('/'), self.domain);
        p.doing = "asking the registry";
        let response = match client
            .get(&url)
            .header("Accept", "application/rdap+json")
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) => {
                return Verdict::error(format!(
                    "the registry's RDAP server {url} cannot be asked: {}",
                    crate::error_chain::error_chain(&e.without_url())
                ))
            }
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Verdict::failed(format!(
                "the registry does not know {} (RDAP answered 404 at {url}): not registered, or expired and deleted",
                self.domain
            ));
        }
        if !status.is_success() {
            return Verdict::error(format!(
                "the registry's RDAP server answered {status} at {url}"
            ));
        }
        let body = match fetch::read_capped(response, MAX_BODY).await {
            Ok(body) => body,
            Err(e) => return Verdict::error(format!("reading {url}: {e}")),
        };
        let answer: RdapDomain = match serde_json::from_slice(&body) {
            Ok(answer) => answer,
            Err(e) => return Verdict::error(format!("{url} is not an RDAP domain answer: {e}")),
        };
        self.judge(&answer, p)
    }

    fn judge(&self, answer: &RdapDomain, p: &mut Probing) -> Verdict {
        let expiry = answer
            .events
            .iter()
            .find(|e| e.action.eq_ignore_ascii_case("expiration"))
            .and_then(|e| chrono::DateTime::parse_from_rfc3339(&e.date).ok())
            .map(|date| date.timestamp());
        p.metrics.domain = Some(DomainInfo { expiry });
        let mut problems = Vec::new();
        let missing: Vec<&str> = self
            .expect_status
            .iter()
            .filter(|want| !answer.status.iter().any(|s| s.eq_ignore_ascii_case(want)))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "status `{}` missing (the registry lists: {})",
                missing.join("`, `"),
                answer.status.join(", ")
            ));
        }
        if !self.expect_ns.is_empty() {
            let listed: BTreeSet<String> = answer
                .nameservers
                .iter()
                .filter_map(|ns| ns.ldh_name.as_deref())
                .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
                .collect();
            if listed != self.expect_ns {
                problems.push(format!(
                    "the registry lists the name servers {}, expected {}",
                    join(&listed),
                    join(&self.expect_ns)
                ));
            }
        }
        let now = chrono::Utc::now().timestamp();
        let left_days = expiry.map(|e| (e - now) as f64 / 86_400.0);
        let shown = |e: i64| {
            chrono::DateTime::from_timestamp(e, 0)
                .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default()
        };
        match (expiry, left_days) {
            (Some(e), Some(days)) if days < 0.0 => {
                problems.insert(0, format!("{} expired on {}", self.domain, shown(e)))
            }
            (Some(e), Some(days)) if days < f64::from(self.critical_days) => problems.insert(
                0,
                format!(
                    "{} expires on {} (in {days:.1} days; critical_days: {})",
                    self.domain,
                    shown(e),
                    self.critical_days
                ),
            ),
            _ => {}
        }
        if !problems.is_empty() {
            return Verdict::failed(problems.join("; "));
        }
        match (expiry, left_days) {
            (Some(e), Some(days)) if days < f64::from(self.warn_days) => {
                Verdict::degraded(format!(
                    "{} expires on {} (in {days:.1} days; warn_days: {})",
                    self.domain,
                    shown(e),
                    self.warn_days
                ))
            }
            (None, _) => Verdict::degraded(format!(
                "the registry gives no expiry date for {}",
                self.domain
            )),
            _ => Verdict::ok(),
        }
    }

    /// The bootstrap file and where it came from: fetched when not yet or over a day ago; the
    /// last good copy while a refresh fails; the shipped copy while no fetch has worked.
    async fn bootstrap(&self, client: &reqwest::Client) -> (Arc<Bootstrap>, String) {
        let key = self.bootstrap_url.to_string();
        let mut cache = BOOTSTRAPS.lock().await;
        if let Some((fetched, file)) = cache.get(&key) {
            if fetched.elapsed() < BOOTSTRAP_MAX_AGE {
                return (file.clone(), key);
            }
        }
        let fetched = async {
            let response = client
                .get(self.bootstrap_url.clone())
                .send()
                .await
                .map_err(|e| crate::error_chain::error_chain(&e.without_url()))?;
            if !response.status().is_success() {
                return Err(format!("it answered {}", response.status()));
            }
            let body = fetch::read_capped(response, MAX_BODY).await?;
            serde_json::from_slice::<Bootstrap>(&body)
                .map_err(|e| format!("it is not an RDAP bootstrap file: {e}"))
        }
        .await;
        match fetched {
            Ok(file) => {
                let file = Arc::new(file);
                cache.insert(key.clone(), (Instant::now(), file.clone()));
                (file, key)
            }
            Err(e) => {
                match cache.get(&key) {
                    Some((_, file)) => {
                        tracing::warn!(probe = %self.name, "cannot refresh the RDAP bootstrap file {key}: {e}; using the copy from earlier");
                        (file.clone(), key)
                    }
                    None => {
                        tracing::warn!(probe = %self.name, "cannot read the RDAP bootstrap file {key}: {e}; using the copy shipped with shopwatch");
                        (
                        SHIPPED.clone(),
                        format!("the bootstrap copy shipped with shopwatch ({key} cannot be read: {e})"),
                    )
                    }
                }
            }
        }
    }
}

fn join(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join(" ")
}

impl Kind for DomainProbe {
    type File = DomainProbeFile;
    kind_basics!(DomainProbeFile);

    fn validate(c: &mut Checker, path: &str, d: &DomainProbeFile) -> DomainProbe {
        let domain = d.domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if !domain.contains('.') || url::Host::parse(&domain).is_err() {
            c.error_hint(
                &format!("{path}.domain"),
                format!("`{}` is not a registered domain name", d.domain),
                "the name as registered, e.g. `example.com` (not a URL, not a bare TLD)",
            );
        }
        let url = |c: &mut Checker, key: &str, text: &str| match http_url(key, text) {
            Ok(url) => Some(url),
            Err(message) => {
                c.error(&format!("{path}.{key}"), message);
                None
            }
        };
        let rdap_url = d.rdap_url.as_deref().and_then(|t| url(c, "rdap_url", t));
        let bootstrap_url = d
            .bootstrap_url
            .as_deref()
            .and_then(|t| url(c, "bootstrap_url", t))
            .unwrap_or_else(|| Url::parse(IANA_BOOTSTRAP).expect("a valid URL"));
        let warn_days = d.warn_days.unwrap_or(30);
        let critical_days = d.critical_days.unwrap_or(7);
        if critical_days > warn_days {
            c.error_hint(
                &format!("{path}.critical_days"),
                format!("critical_days {critical_days} is more than warn_days {warn_days}"),
                "warn first: `warn_days` is the larger, e.g. 30 and 7",
            );
        }
        let (every, timeout) = c.schedule(path, &d.every, &d.timeout);
        DomainProbe {
            name: d.name.clone(),
            domain,
            rdap_url,
            bootstrap_url,
            warn_days,
            critical_days,
            expect_status: d
                .expect_status
                .iter()
                .map(|s| s.trim().to_string())
                .collect(),
            expect_ns: d
                .expect_ns
                .iter()
                .map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            ca_file: c.ca_file(&format!("{path}.ca_file"), &d.ca_file),
            every,
            timeout,
        }
    }
}

/// `- domain:` as written; values stay text until [`super::validate_probes`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainProbeFile {
    pub name: String,
    pub domain: String,
    pub rdap_url: Option<String>,
    pub bootstrap_url: Option<String>,
    pub warn_days: Option<u32>,
    pub critical_days: Option<u32>,
    #[serde(default)]
    pub expect_status: Vec<String>,
    #[serde(default)]
    pub expect_ns: Vec<String>,
    pub ca_file: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub every: String,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub timeout: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::Bootstrap;

    #[test]
    fn the_bootstrap_picks_the_longest_suffix_and_https() {
        let file: Bootstrap = serde_json::from_str(
            r#"{"services": [[["com", "net"], ["http://r.example/com/", "https://r.example/com/"]],
                             [["co.uk"], ["https://r.example/couk/"]], [["uk"], ["https://r.example/uk/"]]]}"#,
        )
        .unwrap();
        assert_eq!(
            file.base_for("shop.com").as_deref(),
            Some("https://r.example/com/")
        );
        assert_eq!(
            file.base_for("shop.co.uk").as_deref(),
            Some("https://r.example/couk/")
        );
        assert_eq!(
            file.base_for("shop.uk").as_deref(),
            Some("https://r.example/uk/")
        );
        assert_eq!(file.base_for("shop.de"), None);
    }

    #[test]
    fn the_shipped_copy_knows_the_big_registries() {
        let shipped = &*super::SHIPPED;
        let tlds: usize = shipped.services.iter().map(|(tlds, _)| tlds.len()).sum();
        assert!(tlds > 1000, "{tlds} TLDs");
        assert_eq!(
            shipped.base_for("shop.com").as_deref(),
            Some("https://rdap.verisign.com/com/v1/")
        );
        assert!(shipped.base_for("my.shop").is_some());
        assert_eq!(shipped.base_for("shop.test"), None);
    }
}
