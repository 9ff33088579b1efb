//! What a shopwatch that died without stopping its drivers (SIGKILL, OOM kill) left behind:
//! finding it, ending it, and nothing else.
//!
//! Every local driver gets a temp dir `shopwatch-driver-*` under [`root`] with an owner file
//! naming the shopwatch process that made it (pid, start time, pid namespace, boot). The
//! driver and every browser it starts inherit `TMPDIR=<that dir>`, so `/proc/*/environ` finds
//! them all, even after they were reparented to init or left their process group. A dir is
//! reaped only when it is ours (the prefix, our uid, an owner file) and its owner is provably
//! gone; only processes of our uid whose TMPDIR is that dir are killed.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The name every driver temp dir starts with.
pub const DIR_PREFIX: &str = "shopwatch-driver-";
/// In each driver temp dir: who made it.
const OWNER_FILE: &str = ".shopwatch-owner";
/// How long killing a dir's processes may take (they must be gone before the dir is removed).
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// Where driver temp dirs go: the temp dir, made absolute exactly once here, so the TMPDIR a
/// driver gets and the path a later scan compares with are the same bytes.
pub fn root() -> PathBuf {
    let temp = std::env::temp_dir();
    std::path::absolute(&temp).unwrap_or(temp)
}

/// One process, named so that a reused pid or another machine state does not match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: i32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks after boot.
    pub start: u64,
    /// `pid:[inode]` of the pid namespace: pids of another namespace mean nothing here.
    pid_ns: String,
    boot: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Gone,
    /// Another pid namespace: its pids cannot be checked from here.
    Unknown,
}

impl Owner {
    /// This process.
    pub fn current() -> io::Result<Owner> {
        let pid = std::process::id() as i32;
        let start = start_time(pid)?.ok_or_else(|| io::Error::other("no start time"))?;
        Ok(Owner {
            pid,
            start,
            pid_ns: pid_namespace(),
            boot: boot_id(),
        })
    }

    /// `pid` with the start time it must have, in our namespace and boot.
    pub fn with_start(pid: i32, start: u64) -> Owner {
        Owner {
            pid,
            start,
            pid_ns: pid_namespace(),
            boot: boot_id(),
        }
    }

    fn to_text(&self) -> String {
        format!(
            "pid={}\nstart={}\npid_ns={}\nboot={}\n",
            self.pid, self.start, self.pid_ns, self.boot
        )
    }

    fn parse(text: &str) -> Option<Owner> {
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
        };
        Some(Owner {
            pid: value("pid")?.parse().ok()?,
            start: value("start")?.parse().ok()?,
            pid_ns: value("pid_ns")?,
            boot: value("boot")?,
        })
    }

    pub fn liveness(&self) -> Liveness {
        if self.boot != boot_id() {
            return Liveness::Gone;
        }
        if self.pid_ns != pid_namespace() {
            return Liveness::Unknown;
        }
        match start_time(self.pid) {
            Ok(Some(start)) if start == self.start => Liveness::Alive,
            // No such pid, a zombie, or the pid now names another process.
            Ok(_) => Liveness::Gone,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Liveness::Gone,
            Err(_) => Liveness::Unknown,
        }
    }
}

/// The start time of a live (not zombie) process; None for a zombie or a dying one.
fn start_time(pid: i32) -> io::Result<Option<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: fields after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    if matches!(fields.first(), Some(&"Z") | Some(&"X") | Some(&"x")) {
        return Ok(None);
    }
    fields
        .get(19)
        .and_then(|s| s.parse().ok())
        .map(Some)
        .ok_or_else(|| io::Error::other(format!("unreadable /proc/{pid}/stat")))
}

fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Marks `dir` (a fresh driver temp dir) as this process's.
pub fn claim(dir: &Path) -> io::Result<()> {
    std::fs::write(dir.join(OWNER_FILE), Owner::current()?.to_text())
}

/// What one reaping did.
#[derive(Debug, Default)]
pub struct Reaped {
    /// Driver and browser processes killed.
    pub processes: usize,
    /// Temp dirs removed.
    pub dirs: Vec<PathBuf>,
    /// The pids of the shopwatch processes whose leftovers these were.
    pub owners: Vec<i32>,
}

impl Reaped {
    pub fn is_empty(&self) -> bool {
        self.processes == 0 && self.dirs.is_empty()
    }

    /// "3 processes killed, 1 temp dir removed (left by shopwatch pid 1234)"
    pub fn describe(&self) -> String {
        let owners: Vec<String> = self.owners.iter().map(i32::to_string).collect();
        format!(
            "{} driver/browser process{} killed, {} temp dir{} removed (left by shopwatch pid {})",
            self.processes,
            if self.processes == 1 { "" } else { "es" },
            self.dirs.len(),
            if self.dirs.len() == 1 { "" } else { "s" },
            owners.join(", ")
        )
    }
}

/// Reaps every driver temp dir under `root` whose owner is gone: kills its processes, removes
/// it. Dirs of live owners, of other users, without an owner file, or of another pid namespace
/// are left alone.
pub fn reap_orphans(root: &Path) -> Reaped {
    let mut reaped = Reaped::default();
    let Ok(entries) = std::fs::read_dir(root) else {
        return reaped;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .as_bytes()
            .starts_with(DIR_PREFIX.as_bytes())
        {
            continue;
        }
        let dir = root.join(entry.file_name());
        let Some(owner) = orphaned_owner(&dir) else {
            continue;
        };
        reaped.processes += kill_under(&dir);
        if remove(&dir) {
            reaped.dirs.push(dir);
            if !reaped.owners.contains(&owner.pid) {
                reaped.owners.push(owner.pid);
            }
        }
    }
    reaped
}

/// Kills again what still runs under dirs reaped before, and removes them if they came back: a
/// driver forked just before its owner died may exec after the first sweep.
pub fn sweep_again(reaped: &mut Reaped) {
    for dir in &reaped.dirs {
        reaped.processes += kill_under(dir);
        if dir.exists() {
            remove(dir);
        }
    }
}

/// The owner of `dir` if the dir is ours to reap: a real dir of our uid with an owner file
/// naming a process that is gone.
fn orphaned_owner(dir: &Path) -> Option<Owner> {
    let meta = std::fs::symlink_metadata(dir).ok()?;
    if !meta.is_dir() || meta.uid() != effective_uid() {
        return None;
    }
    let text = match std::fs::read_to_string(dir.join(OWNER_FILE)) {
        Ok(text) => text,
        Err(e) => {
            tracing::debug!("{}: no owner file ({e}); not ours to remove", dir.display());
            return None;
        }
    };
    let owner = Owner::parse(&text)?;
    match owner.liveness() {
        Liveness::Gone => Some(owner),
        state => {
            tracing::debug!(
                "{}: owner pid {} is {state:?}; left alone",
                dir.display(),
                owner.pid
            );
            None
        }
    }
}

/// Removes `dir`; true when it is gone afterwards.
fn remove(dir: &Path) -> bool {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        // A process that was just killed may still have been writing; or another reaper
        // (a guard and a new start) removed it at the same time.
        if dir.exists() {
            std::thread::sleep(Duration::from_millis(200));
            if let Err(again) = std::fs::remove_dir_all(dir) {
                if dir.exists() {
                    tracing::warn!("cannot remove {}: {again} (first: {e})", dir.display());
                    return false;
                }
            }
        }
    }
    true
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// Kills every process of our uid whose TMPDIR is `dir` (or below it), until none is left or
/// `KILL_TIMEOUT`; returns how many were killed.
pub fn kill_under(dir: &Path) -> usize {
    let deadline = Instant::now() + KILL_TIMEOUT;
    let mut killed = Vec::new();
    loop {
        let found = processes_under(dir);
        if found.is_empty() {
            break;
        }
        for pid in found {
            if kill_if_under(pid, dir) && !killed.contains(&pid) {
                killed.push(pid);
            }
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                "processes under {} still run after {}s of SIGKILL",
                dir.display(),
                KILL_TIMEOUT.as_secs()
            );
            break;
        }
        // Killed processes vanish (or turn zombie) a moment later; one that forked meanwhile
        // shows up in the next scan.
        std::thread::sleep(Duration::from_millis(20));
    }
    killed.len()
}

/// Live processes of our uid, other than this one, whose TMPDIR is `dir` or below it.
fn processes_under(dir: &Path) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me && is_under(pid, dir))
        .collect()
}

/// Whether `pid` is a live process of our uid with TMPDIR `dir` (or below it), or a Chromium
/// process with its `--user-data-dir` there: Chromium's helpers (zygote, renderer, GPU) write
/// their title over their environment, so only their command line still tells. A zombie has
/// neither, so it never matches.
fn is_under(pid: i32, dir: &Path) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    match std::fs::metadata(&proc_dir) {
        Ok(meta) if meta.uid() == effective_uid() => {}
        _ => return false,
    }
    let tmpdir = std::fs::read(proc_dir.join("environ")).is_ok_and(|environ| {
        environ
            .split(|b| *b == 0)
            .filter_map(|var| var.strip_prefix(b"TMPDIR="))
            .any(|value| within(value, dir, b"/"))
    });
    tmpdir
        || std::fs::read(proc_dir.join("cmdline"))
            .is_ok_and(|cmdline| names_profile_in(&cmdline, dir))
}

/// `value` is `dir` or a path below it (compared as bytes); `ends` are the bytes that may
/// follow `dir` in `value`.
fn within(value: &[u8], dir: &Path, ends: &[u8]) -> bool {
    match value.strip_prefix(dir.as_os_str().as_bytes()) {
        Some(rest) => rest.first().is_none_or(|b| ends.contains(b)),
        None => false,
    }
}

/// A `--user-data-dir=` argument at or below `dir`, in a command line of NUL-separated
/// arguments or in one rewritten as a space-separated title.
fn names_profile_in(cmdline: &[u8], dir: &Path) -> bool {
    const FLAG: &[u8] = b"--user-data-dir=";
    cmdline
        .windows(FLAG.len())
        .enumerate()
        .filter(|(_, window)| *window == FLAG)
        .any(|(at, _)| within(&cmdline[at + FLAG.len()..], dir, b"/ \0"))
}

/// SIGKILLs `pid` if it still is a process under `dir`. Through a pidfd where the kernel has
/// them: the check and the signal then reach the same process, even if the pid was reused in
/// between.
fn kill_if_under(pid: i32, dir: &Path) -> bool {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: pidfd_open(pid, 0) takes two integers and returns a new fd or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if raw < 0 {
        let no_pidfd = io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS);
        // SAFETY: kill(2) on a pid just checked to be ours; no memory involved.
        return no_pidfd && is_under(pid, dir) && unsafe { libc::kill(pid, libc::SIGKILL) } == 0;
    }
    // SAFETY: `raw` is a new fd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw) };
    if !is_under(pid, dir) {
        return false;
    }
    // SAFETY: pidfd_send_signal(fd, sig, NULL, 0) with an fd we own; no memory is passed.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    sent == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_file_round_trips_and_names_a_live_process() {
        let me = Owner::current().unwrap();
        assert_eq!(Owner::parse(&me.to_text()), Some(me.clone()));
        assert_eq!(me.liveness(), Liveness::Alive);
    }

    #[test]
    fn a_reused_pid_or_another_boot_counts_as_gone() {
        let me = Owner::current().unwrap();
        let reused = Owner {
            start: me.start + 1,
            ..me.clone()
        };
        assert_eq!(reused.liveness(), Liveness::Gone);
        let rebooted = Owner {
            boot: "another-boot".to_string(),
            ..me.clone()
        };
        assert_eq!(rebooted.liveness(), Liveness::Gone);
        let elsewhere = Owner {
            pid_ns: "pid:[1]".to_string(),
            ..me
        };
        assert_eq!(elsewhere.liveness(), Liveness::Unknown);
    }

    #[test]
    fn tmpdir_matches_the_dir_and_below_only() {
        let dir = Path::new("/tmp/shopwatch-driver-abc");
        let matches = |value: &str| within(value.as_bytes(), dir, b"/");
        assert!(matches("/tmp/shopwatch-driver-abc"));
        assert!(matches("/tmp/shopwatch-driver-abc/"));
        assert!(matches("/tmp/shopwatch-driver-abc/x"));
        assert!(!matches("/tmp/shopwatch-driver-abcd"));
        assert!(!matches("/tmp"));
    }

    #[test]
    fn chromium_helpers_are_known_by_their_profile_argument() {
        let dir = Path::new("/tmp/shopwatch-driver-abc");
        let title = b"/usr/lib/chromium/chromium --type=zygote --user-data-dir=/tmp/shopwatch-driver-abc/profile --no-sandbox";
        assert!(names_profile_in(title, dir));
        let argv = b"chromium\0--user-data-dir=/tmp/shopwatch-driver-abc/profile\0";
        assert!(names_profile_in(argv, dir));
        let other = b"chromium\0--user-data-dir=/tmp/shopwatch-driver-abcd/profile\0";
        assert!(!names_profile_in(other, dir));
        assert!(!names_profile_in(
            b"ls\0/tmp/shopwatch-driver-abc/profile\0",
            dir
        ));
    }

    #[test]
    fn garbage_owner_files_are_not_proof() {
        assert_eq!(Owner::parse(""), None);
        assert_eq!(Owner::parse("pid=12\nstart=x\npid_ns=a\nboot=b\n"), None);
    }
}
