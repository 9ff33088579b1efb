//! The tcp probe against real servers on 127.0.0.1 started here: a banner server (as SMTP or a
//! payment gateway's socket greets), a request-answer server, one that never speaks, a closed
//! port, and TLS with a certificate made here with rcgen.

use rcgen::{CertificateParams, KeyPair};
use shopwatch::probe::{parse_probes, Outcome, ProbeConfig, ProbeResult};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn only_probe(yaml: &str) -> ProbeConfig {
    match parse_probes(Path::new("probes.yaml"), yaml) {
        Ok(mut probes) if probes.len() == 1 => probes.remove(0),
        Ok(probes) => panic!("expected one probe, got {}", probes.len()),
        Err(e) => panic!("probe config does not validate:\n{e}\n---\n{yaml}"),
    }
}

fn tcp_probe(addr: SocketAddr, extra: &str) -> ProbeConfig {
    only_probe(&format!(
        "probes:\n  - tcp:\n      name: gateway\n      target: '{addr}'\n      every: 30s\n      timeout: 2s\n{extra}"
    ))
}

fn reason(result: &ProbeResult) -> &str {
    result.reason.as_deref().unwrap_or("")
}

/// A server that answers each connection with `serve`.
async fn server<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    addr
}

async fn banner(text: &'static str) -> SocketAddr {
    server(move |mut s| async move {
        let _ = s.write_all(text.as_bytes()).await;
        // Holds the connection open, as a server waiting for the client's command does.
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    })
    .await
}

#[tokio::test]
async fn a_banner_that_matches_passes_and_one_that_does_not_fails_quoting_it() {
    let addr = banner("220 gateway.example ESMTP ready\r\n").await;
    let ok = tcp_probe(addr, "      expect: '^220 '\n");
    let result = ok.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);

    let busy = banner("421 too busy, come back later\r\n").await;
    let result = tcp_probe(busy, "      expect: '^220 '\n").run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        "timed out after 2s while waiting for the server's words"
    );
}

#[tokio::test]
async fn a_server_that_closes_without_the_expected_words_is_quoted() {
    let addr = server(|mut s| async move {
        let _ = s.write_all(b"421 service not available\r\n").await;
    })
    .await;
    let result = tcp_probe(addr, "      expect: '^220 '\n").run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        "the server closed the connection; what it said does not match `^220 `: \"421 service not available\\r\\n\""
    );
}

#[tokio::test]
async fn send_then_expect_talks_to_the_server() {
    let addr = server(|mut s| async move {
        let mut line = [0u8; 6];
        if s.read_exact(&mut line).await.is_ok() && &line == b"PING\r\n" {
            let _ = s.write_all(b"PONG\r\n").await;
        }
    })
    .await;
    let result = tcp_probe(addr, "      send: \"PING\\r\\n\"\n      expect: PONG\n")
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    // Without the right request the server says nothing and closes.
    let result = tcp_probe(addr, "      send: \"HELLO\\r\\n\"\n      expect: PONG\n")
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Failed);
}

#[tokio::test]
async fn a_closed_port_fails_and_a_plain_connect_passes() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let result = tcp_probe(closed, "").run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with(&format!("cannot connect to {closed}: ")),
        "{}",
        reason(&result)
    );
    let open = banner("").await;
    assert_eq!(tcp_probe(open, "").run().await.outcome, Outcome::Ok);
}

/// A TLS server for `localhost` with a self-signed certificate; returns its address and the
/// certificate (PEM).
async fn tls_server() -> (SocketAddr, String) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let chain = vec![cert.der().clone()];
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key_der)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let addr = server(move |s| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(mut tls) = acceptor.accept(s).await {
                let _ = tls.write_all(b"+OK gateway ready\r\n").await;
                let _ = tls.flush().await;
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        }
    })
    .await;
    (addr, cert.pem())
}

#[tokio::test]
async fn tls_verifies_the_chain_and_reads_through_it() {
    let (addr, pem) = tls_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let trusted = tcp_probe(
        addr,
        &format!(
            "      tls: true\n      server_name: localhost\n      ca_file: '{}'\n      expect: '^\\+OK'\n",
            ca.display()
        ),
    );
    let result = trusted.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    let tls = result
        .metrics
        .tls
        .as_ref()
        .expect("the handshake is recorded");
    assert!(tls.verified);

    let untrusted = tcp_probe(addr, "      tls: true\n      server_name: localhost\n");
    let result = untrusted.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).contains("does not verify") || reason(&result).contains("issuer"),
        "{}",
        reason(&result)
    );
    assert!(
        result.metrics.tls.is_some(),
        "the certificate is read anyway"
    );
}

#[test]
fn bad_tcp_settings_are_located() {
    let errors = |yaml: &str| match parse_probes(Path::new("probes.yaml"), yaml) {
        Ok(p) => panic!("expected errors, got {p:?}"),
        Err(e) => e.to_string(),
    };
    let yaml = "probes:\n  - tcp:\n      name: t\n      target: 'gateway.example'\n      server_name: gateway.example\n      expect: '['\n      every: 30s\n";
    let text = errors(yaml);
    for expected in [
        "probes.yaml:4:15: target `gateway.example` has no port",
        "probes.yaml:5:20: `server_name` is for TLS, and this probe does not use it\n  hint: add `tls: true`, or leave the key out",
        "probes.yaml:6:15: `[` is not a valid regex",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
