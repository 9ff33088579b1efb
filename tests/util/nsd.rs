//! A real authoritative DNS server for the tests: NSD (Debian's `nsd`, installed by
//! scripts/install-deps), one process per address, serving the zones it is given on port 53 of
//! a loopback address (a delegation's glue carries addresses only, so the port is DNS's own).
//! Each test takes its own `127.53.N.0/24` from [`addresses`], so the tests of a binary run in
//! parallel.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// One running NSD; stopped when dropped.
pub struct Nsd {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh `127.53.N.x` network for one test: `addresses()(x)` is its host `x`.
pub fn addresses() -> impl Fn(u8) -> Ipv4Addr {
    static NEXT: AtomicU8 = AtomicU8::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    move |host| Ipv4Addr::new(127, 53, n, host)
}

/// Starts NSD on `ip:53` serving `zones` (name, zone file text); waits until it answers.
/// Fails the test loudly when NSD is missing or cannot start.
pub fn start(ip: Ipv4Addr, zones: &[(&str, String)]) -> Nsd {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let mut conf = format!(
        "server:\n  ip-address: {ip}@53\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
         zonesdir: \"{dir}\"\n  database: \"\"\n  pidfile: \"{pid}\"\n  xfrdfile: \"{xfrd}\"\n  \
         zonelistfile: \"{list}\"\n  logfile: \"{log}\"\n  server-count: 1\n  verbosity: 1\n\
         remote-control:\n  control-enable: no\n",
        dir = dir.path().display(),
        pid = path("nsd.pid").display(),
        xfrd = path("xfrd.state").display(),
        list = path("zone.list").display(),
        log = path("nsd.log").display(),
    );
    for (i, (name, text)) in zones.iter().enumerate() {
        let file = format!("zone{i}.zone");
        std::fs::write(path(&file), text).unwrap();
        conf.push_str(&format!("zone:\n  name: {name}\n  zonefile: {file}\n"));
    }
    std::fs::write(path("nsd.conf"), &conf).unwrap();
    let program = which("nsd").unwrap_or_else(|| {
        panic!("NSD (`nsd`) is not installed: run scripts/install-deps (Debian package nsd)")
    });
    let child = Command::new(program)
        .args(["-d", "-c"])
        .arg(path("nsd.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting nsd");
    let addr = SocketAddr::from((ip, 53));
    let nsd = Nsd {
        child,
        addr,
        _dir: dir,
    };
    let started = Instant::now();
    while !answers(addr) {
        if started.elapsed() > Duration::from_secs(15) {
            let log = std::fs::read_to_string(nsd._dir.path().join("nsd.log")).unwrap_or_default();
            panic!(
                "nsd on {addr} did not answer within 15 s (port 53 taken, or not root?):\n{log}"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    nsd
}

/// A zone file: `$ORIGIN`, a TTL, a SOA with `serial`, then `records` (relative or absolute
/// names, as in any zone file).
pub fn zone(origin: &str, serial: u32, records: &str) -> String {
    format!(
        "$ORIGIN {origin}\n$TTL 300\n@ IN SOA ns1.{origin} hostmaster.{origin} {serial} 3600 600 86400 300\n{records}\n"
    )
}

/// Any answer to a query for the root's SOA (NSD refuses it, which is an answer).
fn answers(addr: SocketAddr) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let query = [
        0x51, 0x7a, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, // id, flags, one question
        0, 0, 6, 0, 1, // the root, SOA, IN
    ];
    if socket.send_to(&query, addr).is_err() {
        return false;
    }
    let mut buffer = [0u8; 512];
    matches!(socket.recv_from(&mut buffer), Ok((n, _)) if n >= 12 && buffer[..2] == [0x51, 0x7a])
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
