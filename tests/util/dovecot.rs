//! A real Dovecot (Debian's dovecot-imapd and dovecot-pop3d, installed by scripts/install-deps)
//! on 127.0.0.1 with a test user whose mail is a maildir the tests can write into.

use super::monitor::free_port;
use rcgen::{CertificateParams, KeyPair};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "shopper";
pub const PASSWORD: &str = "mail-secret-7f3a";

pub struct Dovecot {
    child: Child,
    pub imap: u16,
    pub imaps: u16,
    pub pop3: u16,
    pub pop3s: u16,
    /// The certificate (self-signed for `localhost`), to trust as a `ca_file`.
    pub ca: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Dovecot with STARTTLS and implicit TLS listeners when `tls`, plain ones only without.
pub fn dovecot(tls: bool) -> Dovecot {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Dovecot's login and mail processes run as other users: they must reach these.
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mail = root.join("mail");
    std::fs::create_dir(&mail).unwrap();
    std::fs::set_permissions(&mail, std::fs::Permissions::from_mode(0o777)).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(root.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(root.join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(
        root.join("passwd"),
        format!("{USER}:{{PLAIN}}{PASSWORD}::::{}/{USER}\n", mail.display()),
    )
    .unwrap();
    let (imap, imaps, pop3, pop3s) = (free_port(), free_port(), free_port(), free_port());
    let r = root.display();
    let ssl = if tls {
        format!("ssl = yes\nssl_cert = <{r}/cert.pem\nssl_key = <{r}/key.pem\n")
    } else {
        "ssl = no\n".to_string()
    };
    let secure_listeners = |name: &str, port: u16| {
        if tls {
            format!("  inet_listener {name} {{\n    port = {port}\n  }}\n")
        } else {
            String::new()
        }
    };
    // `auth_failure_delay = 0`: a refused login answers at once (Dovecot waits 2 s by default,
    // which a loaded machine stretches past a probe's deadline).
    let conf = format!(
        "protocols = imap pop3\nlisten = 127.0.0.1\nbase_dir = {r}/run\nstate_dir = {r}/state\n\
         log_path = {r}/dovecot.log\n{ssl}disable_plaintext_auth = no\nauth_mechanisms = plain login\n\
         auth_failure_delay = 0\n\
         passdb {{\n  driver = passwd-file\n  args = {r}/passwd\n}}\n\
         userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={mail}/%u\n}}\n\
         mail_location = maildir:{mail}/%u\n\
         service imap-login {{\n  chroot =\n  inet_listener imap {{\n    port = {imap}\n  }}\n{imaps_listener}}}\n\
         service pop3-login {{\n  chroot =\n  inet_listener pop3 {{\n    port = {pop3}\n  }}\n{pop3s_listener}}}\n\
         service anvil {{\n  chroot =\n}}\n",
        mail = mail.display(),
        imaps_listener = secure_listeners("imaps", imaps),
        pop3s_listener = secure_listeners("pop3s", pop3s),
    );
    std::fs::write(root.join("dovecot.conf"), conf).unwrap();
    let program = ["/usr/sbin/dovecot", "/usr/bin/dovecot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect(
            "Dovecot is not installed: run scripts/install-deps (dovecot-imapd, dovecot-pop3d)",
        );
    let child = Command::new(program)
        .args(["-F", "-c"])
        .arg(root.join("dovecot.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting dovecot");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", imap)).is_err()
        || std::net::TcpStream::connect(("127.0.0.1", pop3)).is_err()
    {
        if started.elapsed() > Duration::from_secs(15) {
            let log = std::fs::read_to_string(root.join("dovecot.log")).unwrap_or_default();
            panic!("Dovecot did not listen within 15 s:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Dovecot {
        child,
        imap,
        imaps,
        pop3,
        pop3s,
        ca: root.join("cert.pem"),
        dir,
    }
}

impl Dovecot {
    /// The test user's maildir (its `new`, `cur` and `tmp` made, writable by anyone, so a
    /// delivering server running as another user can write into it).
    pub fn maildir(&self) -> PathBuf {
        let maildir = self.dir.path().join("mail").join(USER);
        for sub in ["", "new", "cur", "tmp"] {
            let dir = maildir.join(sub);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        maildir
    }

    /// Messages in the test user's maildir (new and seen).
    pub fn messages(&self) -> usize {
        let maildir = self.dir.path().join("mail").join(USER);
        ["new", "cur"]
            .iter()
            .map(|sub| {
                std::fs::read_dir(maildir.join(sub))
                    .map(|d| d.count())
                    .unwrap_or(0)
            })
            .sum()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }
}
