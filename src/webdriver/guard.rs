//! The guard: a small process that outlives shopwatch just long enough to end the drivers and
//! browsers a SIGKILL (or an OOM kill, or an exit that skips destructors) left running.
//!
//! shopwatch starts it before its first local driver: itself again (`/proc/self/exe __guard`,
//! hidden), with the read end of a pipe as stdin; shopwatch keeps the write end (close-on-exec,
//! so no driver inherits it) for the rest of its life. However shopwatch ends, the kernel
//! closes that end: the guard reads EOF, waits until its owner is gone, and reaps every driver
//! temp dir whose owner is gone (see `reaper`).
//!
//! Why not PR_SET_PDEATHSIG on each driver: it fires when the *thread* that spawned the driver
//! ends (tokio's blocking threads end when idle), and it does not reach the browser, which
//! chromedriver leaves running when it dies. The guard is in its own process group and ignores
//! SIGINT, SIGTERM and SIGHUP: Ctrl-C in a terminal signals the whole foreground group, and
//! stopping a service may signal all its processes, yet the guard must outlast the monitor.

use super::reaper::{self, Liveness, Owner};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// When a second sweep runs: it catches a driver that was forked just before its owner died.
const SECOND_SWEEP_AFTER: Duration = Duration::from_secs(1);

/// `shopwatch __guard`: internal, started by shopwatch itself.
#[derive(Debug, clap::Args)]
pub struct GuardArgs {
    /// The shopwatch process to watch.
    #[arg(long)]
    pub owner_pid: i32,
    /// Its start time (field 22 of `/proc/<pid>/stat`), so a reused pid is not mistaken for it.
    #[arg(long)]
    pub owner_start: u64,
    /// Where its driver temp dirs are.
    #[arg(long)]
    pub root: PathBuf,
}

/// The running guard; its stdin is the pipe whose closing tells it we are gone.
static GUARD: Mutex<Option<Child>> = Mutex::new(None);

/// Whether this process is the shopwatch binary, which knows `__guard`: another program using
/// the library (a test binary) would be re-executed with arguments it does not know.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Called by the shopwatch binary before anything starts a driver.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Starts the guard unless it runs already (again, if it was killed) or this process is not
/// the shopwatch binary. Without a guard shopwatch still works; what a SIGKILL leaves is then
/// reaped at the next start.
pub fn ensure_running() {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let mut guard = GUARD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(child) = guard.as_mut() {
        match child.try_wait() {
            Ok(None) => return,
            Ok(Some(status)) => {
                tracing::warn!("the driver guard ended ({status}); starting a new one")
            }
            Err(e) => {
                tracing::warn!("the driver guard cannot be checked ({e}); starting a new one")
            }
        }
    }
    *guard = match spawn() {
        Ok(child) => Some(child),
        Err(e) => {
            tracing::warn!(
                "cannot start the driver guard: {e}; if shopwatch is killed, its browsers are \
                 removed only at its next start"
            );
            None
        }
    };
}

fn spawn() -> std::io::Result<Child> {
    let owner = Owner::current()?;
    // /proc/self/exe still works when the binary was replaced on disk (an upgrade).
    Command::new("/proc/self/exe")
        // Its own name, so `pidof shopwatch` finds only the monitor.
        .arg0("shopwatch-guard")
        .arg("__guard")
        .arg("--owner-pid")
        .arg(owner.pid.to_string())
        .arg("--owner-start")
        .arg(owner.start.to_string())
        .arg("--root")
        .arg(reaper::root())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
}

/// The guard's life: wait for EOF, then for the owner to be gone, then reap. Returns the exit
/// code.
pub fn serve(args: &GuardArgs) -> i32 {
    // `top` and `ps -o comm` would say "exe" (it runs as /proc/self/exe).
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, c"shopwatch-guard".as_ptr());
    }
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: setting a signal to SIG_IGN installs no handler code.
        unsafe {
            libc::signal(signal, libc::SIG_IGN);
        }
    }
    // Read (and ignore) until the owner's end of the pipe closes.
    let mut stdin = std::io::stdin();
    let mut buffer = [0u8; 64];
    loop {
        match stdin.read(&mut buffer) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let owner = Owner::with_start(args.owner_pid, args.owner_start);
    while owner.liveness() != Liveness::Gone {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut reaped = reaper::reap_orphans(&args.root);
    if reaped.is_empty() {
        return 0;
    }
    std::thread::sleep(SECOND_SWEEP_AFTER);
    reaper::sweep_again(&mut reaped);
    tracing::warn!(
        "shopwatch ended without stopping its browsers: {}",
        reaped.describe()
    );
    0
}
