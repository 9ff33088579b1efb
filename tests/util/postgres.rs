//! A real PostgreSQL server for tests: `initdb` into a temp dir and `postgres` on a free
//! loopback port, password authentication (scram) for the user `shopwatch`. PostgreSQL refuses
//! to run as root, so as root the server runs as `nobody` (its data dir handed to it).

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "shopwatch";
pub const PASSWORD: &str = "pg-Secret-7f3k-9QzX";

/// Where Debian puts the server (the tests name it rather than hoping for PATH).
fn bin(program: &str) -> PathBuf {
    for version in ["17", "16", "15", "14", "13"] {
        let path = Path::new("/usr/lib/postgresql")
            .join(version)
            .join("bin")
            .join(program);
        if path.is_file() {
            return path;
        }
    }
    panic!("PostgreSQL's {program} is not installed (Debian package `postgresql`): run scripts/install-deps");
}

pub struct Postgres {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

fn as_server_user(command: &mut Command) -> &mut Command {
    // SAFETY: getuid(2) has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        command.uid(65534).gid(65534);
    }
    command
}

impl Postgres {
    pub fn start() -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("shopwatch-pg-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        // SAFETY: getuid(2) has no preconditions.
        if unsafe { libc::getuid() } == 0 {
            for path in [dir.path(), &data, &pwfile] {
                std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
            }
        }
        let out = as_server_user(Command::new(bin("initdb")).args([
            "-D",
            data.to_str().unwrap(),
            "-U",
            USER,
            "--pwfile",
            pwfile.to_str().unwrap(),
            "--auth=scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
        ]))
        .output()
        .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = Postgres {
            dir,
            port: super::monitor::free_port(),
            child: None,
        };
        pg.run();
        pg
    }

    fn run(&mut self) {
        let data = self.dir.path().join("data");
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let child = as_server_user(
            Command::new(bin("postgres"))
                .args([
                    "-D",
                    data.to_str().unwrap(),
                    "-k",
                    self.dir.path().to_str().unwrap(),
                ])
                .args(["-p", &self.port.to_string()])
                .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log),
        )
        .spawn()
        .expect("start postgres");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "postgres did not listen on {} within 30 s:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Listening is not accepting yet: wait out "the database system is starting up".
        std::thread::sleep(Duration::from_millis(500));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// `postgres://shopwatch@127.0.0.1:PORT/postgres`: no password in it.
    pub fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/postgres", self.port)
    }

    /// Fast shutdown (SIGINT to the postmaster, by its pid), waiting for it to end.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on the pid of our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The same server again, on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
