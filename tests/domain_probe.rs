//! The domain probe against a local RDAP service on 127.0.0.1: an IANA-style bootstrap file
//! (RFC 9224) pointing at a registry that answers RFC 9083 JSON shaped like a real registry's
//! (objectClassName, events, status, nameservers, the registrar entity, notices). The real
//! registries cannot be reached from here; this service stands in for them and says so.

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use shopwatch::metrics::{Metrics, MetricsConfig};
use shopwatch::probe::{parse_probes, Outcome, ProbeConfig, ProbeResult};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// A registry answer for `domain`, expiring `days` from now.
fn registry_answer(domain: &str, days: i64, status: &[&str]) -> Value {
    let at = |days: i64| {
        (chrono::Utc::now() + chrono::Duration::days(days))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    json!({
        "objectClassName": "domain",
        "handle": "2336799_DOMAIN_TEST-VRSN",
        "ldhName": domain.to_uppercase(),
        "links": [{"value": format!("https://rdap.registry.test/domain/{domain}"), "rel": "self",
                   "href": format!("https://rdap.registry.test/domain/{domain}"), "type": "application/rdap+json"}],
        "status": status,
        "entities": [{"objectClassName": "entity", "handle": "376", "roles": ["registrar"],
                      "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Test Registrar, Inc."]]]}],
        "events": [
            {"eventAction": "registration", "eventDate": at(-3650)},
            {"eventAction": "expiration", "eventDate": at(days)},
            {"eventAction": "last changed", "eventDate": at(-20)},
            {"eventAction": "last update of RDAP database", "eventDate": at(0)}
        ],
        "secureDNS": {"delegationSigned": false},
        "nameservers": [
            {"objectClassName": "nameserver", "ldhName": "NS1.SHOP.TEST"},
            {"objectClassName": "nameserver", "ldhName": "NS2.SHOP.TEST"}
        ],
        "rdapConformance": ["rdap_level_0", "icann_rdap_technical_implementation_guide_1"],
        "notices": [{"title": "Terms of Use", "description": ["Service subject to Terms of Use."]}]
    })
}

type Registry = Arc<HashMap<String, Value>>;

async fn domain(
    State(registry): State<Registry>,
    UrlPath(name): UrlPath<String>,
) -> impl IntoResponse {
    match registry.get(&name) {
        Some(answer) => (StatusCode::OK, Json(answer.clone())).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"errorCode": 404, "title": "Not Found", "rdapConformance": ["rdap_level_0"]})),
        )
            .into_response(),
    }
}

/// The bootstrap (for `.test` only) and the registry, on one server; its base URL.
async fn rdap_service(registry: HashMap<String, Value>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bootstrap = json!({
        "description": "RDAP bootstrap file for Domain Name System registrations",
        "publication": "2026-11-30T18:00:02Z",
        "services": [[["test"], [format!("{base}/registry/")]]],
        "version": "1.0"
    });
    let app = Router::new()
        .route(
            "/dns.json",
            get(move || async move { Json(bootstrap.clone()) }),
        )
        .route("/registry/domain/{name}", get(domain))
        .with_state(Arc::new(registry));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn domain_probe(base: &str, domain: &str, extra: &str) -> ProbeConfig {
    let yaml = format!(
        "probes:\n  - domain:\n      name: shop-domain\n      domain: {domain}\n      bootstrap_url: {base}/dns.json\n      every: 1h\n      timeout: 5s\n{extra}"
    );
    match parse_probes(Path::new("probes.yaml"), &yaml) {
        Ok(mut probes) => probes.remove(0),
        Err(e) => panic!("{e}\n{yaml}"),
    }
}

fn reason(result: &ProbeResult) -> &str {
    result.reason.as_deref().unwrap_or("")
}

fn registry(entries: &[(&str, i64)]) -> HashMap<String, Value> {
    entries
        .iter()
        .map(|(name, days)| {
            (
                name.to_string(),
                registry_answer(
                    name,
                    *days,
                    &["client transfer prohibited", "server delete prohibited"],
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_domain_far_from_expiry_passes_and_its_expiry_is_exported() {
    let base = rdap_service(registry(&[("shop.test", 200)])).await;
    let probe = domain_probe(
        &base,
        "Shop.Test.",
        "      expect_status: [client transfer prohibited]\n      expect_ns: [ns1.shop.test, ns2.shop.test.]\n",
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    let metrics = Metrics::new(MetricsConfig::default(), None);
    metrics.record_probe(&probe, &result);
    let text = metrics.render();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("shopwatch_probe_domain_expiry_timestamp_seconds{probe=\"shop-domain\"} ")
        })
        .unwrap_or_else(|| panic!("no expiry series in:\n{text}"));
    let expiry: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    let in_days = (expiry - chrono::Utc::now().timestamp() as f64) / 86_400.0;
    assert!((199.0..201.0).contains(&in_days), "{line}");
}

#[tokio::test]
async fn expiry_within_warn_days_degrades_within_critical_days_fails() {
    let base = rdap_service(registry(&[
        ("soon.test", 20),
        ("now.test", 3),
        ("gone.test", -2),
    ]))
    .await;
    let result = domain_probe(&base, "soon.test", "").run().await;
    assert_eq!(result.outcome, Outcome::Degraded);
    assert!(
        reason(&result).starts_with("soon.test expires on "),
        "{}",
        reason(&result)
    );
    assert!(
        reason(&result).ends_with("days; warn_days: 30)"),
        "{}",
        reason(&result)
    );
    let result = domain_probe(&base, "now.test", "").run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).ends_with("days; critical_days: 7)"),
        "{}",
        reason(&result)
    );
    let result = domain_probe(&base, "gone.test", "").run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with("gone.test expired on "),
        "{}",
        reason(&result)
    );
}

#[tokio::test]
async fn an_unknown_domain_a_missing_flag_and_other_name_servers_fail() {
    let base = rdap_service(registry(&[("shop.test", 200)])).await;
    let result = domain_probe(&base, "deleted.test", "").run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!("the registry does not know deleted.test (RDAP answered 404 at {base}/registry/domain/deleted.test): not registered, or expired and deleted")
    );
    let result = domain_probe(
        &base,
        "shop.test",
        "      expect_status: [client delete prohibited]\n      expect_ns: [ns1.other.test]\n",
    )
    .run()
    .await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        "status `client delete prohibited` missing (the registry lists: client transfer prohibited, server delete prohibited); the registry lists the name servers ns1.shop.test ns2.shop.test, expected ns1.other.test"
    );
}

#[tokio::test]
async fn a_tld_without_rdap_is_said_not_guessed() {
    let base = rdap_service(registry(&[])).await;
    let result = domain_probe(&base, "shop.example", "").run().await;
    assert_eq!(result.outcome, Outcome::Error);
    assert_eq!(
        reason(&result),
        format!("no RDAP service for .example in {base}/dns.json: its registry publishes no RDAP, so the expiry cannot be read (set `rdap_url` if it has one elsewhere)")
    );
}

#[tokio::test]
async fn an_unreachable_bootstrap_falls_back_to_the_shipped_copy_and_says_so() {
    // `.test` is in no real registry's list: the shipped copy is read, not the network.
    let yaml = "probes:\n  - domain:\n      name: d\n      domain: shop.test\n      bootstrap_url: http://127.0.0.1:1/dns.json\n      every: 1h\n      timeout: 5s\n";
    let probe = parse_probes(Path::new("probes.yaml"), yaml)
        .unwrap()
        .remove(0);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Error);
    let reason = reason(&result);
    assert!(
        reason.starts_with("no RDAP service for .test in the bootstrap copy shipped with shopwatch (http://127.0.0.1:1/dns.json cannot be read: "),
        "{reason}"
    );
}

#[tokio::test]
async fn an_rdap_url_skips_the_bootstrap() {
    let base = rdap_service(registry(&[("shop.test", 100)])).await;
    let yaml = format!(
        "probes:\n  - domain:\n      name: d\n      domain: shop.test\n      rdap_url: {base}/registry/\n      bootstrap_url: http://127.0.0.1:1/dns.json\n      every: 1h\n      timeout: 5s\n"
    );
    let probe = parse_probes(Path::new("probes.yaml"), &yaml)
        .unwrap()
        .remove(0);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
}

#[test]
fn bad_domain_settings_are_located() {
    let yaml = "probes:\n  - domain:\n      name: d\n      domain: https://shop.example.com/\n      rdap_url: rdap.example\n      warn_days: 5\n      critical_days: 10\n      every: 1h\n";
    let errors = parse_probes(Path::new("probes.yaml"), yaml)
        .unwrap_err()
        .to_string();
    for expected in [
        "probes.yaml:4:15: `https://shop.example.com/` is not a registered domain name",
        "probes.yaml:5:17: ",
        "probes.yaml:7:22: critical_days 10 is more than warn_days 5",
    ] {
        assert!(
            errors.contains(expected),
            "missing {expected:?} in:\n{errors}"
        );
    }
}
