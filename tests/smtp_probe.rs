//! The smtp probe against a real SMTP server: Debian's aiosmtpd on 127.0.0.1 (installed by
//! scripts/install-deps for the alerting tests), with STARTTLS, with TLS from the first byte,
//! and without TLS, its certificate made here with rcgen.

use rcgen::{CertificateParams, KeyPair};
use shopwatch::probe::{parse_probes, Outcome, ProbeConfig, ProbeResult};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// aiosmtpd on 127.0.0.1:<port>; mode `starttls`, `implicit` or `plain`; cert and key files.
const SERVER: &str = r#"
import logging, ssl, sys, time, warnings
from aiosmtpd.controller import Controller
warnings.simplefilter("ignore")
logging.getLogger("mail.log").setLevel(logging.CRITICAL)
port, mode, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
kwargs = {}
if mode == "starttls":
    kwargs["tls_context"] = context
elif mode == "implicit":
    kwargs["ssl_context"] = context
controller = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(60)
"#;

struct Smtp {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    ca: std::path::PathBuf,
    /// The certificate's public key pin (`sha256//...`).
    pin: String,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp(mode: &str) -> Smtp {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", SERVER, &port.to_string(), mode])
        .arg(&cert_file)
        .arg(&key_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("/usr/bin/python3 with aiosmtpd: run scripts/install-deps");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "ready",
        "aiosmtpd did not start (python3-aiosmtpd installed?)"
    );
    Smtp {
        pin: shopwatch::probe::public_key_pin(cert.der()).unwrap(),
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        ca: cert_file,
        _dir: dir,
    }
}

fn smtp_probe(server: &Smtp, extra: &str) -> ProbeConfig {
    let yaml = format!(
        "probes:\n  - smtp:\n      name: shop-mail\n      target: '{}'\n      server_name: localhost\n      ca_file: '{}'\n      every: 1m\n      timeout: 5s\n{extra}",
        server.addr,
        server.ca.display()
    );
    match parse_probes(Path::new("probes.yaml"), &yaml) {
        Ok(mut probes) => probes.remove(0),
        Err(e) => panic!("{e}\n{yaml}"),
    }
}

fn reason(result: &ProbeResult) -> &str {
    result.reason.as_deref().unwrap_or("")
}

#[tokio::test]
async fn starttls_offered_and_working_passes_with_the_certificate_read() {
    let server = smtp("starttls");
    let result = smtp_probe(&server, "").run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    let tls = result
        .metrics
        .tls
        .as_ref()
        .expect("the certificate is read");
    assert!(tls.verified);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(tls.earliest_expiry > now, "its expiry is exported");
}

#[tokio::test]
async fn a_server_without_starttls_fails_naming_its_extensions() {
    let server = smtp("plain");
    let result = smtp_probe(&server, "").run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with("the server does not offer STARTTLS (its extensions: "),
        "{}",
        reason(&result)
    );
    // The same server is fine for a probe that asks for no TLS.
    let result = smtp_probe(&server, "      tls: none\n").run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
}

#[tokio::test]
async fn implicit_tls_passes_and_an_untrusted_certificate_fails() {
    let server = smtp("implicit");
    let result = smtp_probe(&server, "      tls: implicit\n").run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    // Without the CA file the self-signed certificate does not verify.
    let yaml = format!(
        "probes:\n  - smtp:\n      name: shop-mail\n      target: '{}'\n      tls: implicit\n      server_name: localhost\n      every: 1m\n      timeout: 5s\n",
        server.addr
    );
    let probe = parse_probes(Path::new("probes.yaml"), &yaml)
        .unwrap()
        .remove(0);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        result.metrics.tls.is_some(),
        "the certificate is read anyway"
    );
}

#[tokio::test]
async fn a_server_that_is_not_smtp_fails_quoting_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let yaml = format!(
        "probes:\n  - smtp:\n      name: m\n      target: '{addr}'\n      every: 1m\n      timeout: 2s\n"
    );
    let probe = parse_probes(Path::new("probes.yaml"), &yaml)
        .unwrap()
        .remove(0);
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        reason(&result),
        "the server does not speak SMTP: \"HTTP/1.1 400 Bad Request\""
    );
}

#[test]
fn a_bad_tls_mode_is_located() {
    let yaml = "probes:\n  - smtp:\n      name: m\n      target: mail.example:587\n      tls: ssl\n      every: 1m\n";
    let error = parse_probes(Path::new("probes.yaml"), yaml)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "probes.yaml:5:12: unknown tls mode `ssl`\n  hint: `starttls`, `implicit` (port 465) or `none`"
    );
}

#[tokio::test]
async fn a_pinned_key_is_trusted_without_a_ca_and_another_pin_is_not() {
    let server = smtp("starttls");
    let yaml = |pin: &str| {
        format!(
            "probes:\n  - smtp:\n      name: m\n      target: '{}'\n      server_name: localhost\n      pin_sha256: '{pin}'\n      every: 1m\n      timeout: 5s\n",
            server.addr
        )
    };
    let pinned = parse_probes(Path::new("probes.yaml"), &yaml(&server.pin))
        .unwrap()
        .remove(0);
    let result = pinned.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    let other = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let wrong = parse_probes(Path::new("probes.yaml"), &yaml(other))
        .unwrap()
        .remove(0);
    let result = wrong.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
}
