//! The imap and pop3 probes against a real Dovecot (Debian's dovecot-imapd and dovecot-pop3d,
//! installed by scripts/install-deps) on 127.0.0.1: STARTTLS/STLS and implicit TLS with a
//! certificate made here, a test user with a password, and a Dovecot without TLS.

mod util;

use shopwatch::probe::{parse_probes, Outcome, ProbeConfig, ProbeResult};
use std::path::Path;
use std::time::Duration;
use util::dovecot::{dovecot, Dovecot, PASSWORD, USER};

fn probe(kind: &str, port: u16, server: &Dovecot, extra: &str) -> ProbeConfig {
    let yaml = format!(
        "probes:\n  - {kind}:\n      name: mailbox\n      target: '127.0.0.1:{port}'\n      server_name: localhost\n      ca_file: '{}'\n      every: 1m\n      timeout: 15s\n{extra}",
        server.ca.display()
    );
    match parse_probes(Path::new("probes.yaml"), &yaml) {
        Ok(mut probes) => probes.remove(0),
        Err(e) => panic!("{e}\n{yaml}"),
    }
}

/// A `login:` whose password is read from a file named `name` in the server's directory.
fn login(server: &Dovecot, name: &str, password: &str) -> String {
    let file = server.dir.path().join(name);
    std::fs::write(&file, password).unwrap();
    format!(
        "      login: {{user: {USER}, password: {{secret: 'file:{}'}}}}\n",
        file.display()
    )
}

fn reason(result: &ProbeResult) -> &str {
    result.reason.as_deref().unwrap_or("")
}

#[tokio::test]
async fn imap_starttls_login_and_select_pass() {
    let server = dovecot(true);
    let result = probe(
        "imap",
        server.imap,
        &server,
        &login(&server, "IMAP_OK_PASSWORD", PASSWORD),
    )
    .run()
    .await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    assert!(result.metrics.tls.as_ref().is_some_and(|t| t.verified));
    // Implicit TLS on the imaps port, without a login.
    let result = probe("imap", server.imaps, &server, "      tls: implicit\n")
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
}

#[tokio::test]
async fn imap_a_refused_login_and_a_missing_mailbox_fail_without_the_password() {
    let server = dovecot(true);
    let wrong = "not-the-password-91";
    let result = probe(
        "imap",
        server.imap,
        &server,
        &login(&server, "IMAP_WRONG_PASSWORD", wrong),
    )
    .run()
    .await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with(&format!("LOGIN {USER} refused: \"NO ")),
        "{}",
        reason(&result)
    );
    assert!(!reason(&result).contains(wrong), "{}", reason(&result));
    let extra = format!(
        "{}      mailbox: Archive-2019\n",
        login(&server, "IMAP_MAILBOX_PASSWORD", PASSWORD)
    );
    let result = probe("imap", server.imap, &server, &extra).run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with("SELECT \"Archive-2019\" refused: \"NO "),
        "{}",
        reason(&result)
    );
}

#[tokio::test]
async fn pop3_stls_login_and_implicit_tls_pass_and_a_wrong_password_fails() {
    let server = dovecot(true);
    let result = probe(
        "pop3",
        server.pop3,
        &server,
        &login(&server, "POP3_OK_PASSWORD", PASSWORD),
    )
    .run()
    .await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    let result = probe("pop3", server.pop3s, &server, "      tls: implicit\n")
        .run()
        .await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
    let wrong = "wrong-pop-password-55";
    let result = probe(
        "pop3",
        server.pop3,
        &server,
        &login(&server, "POP3_WRONG_PASSWORD", wrong),
    )
    .run()
    .await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with(&format!("the login of {USER} refused: \"-ERR")),
        "{}",
        reason(&result)
    );
    assert!(!reason(&result).contains(wrong));
}

#[tokio::test]
async fn a_server_without_tls_fails_the_starttls_check_and_passes_without_it() {
    let server = dovecot(false);
    let result = probe("imap", server.imap, &server, "").run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with("the server does not offer STARTTLS"),
        "{}",
        reason(&result)
    );
    let result = probe("pop3", server.pop3, &server, "").run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(
        reason(&result).starts_with("the server does not offer STLS"),
        "{}",
        reason(&result)
    );
    let extra = format!(
        "      tls: none\n{}",
        login(&server, "PLAIN_IMAP_PASSWORD", PASSWORD)
    );
    let result = probe("imap", server.imap, &server, &extra).run().await;
    assert_eq!(result.outcome, Outcome::Ok, "{:?}", result.reason);
}

#[tokio::test]
async fn an_unset_password_secret_is_a_monitor_error_naming_the_variable() {
    let server = dovecot(true);
    let extra = format!(
        "      login: {{user: {USER}, password: {{secret: 'env:NO_SUCH_MAIL_PASSWORD_VAR'}}}}\n"
    );
    let result = probe("imap", server.imap, &server, &extra).run().await;
    assert_eq!(result.outcome, Outcome::Error);
    assert!(
        reason(&result).contains("NO_SUCH_MAIL_PASSWORD_VAR is not set"),
        "{}",
        reason(&result)
    );
}

/// In `shopwatch run`, with debug logs: the password is in neither the log nor /metrics.
#[tokio::test]
async fn the_monitor_never_shows_the_mailbox_password() {
    use util::monitor::{write, Monitor};
    let server = dovecot(true);
    let work = tempfile::tempdir().unwrap();
    let config = format!(
        "listen: 127.0.0.1:0\nprobes:\n  - imap:\n      name: mailbox\n      target: '127.0.0.1:{}'\n      server_name: localhost\n      ca_file: '{}'\n      login: {{user: {USER}, password: {{secret: 'env:SHOP_IMAP_PASSWORD'}}}}\n      every: 10s\n",
        server.imap,
        server.ca.display()
    );
    let config = write(work.path(), "shopwatch.yaml", &config);
    let mut monitor = Monitor::start_with_env(&config, work, &[("SHOP_IMAP_PASSWORD", PASSWORD)]);
    let metrics_url = monitor.metrics_url();
    let text = monitor
        .wait_for_text(
            &metrics_url,
            "shopwatch_probe_runs_total{probe=\"mailbox\",kind=\"imap\",outcome=\"ok\"} 1",
            Duration::from_secs(20),
        )
        .await;
    assert!(!text.contains(PASSWORD));
    let log = monitor.stop();
    assert!(!log.contains(PASSWORD), "{log}");
    let dovecot_log = server.log();
    assert!(
        dovecot_log.contains("Login: user=<shopper>"),
        "{dovecot_log}"
    );
}

#[test]
fn a_password_written_in_the_file_is_refused_and_mailbox_needs_a_login() {
    let yaml = "probes:\n  - imap:\n      name: m\n      target: mail.example:143\n      login: {user: u, password: hunter2}\n      every: 1m\n  - pop3:\n      name: p\n      target: mail.example:110\n      tls: stls\n      every: 1m\n";
    let errors = parse_probes(Path::new("probes.yaml"), yaml)
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("probes.yaml:5:34: the password is a secret"),
        "{errors}"
    );
    assert!(
        errors.contains("probes.yaml:10:12: unknown tls mode `stls`\n  hint: `starttls`, `implicit` (port 995) or `none`"),
        "{errors}"
    );
    let yaml = "probes:\n  - imap:\n      name: m\n      target: mail.example:143\n      mailbox: INBOX\n      every: 1m\n";
    let errors = parse_probes(Path::new("probes.yaml"), yaml)
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("probes.yaml:5:16: `mailbox` is selected after a login"),
        "{errors}"
    );
}
