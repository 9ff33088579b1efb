//! The dns and delegation probes against real DNS servers: NSD processes on loopback
//! addresses, a parent zone `test.` delegating `shop.test.` to two servers, with faults made
//! for real (a lame server, a stale serial, a missing MX, a delegation gone from the parent, an
//! unreachable server, a truncated answer that needs TCP).

mod util;

use shopwatch::metrics::{Metrics, MetricsConfig};
use shopwatch::probe::{parse_probes, Outcome, ProbeConfig, ProbeResult};
use std::net::Ipv4Addr;
use std::path::Path;
use util::nsd::{self, Nsd};

fn only_probe(yaml: &str) -> ProbeConfig {
    match parse_probes(Path::new("probes.yaml"), yaml) {
        Ok(mut probes) if probes.len() == 1 => probes.remove(0),
        Ok(probes) => panic!("expected one probe, got {}", probes.len()),
        Err(e) => panic!("probe config does not validate:\n{e}\n---\n{yaml}"),
    }
}

fn config_errors(yaml: &str) -> String {
    match parse_probes(Path::new("probes.yaml"), yaml) {
        Ok(probes) => panic!("expected errors, got {probes:#?}"),
        Err(e) => e.to_string(),
    }
}

fn reason(result: &ProbeResult) -> &str {
    result.reason.as_deref().unwrap_or("")
}

/// A dns probe asking `server` with extra settings.
fn dns_probe(server: Ipv4Addr, query: &str, extra: &str) -> ProbeConfig {
    only_probe(&format!(
        "probes:\n  - dns:\n      name: shop-dns\n      query: {query}\n      server: {server}\n      every: 30s\n      timeout: 3s\n{extra}"
    ))
}

fn delegation_probe(parent: Ipv4Addr, extra: &str) -> ProbeConfig {
    only_probe(&format!(
        "probes:\n  - delegation:\n      name: shop-delegation\n      zone: shop.test\n      parent_servers: [{parent}]\n      every: 1m\n      timeout: 3s\n{extra}"
    ))
}

/// The child zone as its servers serve it.
fn shop_zone(serial: u32, ns: &[&str], extra: &str) -> String {
    let mut records = String::new();
    for name in ns {
        records.push_str(&format!("@ IN NS {name}\n"));
    }
    records.push_str(
        "ns1 IN A 127.0.0.1\nns2 IN A 127.0.0.1\nwww 60 IN A 127.0.0.80\nwww 60 IN A 127.0.0.81\n\
         @ IN MX 10 mx.shop.test.\n@ IN TXT \"v=spf1 mx -all\"\nmx IN A 127.0.0.25\n",
    );
    records.push_str(extra);
    nsd::zone("shop.test.", serial, &records)
}

/// The parent zone `test.`: delegates `shop.test.` to ns1 and ns2 with glue at `ns1`, `ns2`,
/// unless `delegated` is false.
fn parent_zone(ns1: Ipv4Addr, ns2: Ipv4Addr, delegated: bool) -> String {
    let delegation = if delegated {
        format!(
            "shop IN NS ns1.shop.test.\nshop IN NS ns2.shop.test.\nns1.shop IN A {ns1}\nns2.shop IN A {ns2}\n"
        )
    } else {
        String::new()
    };
    nsd::zone(
        "test.",
        1,
        &format!("@ IN NS ns1.test.\nns1 IN A 127.0.0.1\n{delegation}"),
    )
}

/// A parent and two child servers, healthy unless the closures change what they serve.
struct Dns {
    parent: Nsd,
    ns1: Nsd,
    ns2: Option<Nsd>,
}

const NS: &[&str] = &["ns1.shop.test.", "ns2.shop.test."];

fn healthy() -> Dns {
    with(
        true,
        shop_zone(2026120301, NS, ""),
        Some(shop_zone(2026120301, NS, "")),
    )
}

/// `ns2_zone` None: nothing listens at ns2's glue address.
fn with(delegated: bool, ns1_zone: String, ns2_zone: Option<String>) -> Dns {
    let net = nsd::addresses();
    let (p, a, b) = (net(1), net(2), net(3));
    Dns {
        parent: nsd::start(p, &[("test.", parent_zone(a, b, delegated))]),
        ns1: nsd::start(a, &[("shop.test.", ns1_zone)]),
        ns2: ns2_zone.map(|zone| nsd::start(b, &[("shop.test.", zone)])),
    }
}

fn ip(nsd: &Nsd) -> Ipv4Addr {
    match nsd.addr.ip() {
        std::net::IpAddr::V4(ip) => ip,
        other => panic!("not IPv4: {other}"),
    }
}

fn rendered(probe: &ProbeConfig, result: &ProbeResult) -> String {
    let metrics = Metrics::new(MetricsConfig::default(), None);
    metrics.record_probe(probe, result);
    metrics.render()
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

// --- dns --------------------------------------------------------------------------------------

#[tokio::test]
async fn a_records_that_are_there_pass_and_are_counted() {
    let dns = healthy();
    let probe = dns_probe(
        ip(&dns.ns1),
        "www.shop.test",
        "      recursion: false\n      authoritative: true\n      answers_contain: [127.0.0.80]\n      answers_equal: [127.0.0.81, 127.0.0.80]\n      answers_match: '^127\\.0\\.0\\.8[01]$'\n      min_ttl: 60\n",
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    let text = rendered(&probe, &result);
    assert_eq!(
        sample(&text, "probe_success{probe=\"shop-dns\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "probe_dns_query_succeeded{probe=\"shop-dns\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "probe_dns_answer_rrs{probe=\"shop-dns\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "shopwatch_probe_dns_rcode_info{probe=\"shop-dns\",rcode=\"NOERROR\"}"
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_missing_mx_fails_naming_what_came_back() {
    let dns = with(
        true,
        nsd::zone(
            "shop.test.",
            7,
            "@ IN NS ns1.shop.test.\nns1 IN A 127.0.0.1\n",
        ),
        None,
    );
    let probe = dns_probe(
        ip(&dns.ns1),
        "shop.test",
        "      type: MX\n      recursion: false\n",
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!(
            "MX shop.test. from {}: 0 MX record(s), expected at least 1 (NOERROR, 0 answer record(s) in all)",
            dns.ns1.addr
        )
    );
    // The SOA in the authority section of the empty answer is exported.
    let text = rendered(&probe, &result);
    assert_eq!(
        sample(&text, "probe_dns_serial{probe=\"shop-dns\"}"),
        Some(7.0)
    );
    assert_eq!(
        sample(&text, "probe_dns_authority_rrs{probe=\"shop-dns\"}"),
        Some(1.0)
    );
}

#[tokio::test]
async fn wrong_answers_and_short_ttls_fail_with_what_was_got() {
    let dns = healthy();
    let server = ip(&dns.ns1);
    let cases = [
        (
            "      type: MX\n      answers_contain: ['20 backup.shop.test']\n",
            "MX shop.test. from {addr}: no answer `20 backup.shop.test` (got: 10 mx.shop.test)",
        ),
        (
            "      answers_equal: [127.0.0.80]\n",
            "A www.shop.test. from {addr}: the answers are 127.0.0.80, 127.0.0.81, expected exactly 127.0.0.80",
        ),
        (
            "      min_ttl: 300\n",
            "A www.shop.test. from {addr}: answer `127.0.0.80` has a TTL of 60s, below min_ttl 300s",
        ),
    ];
    for (extra, expected) in cases {
        let query = if extra.contains("MX") {
            "shop.test"
        } else {
            "www.shop.test"
        };
        let probe = dns_probe(server, query, extra);
        let result = probe.run().await;
        assert_eq!(result.outcome, Outcome::Failed, "{extra}");
        let expected = expected.replace("{addr}", &dns.ns1.addr.to_string());
        // The order of the answers is the server's.
        let got = reason(&result).replace("127.0.0.81, 127.0.0.80", "127.0.0.80, 127.0.0.81");
        assert_eq!(got, expected, "{extra}");
    }
}

#[tokio::test]
async fn nxdomain_fails_unless_it_is_what_the_probe_expects() {
    let dns = healthy();
    let server = ip(&dns.ns1);
    let absent = dns_probe(server, "gone.shop.test", "");
    let result = absent.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!(
            "A gone.shop.test. from {}: answered NXDOMAIN (expected NOERROR)",
            dns.ns1.addr
        )
    );
    let expected_absent = dns_probe(server, "gone.shop.test", "      rcodes: [NXDOMAIN]\n");
    let result = expected_absent.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
}

#[tokio::test]
async fn a_server_that_does_not_serve_the_zone_is_not_authoritative() {
    let dns = healthy();
    // The parent serves test., not shop.test.: it refers, without the AA bit.
    let probe = dns_probe(
        ip(&dns.parent),
        "www.shop.test",
        "      recursion: false\n      authoritative: true\n      rcodes: [NOERROR]\n      min_answers: 0\n",
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).ends_with(
            "the answer is not authoritative (no AA bit): the server does not serve the zone"
        ),
        "{}",
        reason(&result)
    );
}

#[tokio::test]
async fn a_truncated_udp_answer_is_asked_again_over_tcp() {
    // 40 TXT records of 100 characters: about 4 KB, over the 1232 bytes UDP carries.
    let mut big = String::new();
    for i in 0..40 {
        big.push_str(&format!("big IN TXT \"{i:03}{}\"\n", "x".repeat(97)));
    }
    let dns = with(true, shop_zone(1, NS, &big), None);
    let probe = dns_probe(
        ip(&dns.ns1),
        "big.shop.test",
        "      type: TXT\n      min_answers: 40\n",
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    let text = rendered(&probe, &result);
    assert_eq!(
        sample(&text, "probe_dns_answer_rrs{probe=\"shop-dns\"}"),
        Some(40.0)
    );
    // And over TCP from the start.
    let tcp = dns_probe(
        ip(&dns.ns1),
        "big.shop.test",
        "      type: TXT\n      transport: tcp\n",
    );
    assert_eq!(tcp.run().await.outcome, Outcome::Ok);
}

#[tokio::test]
async fn a_server_that_never_answers_fails_within_the_timeout() {
    let net = nsd::addresses();
    // A server that takes the query and never answers.
    let _silent = std::net::UdpSocket::bind((net(9), 53)).unwrap();
    let probe = dns_probe(net(9), "shop.test", "");
    let started = std::time::Instant::now();
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!("no answer from {}:53 over UDP within 2s 900ms", net(9))
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let text = rendered(&probe, &result);
    assert_eq!(
        sample(&text, "probe_dns_query_succeeded{probe=\"shop-dns\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "probe_dns_answer_rrs{probe=\"shop-dns\"}"),
        None
    );
}

// --- delegation -------------------------------------------------------------------------------

#[tokio::test]
async fn a_healthy_delegation_passes_with_every_server_counted() {
    let dns = healthy();
    let probe = delegation_probe(
        ip(&dns.parent),
        "      expect_ns: [ns1.shop.test, ns2.shop.test.]\n",
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    let text = rendered(&probe, &result);
    assert_eq!(
        sample(
            &text,
            "shopwatch_probe_dns_delegated_servers{probe=\"shop-delegation\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "shopwatch_probe_dns_failing_servers{probe=\"shop-delegation\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "probe_dns_serial{probe=\"shop-delegation\"}"),
        Some(2026120301.0)
    );
    assert!(dns.ns2.is_some());
}

#[tokio::test]
async fn a_lame_server_is_named() {
    // ns2 runs but serves another zone: NSD answers SERVFAIL for shop.test.
    let dns = with(
        true,
        shop_zone(5, NS, ""),
        Some(nsd::zone("other.test.", 1, "@ IN NS ns1.other.test.\n")),
    );
    let probe = delegation_probe(ip(&dns.parent), "");
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    let ns2 = dns.ns2.as_ref().unwrap().addr.ip();
    assert_eq!(
        reason(&result),
        format!("shop.test.: ns2.shop.test. ({ns2}): lame: it answers SERVFAIL")
    );
    let text = rendered(&probe, &result);
    assert_eq!(
        sample(
            &text,
            "shopwatch_probe_dns_failing_servers{probe=\"shop-delegation\"}"
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_server_behind_on_the_serial_is_named() {
    let dns = with(
        true,
        shop_zone(2026120302, NS, ""),
        Some(shop_zone(2026120301, NS, "")),
    );
    let result = delegation_probe(ip(&dns.parent), "").run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    let (a, b) = (dns.ns1.addr.ip(), dns.ns2.as_ref().unwrap().addr.ip());
    assert_eq!(
        reason(&result),
        format!(
            "shop.test.: the servers disagree on the SOA serial: 2026120302 at ns1.shop.test. ({a}); 2026120301 at ns2.shop.test. ({b}) (a server that did not get the latest zone)"
        )
    );
}

#[tokio::test]
async fn a_delegation_gone_from_the_parent_fails_as_nxdomain() {
    let dns = with(false, shop_zone(1, NS, ""), None);
    let result = delegation_probe(ip(&dns.parent), "").run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        format!(
            "shop.test.: the parent server {} says the zone does not exist (NXDOMAIN): the delegation is gone (an expired or deleted domain?)",
            dns.parent.addr
        )
    );
}

#[tokio::test]
async fn an_unreachable_server_and_a_different_ns_set_are_both_named() {
    // ns1 lists a third server the parent does not delegate to; nothing answers at ns2.
    let dns = with(
        true,
        shop_zone(
            3,
            &["ns1.shop.test.", "ns2.shop.test.", "ns3.shop.test."],
            "",
        ),
        None,
    );
    let probe = delegation_probe(ip(&dns.parent), "      expect_ns: [ns1.shop.test]\n");
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    let a = dns.ns1.addr.ip();
    let b = match dns.ns1.addr.ip() {
        std::net::IpAddr::V4(v4) => Ipv4Addr::new(127, 53, v4.octets()[2], 3),
        _ => unreachable!(),
    };
    assert_eq!(
        reason(&result),
        format!(
            "shop.test.: the parent delegates shop.test. to ns1.shop.test. ns2.shop.test., expected ns1.shop.test.; \
             ns1.shop.test. ({a}): its NS set ns1.shop.test. ns2.shop.test. ns3.shop.test. is not the delegation's ns1.shop.test. ns2.shop.test.; \
             ns2.shop.test. ({b}): no answer from {b}:53 over UDP: Connection refused (os error 111)"
        )
    );
    let text = rendered(&probe, &result);
    assert_eq!(
        sample(
            &text,
            "shopwatch_probe_dns_failing_servers{probe=\"shop-delegation\"}"
        ),
        Some(2.0)
    );
}

// --- configuration ----------------------------------------------------------------------------

#[test]
fn bad_dns_settings_are_located_with_what_to_write() {
    let yaml = "probes:\n  - dns:\n      name: d\n      query: 'shop..example'\n      type: MXX\n      server: ns1.example.com\n      transport: quic\n      rcodes: [NOERROR, NOPE]\n      answers_match: '('\n      every: 30s\n";
    let errors = config_errors(yaml);
    for expected in [
        "probes.yaml:4:14: `shop..example` is not a domain name",
        "probes.yaml:5:13: unknown record type `MXX`\n  hint: one of A, AAAA, CNAME, MX, NS, SOA, TXT, CAA, PTR, SRV",
        "probes.yaml:6:15: `ns1.example.com` is not an IP address with an optional port",
        "probes.yaml:7:18: unknown transport `quic`",
        "probes.yaml:8:25: unknown response code `NOPE`",
        "probes.yaml:9:22: `(` is not a valid regex",
    ] {
        assert!(errors.contains(expected), "missing {expected:?} in:\n{errors}");
    }
}

#[test]
fn bad_delegation_settings_are_located() {
    let yaml = "probes:\n  - delegation:\n      name: d\n      zone: shop.test\n      parent_servers: [192.0.2.1, a.b.c]\n      expect_ns: ['bad name']\n      every: 5m\n      timeout: 10m\n";
    let errors = config_errors(yaml);
    for expected in [
        "probes.yaml:5:35: `a.b.c` is not an IP address with an optional port",
        "probes.yaml:6:19: `bad name` is not a domain name",
        "probes.yaml:8:16: timeout 10m is longer than `every` 5m",
    ] {
        assert!(
            errors.contains(expected),
            "missing {expected:?} in:\n{errors}"
        );
    }
    let unknown = "probes:\n  - delegation:\n      name: d\n      zone: shop.test\n      parents: [192.0.2.1]\n      every: 5m\n";
    assert!(
        config_errors(unknown).contains("unknown key `parents`"),
        "{}",
        config_errors(unknown)
    );
}

// --- dnsbl ------------------------------------------------------------------------------------

/// One server for everything a dnsbl probe asks: the shop's zone (its MX host at `mx`), a
/// blacklist with RFC 5782's test entry (127.0.0.2 listed, 127.0.0.1 not), a blacklist that
/// answers a refusal code for everything, and a clean one.
fn blacklists(mx: &str) -> Nsd {
    let net = nsd::addresses();
    nsd::start(
        net(1),
        &[
            (
                "shop.test.",
                nsd::zone(
                    "shop.test.",
                    1,
                    &format!("@ IN NS ns1.shop.test.\nns1 IN A 127.0.0.1\n@ IN MX 10 mx.shop.test.\nmx IN A {mx}\n"),
                ),
            ),
            (
                "dnsbl.test.",
                nsd::zone(
                    "dnsbl.test.",
                    1,
                    "@ IN NS ns1.dnsbl.test.\nns1 IN A 127.0.0.1\n2.0.0.127 IN A 127.0.0.2\n2.0.0.127 IN TXT \"test entry, see RFC 5782\"\n",
                ),
            ),
            (
                "refusing.test.",
                nsd::zone(
                    "refusing.test.",
                    1,
                    "@ IN NS ns1.refusing.test.\nns1 IN A 127.0.0.1\n*.0.0.127 IN A 127.255.255.254\n",
                ),
            ),
            ("clean.test.", nsd::zone("clean.test.", 1, "@ IN NS ns1.clean.test.\nns1 IN A 127.0.0.1\n")),
        ],
    )
}

fn dnsbl_probe(server: &Nsd, lookup: &str, zones: &str) -> ProbeConfig {
    only_probe(&format!(
        "probes:\n  - dnsbl:\n      name: blacklists\n{lookup}      zones: [{zones}]\n      server: {}\n      every: 1h\n      timeout: 5s\n",
        server.addr.ip()
    ))
}

#[tokio::test]
async fn a_listed_mail_server_fails_with_the_blacklist_s_reason() {
    let dns = blacklists("127.0.0.2");
    let probe = dnsbl_probe(
        &dns,
        "      domain: shop.test\n      ips: [127.0.0.1]\n",
        "dnsbl.test, clean.test",
    );
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        "127.0.0.2 is listed on dnsbl.test (127.0.0.2): \"test entry, see RFC 5782\""
    );
    let text = rendered(&probe, &result);
    let listed = |ip: &str, zone: &str| {
        sample(
            &text,
            &format!(
                "shopwatch_probe_dnsbl_listed{{probe=\"blacklists\",ip=\"{ip}\",zone=\"{zone}\"}}"
            ),
        )
    };
    assert_eq!(listed("127.0.0.2", "dnsbl.test"), Some(1.0));
    assert_eq!(listed("127.0.0.2", "clean.test"), Some(0.0));
    assert_eq!(listed("127.0.0.1", "dnsbl.test"), Some(0.0));
}

#[tokio::test]
async fn a_clean_mail_server_passes() {
    let dns = blacklists("127.0.0.1");
    let probe = dnsbl_probe(&dns, "      domain: shop.test\n", "dnsbl.test, clean.test");
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
}

#[tokio::test]
async fn a_blacklist_that_refuses_is_a_monitor_error_not_a_listing() {
    let dns = blacklists("127.0.0.1");
    let probe = dnsbl_probe(&dns, "      ips: [127.0.0.1]\n", "refusing.test");
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Error);
    assert!(
        reason(&result).starts_with("cannot tell: refusing.test about 127.0.0.1: it answered 127.255.255.254, which no blacklist means"),
        "{}",
        reason(&result)
    );
    let text = rendered(&probe, &result);
    assert!(!text.contains("shopwatch_probe_dnsbl_listed{"), "{text}");
}

#[test]
fn bad_dnsbl_settings_are_located() {
    let yaml = "probes:\n  - dnsbl:\n      name: b\n      ips: [192.0.2.300]\n      zones: []\n      every: 1h\n";
    let errors = config_errors(yaml);
    for expected in [
        "probes.yaml:4:13: `192.0.2.300` is not an IP address",
        "probes.yaml:5:14: `zones` is empty: no blacklist to ask",
    ] {
        assert!(
            errors.contains(expected),
            "missing {expected:?} in:\n{errors}"
        );
    }
    let nothing =
        "probes:\n  - dnsbl:\n      name: b\n      zones: [zen.spamhaus.org]\n      every: 1h\n";
    assert!(
        config_errors(nothing)
            .contains("probes.yaml:3:13: nothing to look up: give `ips`, `domain` or both"),
        "{}",
        config_errors(nothing)
    );
}

// --- in the monitor ---------------------------------------------------------------------------

/// `shopwatch run` schedules the three kinds, serves their metrics (which promtool accepts) and
/// a failing one's reason is in the log.
#[tokio::test]
async fn the_monitor_runs_the_dns_kinds_and_serves_their_metrics() {
    use util::monitor::{promtool_check_metrics, write, Monitor};
    let dns = healthy();
    let blacklist = blacklists("127.0.0.2");
    let work = tempfile::tempdir().unwrap();
    let config = format!(
        "listen: 127.0.0.1:0\nprobes:\n\
         \x20 - dns: {{name: shop-mx, query: shop.test, type: MX, server: '{ns1}', recursion: false, every: 10s}}\n\
         \x20 - delegation: {{name: shop-delegation, zone: shop.test, parent_servers: ['{parent}'], every: 10s}}\n\
         \x20 - dnsbl: {{name: mail-blacklists, domain: shop.test, zones: [dnsbl.test], server: '{bl}', every: 10s}}\n",
        ns1 = ip(&dns.ns1),
        parent = ip(&dns.parent),
        bl = blacklist.addr.ip(),
    );
    let config = write(work.path(), "shopwatch.yaml", &config);
    let mut monitor = Monitor::start(&config, work);
    let metrics_url = monitor.metrics_url();
    let text = monitor
        .wait_for_text(
            &metrics_url,
            "shopwatch_probe_dnsbl_listed{probe=\"mail-blacklists\",ip=\"127.0.0.2\",zone=\"dnsbl.test\"} 1",
            std::time::Duration::from_secs(20),
        )
        .await;
    let text = if text.contains("probe_dns_answer_rrs{probe=\"shop-mx\"}") {
        text
    } else {
        monitor
            .wait_for_text(
                &metrics_url,
                "probe_dns_answer_rrs{probe=\"shop-mx\"}",
                std::time::Duration::from_secs(20),
            )
            .await
    };
    assert_eq!(
        sample(&text, "probe_success{probe=\"shop-mx\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "probe_success{probe=\"mail-blacklists\"}"),
        Some(0.0)
    );
    assert!(
        text.contains("shopwatch_probe_dns_delegated_servers{probe=\"shop-delegation\"} 2"),
        "{text}"
    );
    promtool_check_metrics(&text);
    let log = monitor.stop();
    assert!(
        log.contains("127.0.0.2 is listed on dnsbl.test (127.0.0.2)"),
        "{log}"
    );
}
