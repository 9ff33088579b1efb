//! Probes against real servers on 127.0.0.1: the demo shop in-process (plain HTTP, and TLS with
//! certificates made here with rcgen), plus the probe configuration's located errors.

use demo_shop::{Fault, RunningShop, ShopConfig};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use shopwatch::probe::{parse_probes, Outcome, Phase, ProbeConfig, ProbeResult};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// Helpers

/// The one probe in `yaml`, which must be valid.
fn only_probe(yaml: &str) -> ProbeConfig {
    match parse_probes(Path::new("probes.yaml"), yaml) {
        Ok(mut probes) if probes.len() == 1 => probes.remove(0),
        Ok(probes) => panic!("expected one probe, got {}", probes.len()),
        Err(e) => panic!("probe config does not validate:\n{e}\n---\n{yaml}"),
    }
}

/// An http probe of `url` with extra `key: value` settings.
fn http_probe(url: &str, extra: &[(&str, &str)]) -> ProbeConfig {
    let mut yaml =
        format!("probes:\n  - http:\n      name: test\n      url: \"{url}\"\n      every: 15s\n");
    for (key, value) in extra {
        yaml.push_str(&format!("      {key}: {value}\n"));
    }
    only_probe(&yaml)
}

async fn shop() -> RunningShop {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    demo_shop::start(listener, ShopConfig::default())
        .await
        .unwrap()
}

/// The demo shop serving `chain_pem` (leaf first) with `key_pem` over TLS; also its TLS address.
async fn tls_shop(chain_pem: &str, key_pem: &str) -> (RunningShop, SocketAddr) {
    let mut shop = shop().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = shop
        .start_tls(listener, chain_pem.as_bytes(), key_pem.as_bytes())
        .await
        .unwrap();
    (shop, addr)
}

fn assert_reason(result: &ProbeResult, expected: &str) {
    let reason = result.reason.as_deref().unwrap_or("<no reason>");
    assert!(
        reason.contains(expected),
        "reason `{reason}` does not contain `{expected}`; {result:#?}"
    );
}

/// Now plus `days`, in whole seconds (certificates keep whole seconds).
fn days_from_now(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::days(days)
}

/// Unix seconds as the probes show them in reasons.
fn shown(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// A CA (root or intermediate) valid until `not_after`, self-signed or signed by `parent`.
fn ca(
    common_name: &str,
    not_after: OffsetDateTime,
    parent: Option<&Issuer<'_, KeyPair>>,
) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = dn(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = days_from_now(-30);
    params.not_after = not_after;
    let key = KeyPair::generate().unwrap();
    match parent {
        None => CertifiedIssuer::self_signed(params, key).unwrap(),
        Some(parent) => CertifiedIssuer::signed_by(params, key, parent).unwrap(),
    }
}

/// A server certificate for `localhost` (PEM) and its key (PEM), signed by `issuer` or
/// self-signed.
fn leaf(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    issuer: Option<&Issuer<'_, KeyPair>>,
) -> (String, String) {
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.distinguished_name = dn("localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate().unwrap();
    let cert = match issuer {
        Some(issuer) => params.signed_by(&key, issuer).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    (cert.pem(), key.serialize_pem())
}

/// Writes `pem` as `name` in `dir`.
fn write_pem(dir: &tempfile::TempDir, name: &str, pem: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

/// A tls probe of `addr` with SNI `server_name`, trusting `ca_file`.
fn tls_probe(addr: SocketAddr, server_name: &str, ca_file: &Path, warn_days: u32) -> ProbeConfig {
    only_probe(&format!(
        "probes:\n  - tls:\n      name: shop-cert\n      target: {addr}\n      server_name: {server_name}\n      every: 1h\n      ca_file: \"{}\"\n      warn_days: {warn_days}\n      timeout: 5s\n",
        ca_file.display()
    ))
}

// ---------------------------------------------------------------------------------------------
// An oversized ca_file: refused after 1 MiB, quickly, as the monitor's fault.

#[tokio::test]
async fn an_oversized_ca_file_is_a_monitor_error_naming_file_probe_and_cap() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("bundle.pem");
    std::fs::write(&big, vec![b'A'; 2 * 1024 * 1024]).unwrap();
    let big_yaml = format!("\"{}\"", big.display());
    let probes = [
        (
            "shop-cert",
            tls_probe("127.0.0.1:9".parse().unwrap(), "localhost", &big, 14),
            big.display().to_string(),
        ),
        (
            "test",
            http_probe("https://127.0.0.1:9/", &[("ca_file", &big_yaml)]),
            big.display().to_string(),
        ),
        (
            "shop-cert",
            tls_probe(
                "127.0.0.1:9".parse().unwrap(),
                "localhost",
                Path::new("/dev/zero"),
                14,
            ),
            "/dev/zero".to_string(),
        ),
    ];
    for (name, probe, file) in probes {
        let started = std::time::Instant::now();
        let result = probe.run().await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(result.outcome, Outcome::Error, "{result:#?}");
        assert_eq!(
            result.reason.as_deref(),
            Some(
                format!(
                    "ca_file {file} of probe `{name}` holds more than 1 MiB, the most a CA file may be: point `ca_file` at a PEM file with only the CA certificates to trust"
                )
                .as_str()
            )
        );
    }
}

// ---------------------------------------------------------------------------------------------
// TLS probe

#[tokio::test]
async fn tls_valid_certificate_is_ok() {
    let dir = tempfile::tempdir().unwrap();
    let ca_expiry = days_from_now(365);
    let root = ca("shopwatch test CA", ca_expiry, None);
    let ca_file = write_pem(&dir, "ca.pem", &root.pem());
    let leaf_expiry = days_from_now(90);
    let (cert, key) = leaf(days_from_now(-1), leaf_expiry, Some(&root));
    let (_shop, addr) = tls_shop(&cert, &key).await;

    let result = tls_probe(addr, "localhost", &ca_file, 14).run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    assert_eq!(result.reason, None);
    assert!(result.success());
    let tls = result.metrics.tls.as_ref().expect("tls info");
    assert!(tls.verified);
    assert_eq!(tls.version, "TLS 1.3");
    assert_eq!(tls.certs.len(), 1);
    assert_eq!(tls.certs[0].subject, "CN=localhost");
    assert_eq!(tls.certs[0].issuer, "CN=shopwatch test CA");
    assert_eq!(tls.certs[0].names, ["localhost"]);
    assert_eq!(tls.certs[0].not_after, leaf_expiry.unix_timestamp());
    assert_eq!(tls.earliest_expiry, leaf_expiry.unix_timestamp());
    assert_eq!(tls.last_chain_expiry, Some(leaf_expiry.unix_timestamp()));
    for phase in [Phase::Resolve, Phase::Connect, Phase::Tls] {
        assert!(
            result.metrics.phase(phase).is_some(),
            "no {phase:?} phase: {result:#?}"
        );
    }
    assert_eq!(result.metrics.http_status, None);
    assert!(result.duration >= result.metrics.phase(Phase::Tls).unwrap());
}

#[tokio::test]
async fn tls_chain_expiry_counts_every_certificate_on_the_verified_path() {
    // The server sends leaf + intermediate; the root (in ca_file) expires first of all, the
    // intermediate before the leaf. earliest_expiry sees what was sent; last_chain_expiry the
    // whole verified path, root included (as blackbox's verified chains).
    let dir = tempfile::tempdir().unwrap();
    let root_expiry = days_from_now(40);
    let root = ca("shopwatch test CA", root_expiry, None);
    let ca_file = write_pem(&dir, "ca.pem", &root.pem());
    let intermediate_expiry = days_from_now(60);
    let intermediate = ca(
        "shopwatch test intermediate",
        intermediate_expiry,
        Some(&root),
    );
    let (cert, key) = leaf(days_from_now(-1), days_from_now(90), Some(&intermediate));
    let (_shop, addr) = tls_shop(&format!("{cert}{}", intermediate.pem()), &key).await;

    let result = tls_probe(addr, "localhost", &ca_file, 14).run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    let tls = result.metrics.tls.as_ref().unwrap();
    assert!(tls.verified);
    assert_eq!(tls.certs.len(), 2);
    assert_eq!(tls.certs[1].subject, "CN=shopwatch test intermediate");
    assert_eq!(tls.certs[1].issuer, "CN=shopwatch test CA");
    assert_eq!(tls.earliest_expiry, intermediate_expiry.unix_timestamp());
    assert_eq!(tls.last_chain_expiry, Some(root_expiry.unix_timestamp()));

    // With warn_days past the root's expiry, the root is what expires soon.
    let result = tls_probe(addr, "localhost", &ca_file, 50).run().await;
    assert_eq!(result.outcome, Outcome::Degraded, "{result:#?}");
    assert_reason(&result, "certificate `CN=shopwatch test CA` expires on");
}

#[tokio::test]
async fn tls_certificate_expiring_within_warn_days_is_degraded() {
    let dir = tempfile::tempdir().unwrap();
    let root = ca("shopwatch test CA", days_from_now(365), None);
    let ca_file = write_pem(&dir, "ca.pem", &root.pem());
    let leaf_expiry = days_from_now(5);
    let (cert, key) = leaf(days_from_now(-80), leaf_expiry, Some(&root));
    let (_shop, addr) = tls_shop(&cert, &key).await;

    let result = tls_probe(addr, "localhost", &ca_file, 14).run().await;
    assert_eq!(result.outcome, Outcome::Degraded, "{result:#?}");
    assert!(result.success());
    assert_eq!(
        result.reason.as_deref(),
        Some(
            format!(
                "certificate `CN=localhost` expires on {} (in 5.0 days; warn_days: 14)",
                shown(leaf_expiry.unix_timestamp())
            )
            .as_str()
        )
    );
    let tls = result.metrics.tls.as_ref().unwrap();
    assert!(tls.verified);
    assert_eq!(tls.earliest_expiry, leaf_expiry.unix_timestamp());
    assert_eq!(tls.last_chain_expiry, Some(leaf_expiry.unix_timestamp()));

    // Without warn_days, or with fewer days, it is fine.
    let result = tls_probe(addr, "localhost", &ca_file, 3).run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
}

#[tokio::test]
async fn tls_expired_certificate_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = ca("shopwatch test CA", days_from_now(365), None);
    let ca_file = write_pem(&dir, "ca.pem", &root.pem());
    let leaf_expiry = days_from_now(-2);
    let (cert, key) = leaf(days_from_now(-92), leaf_expiry, Some(&root));
    let (_shop, addr) = tls_shop(&cert, &key).await;

    let result = tls_probe(addr, "localhost", &ca_file, 14).run().await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert!(!result.success());
    assert_eq!(
        result.reason.as_deref(),
        Some(
            format!(
                "certificate `CN=localhost` expired on {}",
                shown(leaf_expiry.unix_timestamp())
            )
            .as_str()
        )
    );
    // The chain is still read and exported.
    let tls = result
        .metrics
        .tls
        .as_ref()
        .expect("tls info of a failed probe");
    assert!(!tls.verified);
    assert_eq!(tls.earliest_expiry, leaf_expiry.unix_timestamp());
    assert_eq!(tls.certs[0].not_after, leaf_expiry.unix_timestamp());
    assert_eq!(tls.last_chain_expiry, None);
}

#[tokio::test]
async fn tls_wrong_hostname_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = ca("shopwatch test CA", days_from_now(365), None);
    let ca_file = write_pem(&dir, "ca.pem", &root.pem());
    let leaf_expiry = days_from_now(90);
    let (cert, key) = leaf(days_from_now(-1), leaf_expiry, Some(&root));
    let (_shop, addr) = tls_shop(&cert, &key).await;

    let result = tls_probe(addr, "shop.example.com", &ca_file, 14)
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_eq!(
        result.reason.as_deref(),
        Some("certificate is not valid for `shop.example.com`: it is for localhost")
    );
    let tls = result.metrics.tls.as_ref().unwrap();
    assert!(!tls.verified);
    assert_eq!(tls.earliest_expiry, leaf_expiry.unix_timestamp());
    // The chain itself verifies; only the name is wrong.
    assert_eq!(tls.last_chain_expiry, Some(leaf_expiry.unix_timestamp()));
}

#[tokio::test]
async fn tls_self_signed_certificate_not_in_ca_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = ca("shopwatch test CA", days_from_now(365), None);
    let ca_file = write_pem(&dir, "ca.pem", &root.pem());
    let leaf_expiry = days_from_now(90);
    let (cert, key) = leaf(days_from_now(-1), leaf_expiry, None);
    let (_shop, addr) = tls_shop(&cert, &key).await;

    let result = tls_probe(addr, "localhost", &ca_file, 14).run().await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_eq!(
        result.reason.as_deref(),
        Some(
            "certificate chain does not verify: `CN=localhost` is self-signed and not a trusted CA"
        )
    );
    let tls = result.metrics.tls.as_ref().unwrap();
    assert!(!tls.verified);
    assert_eq!(tls.certs[0].issuer, "CN=localhost");
    assert_eq!(tls.earliest_expiry, leaf_expiry.unix_timestamp());
    assert_eq!(tls.last_chain_expiry, None);
}

#[tokio::test]
async fn tls_missing_intermediate_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = ca("shopwatch test CA", days_from_now(365), None);
    let ca_file = write_pem(&dir, "ca.pem", &root.pem());
    let intermediate = ca(
        "shopwatch test intermediate",
        days_from_now(200),
        Some(&root),
    );
    let leaf_expiry = days_from_now(90);
    let (cert, key) = leaf(days_from_now(-1), leaf_expiry, Some(&intermediate));
    // The server sends only the leaf.
    let (_shop, addr) = tls_shop(&cert, &key).await;

    let result = tls_probe(addr, "localhost", &ca_file, 14).run().await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_eq!(
        result.reason.as_deref(),
        Some(
            "certificate chain does not verify: `CN=localhost` is issued by `CN=shopwatch test intermediate`, \
             which the server did not send and which is not a trusted CA (is an intermediate certificate missing?)"
        )
    );
    let tls = result.metrics.tls.as_ref().unwrap();
    assert!(!tls.verified);
    assert_eq!(tls.certs.len(), 1);
    assert_eq!(tls.earliest_expiry, leaf_expiry.unix_timestamp());
    assert_eq!(tls.last_chain_expiry, None);

    // The same leaf with its intermediate sent verifies.
    let (_shop, addr) = tls_shop(&format!("{cert}{}", intermediate.pem()), &key).await;
    let result = tls_probe(addr, "localhost", &ca_file, 14).run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
}

#[tokio::test]
async fn tls_unreadable_ca_file_is_a_monitor_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let garbage = write_pem(&dir, "garbage.pem", "not a certificate\n");
    // Nothing needs to listen: the CA file is read first.
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();

    let result = tls_probe(addr, "localhost", &missing, 14).run().await;
    assert_eq!(result.outcome, Outcome::Error, "{result:#?}");
    assert_reason(
        &result,
        &format!("cannot read ca_file {}", missing.display()),
    );
    assert!(!result.success());

    let result = tls_probe(addr, "localhost", &garbage, 14).run().await;
    assert_eq!(result.outcome, Outcome::Error, "{result:#?}");
    assert_reason(&result, "holds no usable PEM certificate");
}

#[tokio::test]
async fn tls_closed_port_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = ca("shopwatch test CA", days_from_now(365), None);
    let ca_file = write_pem(&dir, "ca.pem", &root.pem());
    let addr = closed_port().await;
    let result = tls_probe(addr, "localhost", &ca_file, 14).run().await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_reason(
        &result,
        &format!("cannot connect to {addr}: Connection refused"),
    );
    assert_eq!(result.metrics.tls, None);
}

// ---------------------------------------------------------------------------------------------
// HTTP probe

/// An address on which nothing listens (bound once, then closed).
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

#[tokio::test]
async fn http_ok_with_status_and_phases() {
    let shop = shop().await;
    let probe = http_probe(
        &format!("{}/", shop.url()),
        &[
            ("body_contains", "Demo Shop"),
            ("body_matches", "\"Welcome.*\""),
        ],
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    assert_eq!(result.reason, None);
    assert_eq!(result.metrics.http_status, Some(200));
    assert_eq!(result.metrics.redirects, 0);
    assert!(result.metrics.body_bytes.unwrap() > 100);
    assert_eq!(result.metrics.tls, None);
    let phases: Vec<Phase> = result.metrics.phases.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        phases,
        [
            Phase::Resolve,
            Phase::Connect,
            Phase::Processing,
            Phase::Transfer
        ]
    );
    let sum: Duration = result.metrics.phases.iter().map(|(_, d)| *d).sum();
    assert!(
        sum <= result.duration,
        "phases {sum:?} exceed the whole {:?}",
        result.duration
    );
    assert!(result.metrics.phase(Phase::Processing).unwrap() > Duration::ZERO);
}

#[tokio::test]
async fn http_server_error_fails_with_the_status() {
    let shop = shop().await;
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/".to_string(),
        code: 500,
    }]);
    let result = http_probe(&format!("{}/", shop.url()), &[]).run().await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_eq!(result.reason.as_deref(), Some("status 500, expected 2xx"));
    assert_eq!(result.metrics.http_status, Some(500));

    // expect_status decides what is good.
    let result = http_probe(
        &format!("{}/", shop.url()),
        &[("expect_status", "[500, 503]")],
    )
    .run()
    .await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    let result = http_probe(&format!("{}/", shop.url()), &[("expect_status", "200")])
        .run()
        .await;
    assert_eq!(result.reason.as_deref(), Some("status 500, expected 200"));
}

#[tokio::test]
async fn http_body_mismatch_fails() {
    let shop = shop().await;
    let url = format!("{}/", shop.url());
    let result = http_probe(&url, &[("body_contains", "Out of coffee")])
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_eq!(
        result.reason.as_deref(),
        Some("body does not contain `Out of coffee`")
    );
    assert_eq!(result.metrics.http_status, Some(200));

    let result = http_probe(&url, &[("body_matches", "\"Goodbye.*shop\"")])
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_eq!(
        result.reason.as_deref(),
        Some("body does not match `Goodbye.*shop`")
    );
}

#[tokio::test]
async fn http_slower_than_slow_is_degraded() {
    let shop = shop().await;
    shop.set_faults(vec![Fault::Delay {
        path_prefix: "/".to_string(),
        ms: 400,
    }]);
    let result = http_probe(&format!("{}/", shop.url()), &[("slow", "150ms")])
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Degraded, "{result:#?}");
    assert!(result.success());
    assert_reason(&result, "over the slow budget of 150ms");
    assert!(result.duration >= Duration::from_millis(400));
    // The delay is the server's work: it shows in `processing`.
    assert!(result.metrics.phase(Phase::Processing).unwrap() >= Duration::from_millis(400));
}

#[tokio::test]
async fn http_closed_port_fails_with_connection_refused() {
    let addr = closed_port().await;
    let result = http_probe(&format!("http://{addr}/"), &[]).run().await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_reason(
        &result,
        &format!("cannot connect to {addr}: Connection refused"),
    );
    assert_eq!(result.metrics.http_status, None);
    assert!(result.metrics.phase(Phase::Connect).is_some());
    assert_eq!(result.metrics.phase(Phase::Processing), None);
}

#[tokio::test]
async fn http_hanging_server_times_out() {
    let shop = shop().await;
    shop.set_faults(vec![Fault::Hang {
        path_prefix: "/".to_string(),
    }]);
    let result = http_probe(&format!("{}/", shop.url()), &[("timeout", "1s")])
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_eq!(
        result.reason.as_deref(),
        Some("timed out after 1s while waiting for the response")
    );
    assert!(result.duration >= Duration::from_secs(1));
    assert_eq!(result.metrics.http_status, None);
    assert!(result.metrics.phase(Phase::Connect).is_some());
}

#[tokio::test]
async fn http_redirects_are_followed_or_not() {
    let shop = shop().await;
    // Logged out, /account redirects (303) to /login?next=/account.
    let url = format!("{}/account", shop.url());
    let result = http_probe(&url, &[("body_contains", "login-form")])
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    assert_eq!(result.metrics.http_status, Some(200));
    assert_eq!(result.metrics.redirects, 1);

    let result = http_probe(&url, &[("follow_redirects", "false")])
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_eq!(
        result.reason.as_deref(),
        Some(
            format!(
                "status 303 (redirect to {}/login?next=/account), expected 2xx",
                shop.url()
            )
            .as_str()
        )
    );
    assert_eq!(result.metrics.http_status, Some(303));
    assert_eq!(result.metrics.redirects, 0);

    let result = http_probe(
        &url,
        &[("follow_redirects", "false"), ("expect_status", "303")],
    )
    .run()
    .await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
}

#[tokio::test]
async fn https_probe_measures_tls_and_verifies_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let root = ca("shopwatch test CA", days_from_now(365), None);
    let ca_file = write_pem(&dir, "ca.pem", &root.pem());
    let leaf_expiry = days_from_now(90);
    let (cert, key) = leaf(days_from_now(-1), leaf_expiry, Some(&root));
    let (_shop, addr) = tls_shop(&cert, &key).await;
    let url = format!("https://localhost:{}/", addr.port());
    let trusted = format!("\"{}\"", ca_file.display());

    let result = http_probe(
        &url,
        &[("ca_file", &trusted), ("body_contains", "Demo Shop")],
    )
    .run()
    .await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    assert_eq!(result.metrics.http_status, Some(200));
    let phases: Vec<Phase> = result.metrics.phases.iter().map(|(p, _)| *p).collect();
    assert_eq!(phases, Phase::ALL);
    let tls = result.metrics.tls.as_ref().expect("tls info");
    assert!(tls.verified);
    assert_eq!(tls.earliest_expiry, leaf_expiry.unix_timestamp());

    // Another CA: the request is never sent.
    let other = ca("another CA", days_from_now(365), None);
    let other_file = write_pem(&dir, "other.pem", &other.pem());
    let other = format!("\"{}\"", other_file.display());
    let result = http_probe(&url, &[("ca_file", &other)]).run().await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_reason(&result, "TLS: certificate chain does not verify: `CN=localhost` is issued by `CN=shopwatch test CA`");
    assert_eq!(result.metrics.http_status, None);
    assert_eq!(result.metrics.phase(Phase::Processing), None);
}

// ---------------------------------------------------------------------------------------------
// Configuration errors: each located, with a hint where one helps.

fn config_errors(yaml: &str) -> String {
    match parse_probes(Path::new("probes.yaml"), yaml) {
        Ok(probes) => panic!("expected errors, got {probes:#?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn config_unknown_key_suggests_the_right_one() {
    let yaml = "probes:\n  - http:\n      name: home\n      url: http://127.0.0.1:8088/\n      every: 15s\n      bdy_contains: Demo Shop\n";
    assert_eq!(
        config_errors(yaml),
        "probes.yaml:6:7: unknown key `bdy_contains` (at probes[0].http)\n  hint: did you mean `body_contains`?"
    );
}

#[test]
fn config_unknown_probe_kind_suggests_the_right_one() {
    let yaml = "probes:\n  - htp:\n      name: home\n";
    assert_eq!(
        config_errors(yaml),
        "probes.yaml:2:5: unknown probe kind `htp` (at probes[0])\n  hint: did you mean `http`?"
    );
}

#[test]
fn config_bad_url_is_located() {
    let yaml =
        "probes:\n  - http:\n      name: home\n      url: shop.example.com/\n      every: 15s\n";
    assert_eq!(
        config_errors(yaml),
        "probes.yaml:4:12: `shop.example.com/` is not a URL: relative URL without a base\n  hint: write a full URL such as `https://shop.example.com/`"
    );
    let yaml = "probes:\n  - http:\n      name: home\n      url: ftp://shop.example.com/\n      every: 15s\n";
    assert_eq!(
        config_errors(yaml),
        "probes.yaml:4:12: url must be http or https, not `ftp`\n  hint: for a certificate check without HTTP, use a `tls` probe"
    );
}

#[test]
fn config_bad_duration_is_located() {
    let yaml = "probes:\n  - http:\n      name: home\n      url: http://127.0.0.1:8088/\n      every: 15\n      timeout: soon\n";
    assert_eq!(
        config_errors(yaml),
        "probes.yaml:5:14: `15` is not a duration\n  hint: add a unit: `15s` for seconds, `15ms` for milliseconds\n\
         probes.yaml:6:16: `soon` is not a duration\n  hint: write a number with a unit: `1500ms`, `15s`, `5m`, `1h`"
    );
}

#[test]
fn config_missing_name_is_located() {
    let yaml = "probes:\n  - tls:\n      target: 127.0.0.1:8443\n      every: 1h\n";
    assert_eq!(
        config_errors(yaml),
        "probes.yaml:3:7: missing key `name` (at probes[0].tls)"
    );
}

#[test]
fn config_duplicate_probe_names_are_located_at_the_second() {
    let yaml = "probes:\n  - http:\n      name: home\n      url: http://127.0.0.1:8088/\n      every: 15s\n  - tls:\n      name: home\n      target: 127.0.0.1:8443\n      every: 1h\n";
    assert_eq!(
        config_errors(yaml),
        "probes.yaml:7:13: probe name `home` is used twice; probe names must be unique\n  hint: the first is at line 3 column 13"
    );
}

#[test]
fn config_warn_days_must_be_a_number() {
    let yaml = "probes:\n  - tls:\n      name: cert\n      target: 127.0.0.1:8443\n      every: 1h\n      warn_days: two weeks\n";
    assert_eq!(
        config_errors(yaml),
        "probes.yaml:6:18: invalid type: string \"two weeks\", expected a whole number (at probes[0].tls.warn_days)\n  hint: a whole number of days, e.g. `warn_days: 14`"
    );
}

#[test]
fn config_collects_every_semantic_error() {
    let yaml = "\
probes:
  - http:
      name: home page
      url: http://127.0.0.1:8088/
      every: 5s
      method: GETT
      expect_status: [200, 999]
      body_matches: \"(unclosed\"
      slow: 20s
  - tls:
      name: cert
      target: shop.example.com
      server_name: \"not a name\"
      every: 1h
      timeout: 2h
";
    assert_eq!(
        config_errors(yaml),
        "\
probes.yaml:3:13: probe name `home page` is not allowed
  hint: use 1 to 64 letters, digits, `-`, `_` or `.`: it becomes a metric label
probes.yaml:5:14: `every: 5s` is shorter than the 10s minimum
probes.yaml:9:13: slow 20s is not shorter than the timeout 5s
  hint: a run over the timeout fails before it can be slow: make `slow` shorter
probes.yaml:6:15: unknown HTTP method `GETT`
  hint: did you mean `GET`? use one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS
probes.yaml:7:28: 999 is not an HTTP status code (100 to 599)
probes.yaml:8:21: `(unclosed` is not a valid regex: unclosed group
probes.yaml:12:15: target `shop.example.com` has no port
  hint: write `host:port`, e.g. `shop.example.com:443` or `[::1]:8443`
probes.yaml:13:20: `not a name` is not a host name or IP address
  hint: the name the certificate must be valid for, e.g. `shop.example.com`
probes.yaml:15:16: timeout 2h is longer than `every` 1h
  hint: runs of a probe never overlap: make the timeout at most `every`"
    );
}

#[test]
fn config_empty_probes_and_unknown_top_level_key() {
    assert_eq!(
        config_errors("probes: []\n"),
        "probes.yaml:1:9: `probes` is empty\n  hint: add at least one `- http: {...}` or `- tls: {...}`"
    );
    assert_eq!(
        config_errors("probe: []\n"),
        "probes.yaml:1:1: unknown key `probe`\n  hint: did you mean `probes`?"
    );
}

#[tokio::test]
async fn tls_without_ca_file_uses_the_system_roots() {
    let (cert, key) = leaf(days_from_now(-1), days_from_now(90), None);
    let (_shop, addr) = tls_shop(&cert, &key).await;
    let probe = only_probe(&format!(
        "probes:\n  - tls:\n      name: shop-cert\n      target: {addr}\n      server_name: localhost\n      every: 1h\n"
    ));
    let result = probe.run().await;
    if result.outcome == Outcome::Error {
        // A machine without the ca-certificates package.
        assert_reason(&result, "no system root certificates found");
        return;
    }
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_eq!(
        result.reason.as_deref(),
        Some(
            "certificate chain does not verify: `CN=localhost` is self-signed and not a trusted CA"
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Self-signed certificates: trusted by a pinned key, or not verified at all; expiry still
// watched either way.

/// The curl-style pin of the certificate in `pem`.
fn pin_of(pem: &str) -> String {
    use rustls::pki_types::pem::PemObject;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    shopwatch::probe::public_key_pin(&der).unwrap()
}

/// A tls probe of `addr` with `trust` (`key: value` lines) instead of a `ca_file`.
fn tls_probe_trusting(addr: SocketAddr, trust: &str, warn_days: u32) -> ProbeConfig {
    only_probe(&format!(
        "probes:\n  - tls:\n      name: shop-cert\n      target: {addr}\n      server_name: localhost\n      every: 1h\n      {trust}\n      warn_days: {warn_days}\n      timeout: 5s\n"
    ))
}

#[tokio::test]
async fn a_pinned_self_signed_certificate_is_ok_and_another_key_fails() {
    let expiry = days_from_now(90);
    let (cert, key) = leaf(days_from_now(-1), expiry, None);
    let (_shop, addr) = tls_shop(&cert, &key).await;
    let pin = pin_of(&cert);
    assert!(pin.starts_with("sha256//") && pin.len() == 8 + 44, "{pin}");

    let result = tls_probe_trusting(addr, &format!("pin_sha256: \"{pin}\""), 14)
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    let tls = result.metrics.tls.as_ref().unwrap();
    assert!(!tls.verified, "pinned, not verified against roots");
    assert_eq!(tls.earliest_expiry, expiry.unix_timestamp());
    assert_eq!(tls.last_chain_expiry, None);

    // A list with the new key beside the old one (a key rotation) passes too.
    let (other, _) = leaf(days_from_now(-1), expiry, None);
    let both = format!("pin_sha256: [\"{}\", \"{pin}\"]", pin_of(&other));
    assert_eq!(
        tls_probe_trusting(addr, &both, 14).run().await.outcome,
        Outcome::Ok
    );

    // Only another key pinned: failed, naming the key the server has.
    let result = tls_probe_trusting(addr, &format!("pin_sha256: \"{}\"", pin_of(&other)), 14)
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_eq!(
        result.reason.as_deref(),
        Some(format!("no certificate the server presented has a pinned public key (pin_sha256); its leaf `CN=localhost` has `{pin}`").as_str())
    );
}

#[tokio::test]
async fn without_verification_expiry_is_still_watched() {
    // Valid for 5 more days: degraded with warn_days 14.
    let soon = days_from_now(5);
    let (cert, key) = leaf(days_from_now(-1), soon, None);
    let (_shop, addr) = tls_shop(&cert, &key).await;
    let result = tls_probe_trusting(addr, "insecure_skip_verify: true", 14)
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Degraded, "{result:#?}");
    assert_reason(
        &result,
        &format!(
            "certificate `CN=localhost` expires on {}",
            shown(soon.unix_timestamp())
        ),
    );
    let result = tls_probe_trusting(addr, &format!("pin_sha256: \"{}\"", pin_of(&cert)), 14)
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Degraded, "{result:#?}");

    // Expired yesterday: failed, pinned or not verified.
    let gone = days_from_now(-1);
    let (cert, key) = leaf(days_from_now(-30), gone, None);
    let (_shop2, addr) = tls_shop(&cert, &key).await;
    for trust in [
        "insecure_skip_verify: true".to_string(),
        format!("pin_sha256: \"{}\"", pin_of(&cert)),
    ] {
        let result = tls_probe_trusting(addr, &trust, 14).run().await;
        assert_eq!(result.outcome, Outcome::Failed, "{trust}: {result:#?}");
        assert_eq!(
            result.reason.as_deref(),
            Some(
                format!(
                    "certificate `CN=localhost` expired on {}",
                    shown(gone.unix_timestamp())
                )
                .as_str()
            )
        );
    }
}

/// An https probe of a self-signed shop: `insecure_skip_verify` and a pin both let the request
/// through; the system's roots do not.
#[tokio::test]
async fn https_probe_of_a_self_signed_shop_with_a_pin_or_without_verification() {
    let (cert, key) = leaf(days_from_now(-1), days_from_now(90), None);
    let (_shop, addr) = tls_shop(&cert, &key).await;
    let url = format!("https://localhost:{}/", addr.port());
    let pin = format!("\"{}\"", pin_of(&cert));
    for trust in [
        ("insecure_skip_verify", "true"),
        ("pin_sha256", pin.as_str()),
    ] {
        let result = http_probe(&url, &[trust, ("body_contains", "Demo Shop")])
            .run()
            .await;
        assert_eq!(result.outcome, Outcome::Ok, "{trust:?}: {result:#?}");
        assert_eq!(result.metrics.http_status, Some(200));
        assert!(!result.metrics.tls.as_ref().unwrap().verified);
    }
    let result = http_probe(&url, &[]).run().await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_reason(&result, "TLS: certificate chain does not verify");
}

#[test]
fn config_trust_settings_are_checked() {
    let errors = config_errors(
        "probes:\n  - tls: {name: a, target: 'localhost:443', every: 1h, ca_file: ca.pem, insecure_skip_verify: true}\n  - http: {name: b, url: 'https://localhost/', every: 1m, pin_sha256: 'sha256//nope'}\n",
    );
    assert!(
        errors.contains("probes.yaml:2:") && errors.contains(
            "give one of `ca_file`, `pin_sha256` and `insecure_skip_verify`, not `ca_file` and `insecure_skip_verify`"
        ),
        "{errors}"
    );
    assert!(
        errors.contains("probes.yaml:3:")
            && errors.contains("`sha256//nope` is not a SHA-256 public key pin"),
        "{errors}"
    );
}
