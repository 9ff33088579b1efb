//! The smtp probe against a real SMTP server: Debian's aiosmtpd on 127.0.0.1 (installed by
//! scripts/install-deps for the alerting tests), with STARTTLS, with TLS from the first byte,
//! and without TLS, its certificate made here with rcgen.

mod util;

use rcgen::{CertificateParams, KeyPair};
use shopwatch::probe::{parse_probes, Outcome, ProbeConfig, ProbeResult};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use util::dovecot::{dovecot, PASSWORD, USER};

/// aiosmtpd on 127.0.0.1; its settings are one JSON argument: `port`, `mode` (`starttls`,
/// `implicit` or `plain`), `cert` and `key` files, and optionally `user` and `password` (AUTH
/// offered, and required to send), `exclude` (AUTH mechanisms not offered), `maildir` (each
/// accepted message is delivered there as a mail server's local delivery does; without it the
/// message is accepted and dropped).
const SERVER: &str = r#"
import json, logging, os, ssl, sys, time, warnings
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
warnings.simplefilter("ignore")
logging.getLogger("mail.log").setLevel(logging.CRITICAL)
settings = json.loads(sys.argv[1])
class Handler:
    async def handle_DATA(self, server, session, envelope):
        maildir = settings.get("maildir")
        if maildir:
            name = "%d.%d.shopwatch-test" % (time.time_ns(), os.getpid())
            with open(os.path.join(maildir, "tmp", name), "wb") as f:
                f.write(envelope.original_content)
            os.rename(os.path.join(maildir, "tmp", name), os.path.join(maildir, "new", name))
        return "250 OK queued"
def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(), auth_data.password.decode()
    ) == (settings["user"], settings["password"])
    return AuthResult(success=ok, handled=False)
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(settings["cert"], settings["key"])
kwargs = {}
if settings["mode"] == "starttls":
    kwargs["tls_context"] = context
elif settings["mode"] == "implicit":
    kwargs["ssl_context"] = context
if "user" in settings:
    kwargs.update(authenticator=authenticator, auth_required=True,
                  auth_exclude_mechanism=settings.get("exclude", []))
controller = Controller(Handler(), hostname="127.0.0.1", port=settings["port"],
                        server_hostname="localhost", **kwargs)
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
    smtp_with(mode, serde_json::json!({}))
}

/// aiosmtpd in `mode` with more of [`SERVER`]'s settings.
fn smtp_with(mode: &str, settings: serde_json::Value) -> Smtp {
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
    let mut all =
        serde_json::json!({"port": port, "mode": mode, "cert": cert_file, "key": key_file});
    all.as_object_mut()
        .unwrap()
        .extend(settings.as_object().unwrap().clone());
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", SERVER, &all.to_string()])
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
        "probes:\n  - smtp:\n      name: shop-mail\n      target: '{}'\n      server_name: localhost\n      ca_file: '{}'\n      every: 1m\n      timeout: 15s\n{extra}",
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

/// A password in a file, as a `{secret: 'file:...'}` value.
fn secret_file(dir: &Path, name: &str, value: &str) -> String {
    let file = dir.join(name);
    std::fs::write(&file, value).unwrap();
    format!("{{secret: 'file:{}'}}", file.display())
}

#[tokio::test]
async fn auth_over_starttls_passes_with_plain_or_login_and_a_wrong_password_fails() {
    let user = "orders@shop.test";
    let password = "smtp-secret-4b2e";
    let secrets = tempfile::tempdir().unwrap();
    let auth = |value: &str| {
        format!(
            "      auth: {{user: '{user}', password: {}}}\n",
            secret_file(secrets.path(), "password", value)
        )
    };
    let server = smtp_with(
        "starttls",
        serde_json::json!({"user": user, "password": password}),
    );
    let result = smtp_probe(&server, &auth(password)).run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    let wrong = "not-the-smtp-password";
    let result = smtp_probe(&server, &auth(wrong)).run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with(&format!("AUTH as {user} refused: 535")),
        "{}",
        reason(&result)
    );
    assert!(!reason(&result).contains(wrong));
    // A server that offers only LOGIN.
    let login_only = smtp_with(
        "starttls",
        serde_json::json!({"user": user, "password": password, "exclude": ["PLAIN"]}),
    );
    let result = smtp_probe(&login_only, &auth(password)).run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    // A server that offers no mechanism.
    let none = smtp_with(
        "starttls",
        serde_json::json!({"user": user, "password": password, "exclude": ["PLAIN", "LOGIN"]}),
    );
    let result = smtp_probe(&none, &auth(password)).run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with("the server does not offer AUTH (its extensions: "),
        "{}",
        reason(&result)
    );
}

/// The delivery check's settings: from the shop, to the Dovecot test user, read over IMAP.
fn delivery(mailbox: &util::dovecot::Dovecot, within: &str) -> String {
    format!(
        "      delivery:\n        from: monitor@shop.test\n        to: {USER}@shop.test\n        within: {within}\n        imap:\n          target: '127.0.0.1:{}'\n          server_name: localhost\n          ca_file: '{}'\n          login: {{user: {USER}, password: {}}}\n",
        mailbox.imap,
        mailbox.ca.display(),
        secret_file(mailbox.dir.path(), "imap-password", PASSWORD)
    )
}

#[tokio::test]
async fn a_message_sent_through_the_server_is_found_in_the_mailbox_and_deleted() {
    let mailbox = dovecot(true);
    let server = smtp_with(
        "starttls",
        serde_json::json!({"maildir": mailbox.maildir()}),
    );
    let probe = smtp_probe(&server, &delivery(&mailbox, "10s"));
    let result = probe.run().await;
    assert_eq!(
        result.outcome,
        Outcome::Ok,
        "{:?}\n{}",
        result.reason,
        mailbox.log()
    );
    let took = result
        .metrics
        .delivery
        .expect("the delivery time is measured");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(mailbox.messages(), 0, "the probe's message is deleted");
    // The SMTP server's certificate is the one in the metrics, not the mailbox's.
    assert!(result.metrics.tls.as_ref().is_some_and(|t| t.verified));
    // A message of an earlier run that arrived late is deleted with the next one found.
    let late = "Subject: shopwatch delivery check: shop-mail 0.0.0\r\n\r\nlate\r\n";
    let name = "1.1.late";
    std::fs::write(mailbox.maildir().join("new").join(name), late).unwrap();
    let result = probe.run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    assert_eq!(mailbox.messages(), 0, "the late message is deleted too");
}

#[tokio::test]
async fn a_message_that_never_arrives_fails_after_within() {
    let mailbox = dovecot(true);
    // The server accepts the message and drops it.
    let server = smtp("starttls");
    let result = smtp_probe(&server, &delivery(&mailbox, "2s")).run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    let reason = reason(&result);
    assert!(
        reason.starts_with(&format!(
            "the message sent through the server did not arrive in INBOX at 127.0.0.1:{} within 2s (subject `shopwatch delivery check: shop-mail ",
            mailbox.imap
        )),
        "{reason}"
    );
    assert!(result.metrics.delivery.is_none());
}

#[tokio::test]
async fn a_refused_mailbox_login_names_the_mailbox_without_its_password() {
    let mailbox = dovecot(true);
    let server = smtp_with(
        "starttls",
        serde_json::json!({"maildir": mailbox.maildir()}),
    );
    let wrong = "wrong-imap-password-3c";
    let settings = delivery(&mailbox, "3s").replace(
        &secret_file(mailbox.dir.path(), "imap-password", PASSWORD),
        &secret_file(mailbox.dir.path(), "imap-password-wrong", wrong),
    );
    let result = smtp_probe(&server, &settings).run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with(&format!(
            "the delivery check's mailbox INBOX at 127.0.0.1:{}: LOGIN {USER} refused: \"NO ",
            mailbox.imap
        )),
        "{}",
        reason(&result)
    );
    assert!(!reason(&result).contains(wrong));
}

/// In `shopwatch run`: the delivery time is exported and passes promtool; the AUTH and
/// mailbox passwords are in neither the debug log nor /metrics.
#[tokio::test]
async fn the_monitor_exports_the_delivery_time_and_never_the_passwords() {
    use util::monitor::{promtool_check_metrics, write, Monitor};
    let user = "orders@shop.test";
    let smtp_password = "smtp-secret-in-monitor-81";
    let mailbox = dovecot(true);
    let server = smtp_with(
        "starttls",
        serde_json::json!({"maildir": mailbox.maildir(), "user": user, "password": smtp_password}),
    );
    let work = tempfile::tempdir().unwrap();
    let config = format!(
        "listen: 127.0.0.1:0\nprobes:\n  - smtp:\n      name: order-mail\n      target: '{}'\n      server_name: localhost\n      ca_file: '{}'\n      auth: {{user: '{user}', password: {{secret: 'env:SHOP_SMTP_PASSWORD'}}}}\n      delivery:\n        from: monitor@shop.test\n        to: {USER}@shop.test\n        within: 5s\n        imap:\n          target: '127.0.0.1:{}'\n          server_name: localhost\n          ca_file: '{}'\n          login: {{user: {USER}, password: {{secret: 'env:SHOP_IMAP_PASSWORD'}}}}\n      every: 10s\n      timeout: 8s\n",
        server.addr,
        server.ca.display(),
        mailbox.imap,
        mailbox.ca.display()
    );
    let config = write(work.path(), "shopwatch.yaml", &config);
    let mut monitor = Monitor::start_with_env(
        &config,
        work,
        &[
            ("SHOP_SMTP_PASSWORD", smtp_password),
            ("SHOP_IMAP_PASSWORD", PASSWORD),
        ],
    );
    let metrics_url = monitor.metrics_url();
    let text = monitor
        .wait_for_text(
            &metrics_url,
            "shopwatch_probe_runs_total{probe=\"order-mail\",kind=\"smtp\",outcome=\"ok\"} 1",
            Duration::from_secs(20),
        )
        .await;
    let delivery = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("shopwatch_probe_smtp_delivery_seconds{probe=\"order-mail\"} ")
        })
        .unwrap_or_else(|| panic!("no delivery time in\n{text}"));
    let seconds: f64 = delivery.parse().unwrap();
    assert!(seconds > 0.0 && seconds < 5.0, "{seconds}");
    promtool_check_metrics(&text);
    for secret in [smtp_password, PASSWORD] {
        assert!(!text.contains(secret));
    }
    let log = monitor.stop();
    for secret in [smtp_password, PASSWORD] {
        assert!(!log.contains(secret), "{log}");
    }
    assert_eq!(mailbox.messages(), 0);
}
