//! Retention of failed steps' artifacts: runs are directories `<dir>/<journey>/<run id>/`
//! holding [`RUN_MARKER`]; those older than `max_age` go, then the oldest until the rest fit in
//! `max_size`. Nothing else in the directory is counted or deleted, and every deletion is
//! logged.

use super::{ArtifactsConfig, RUN_MARKER};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What is on disk after a sweep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub files: u64,
    pub bytes: u64,
    /// Run directories deleted by this sweep.
    pub removed_runs: u64,
    /// Which (the run history forgets their artifacts).
    pub removed: Vec<PathBuf>,
}

struct Run {
    dir: PathBuf,
    modified: SystemTime,
    files: u64,
    bytes: u64,
}

/// Deletes what the retention settings say must go; returns what is left. A missing directory
/// is empty, not an error; an unreadable one is.
pub fn sweep(config: &ArtifactsConfig, now: SystemTime) -> std::io::Result<Usage> {
    let mut runs = Vec::new();
    let journeys = match std::fs::read_dir(&config.dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Usage::default()),
        Err(e) => return Err(e),
    };
    for journey in journeys {
        let journey = journey?;
        // Not through links: what a link leads to is not shopwatch's.
        if !journey.file_type()?.is_dir() {
            continue;
        }
        for run in std::fs::read_dir(journey.path())? {
            let run = run?;
            if !run.file_type()?.is_dir() || !is_marked(&run.path()) {
                continue;
            }
            let (files, bytes, newest) = measure(&run.path())?;
            let modified = newest.max(run.metadata()?.modified()?);
            runs.push(Run {
                dir: run.path(),
                modified,
                files,
                bytes,
            });
        }
    }
    // Oldest first.
    runs.sort_by_key(|run| run.modified);
    let mut usage = Usage {
        files: runs.iter().map(|r| r.files).sum(),
        bytes: runs.iter().map(|r| r.bytes).sum(),
        removed_runs: 0,
        removed: Vec::new(),
    };
    for run in runs {
        let age = now.duration_since(run.modified).unwrap_or(Duration::ZERO);
        let reason = if age > config.max_age {
            "age"
        } else if usage.bytes > config.max_size {
            "size"
        } else {
            break;
        };
        std::fs::remove_dir_all(&run.dir)?;
        let why = match reason {
            "age" => format!(
                "older than max_age {}",
                humantime::format_duration(config.max_age)
            ),
            _ => format!("over max_size {} bytes", config.max_size),
        };
        tracing::info!(
            path = %run.dir.display(),
            reason,
            bytes = run.bytes,
            "artifacts retention: deleted run {} ({why}; {} files, {} bytes)",
            run.dir.display(),
            run.files,
            run.bytes
        );
        usage.files -= run.files;
        usage.bytes -= run.bytes;
        usage.removed_runs += 1;
        usage.removed.push(run.dir);
    }
    Ok(usage)
}

/// Whether shopwatch wrote the run directory `dir`: it holds the marker as a plain file.
fn is_marked(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(RUN_MARKER)).is_ok_and(|m| m.is_file())
}

/// Files (markers aside), bytes and the newest modification time under `dir`.
fn measure(dir: &Path) -> std::io::Result<(u64, u64, SystemTime)> {
    let (mut files, mut bytes, mut newest) = (0, 0, SystemTime::UNIX_EPOCH);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        // Of the entry itself, never of what a link leads to.
        let metadata = entry.metadata()?;
        if entry.file_name() == RUN_MARKER {
            continue;
        }
        if metadata.is_dir() {
            let (f, b, n) = measure(&entry.path())?;
            files += f;
            bytes += b;
            newest = newest.max(n);
        } else {
            files += 1;
            bytes += metadata.len();
            newest = newest.max(metadata.modified()?);
        }
    }
    Ok((files, bytes, newest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::write::create_attempt_dir;

    /// A run as the runner writes it: marked, one attempt, a screenshot and a page.
    fn run_dir(root: &Path, journey: &str, run: &str, bytes: usize) -> PathBuf {
        let run = root.join(journey).join(run);
        let dir = run.join("attempt-1");
        create_attempt_dir(&run, &dir).unwrap();
        std::fs::write(dir.join("checkout.png"), vec![0u8; bytes]).unwrap();
        std::fs::write(dir.join("checkout.html"), b"<html>").unwrap();
        dir
    }

    #[test]
    fn old_runs_go_then_the_oldest_until_it_fits() {
        let root = tempfile::tempdir().unwrap();
        run_dir(root.path(), "checkout", "run-1", 1000);
        run_dir(root.path(), "checkout", "run-2", 1000);
        run_dir(root.path(), "search", "run-3", 1000);
        let config = ArtifactsConfig {
            dir: root.path().to_path_buf(),
            max_age: Duration::from_secs(3600),
            max_size: 10_000,
        };
        let now = SystemTime::now();
        let usage = sweep(&config, now).unwrap();
        assert_eq!(
            usage,
            Usage {
                files: 6,
                bytes: 3018,
                removed_runs: 0,
                removed: vec![],
            }
        );

        // Over the size budget: the oldest runs go first, until the rest fit.
        let small = ArtifactsConfig {
            max_size: 2500,
            ..config.clone()
        };
        let usage = sweep(&small, now).unwrap();
        assert_eq!(usage.removed_runs, 1);
        assert_eq!(usage.bytes, 2012);
        // The runs were made within the same instant: which is oldest is the file system's.
        let mut left: Vec<PathBuf> = ["checkout/run-1", "checkout/run-2", "search/run-3"]
            .iter()
            .map(|run| root.path().join(run))
            .filter(|dir| !usage.removed.contains(dir))
            .collect();
        left.sort();

        // Two hours later, everything is past max_age.
        let mut usage = sweep(&config, now + Duration::from_secs(7200)).unwrap();
        usage.removed.sort();
        assert_eq!(
            usage,
            Usage {
                files: 0,
                bytes: 0,
                removed_runs: 2,
                removed: left,
            }
        );
        assert!(root.path().join("checkout").exists(), "journey dirs stay");
    }

    #[test]
    fn only_marked_runs_are_counted_or_deleted() {
        let root = tempfile::tempdir().unwrap();
        run_dir(root.path(), "checkout", "run-1", 1000);
        // Not shopwatch's: no marker, or the marker is a link or a directory.
        let foreign = root.path().join("data/important");
        std::fs::create_dir_all(&foreign).unwrap();
        std::fs::write(foreign.join("notes.txt"), vec![0u8; 5000]).unwrap();
        let linked = root.path().join("alice/thesis");
        std::fs::create_dir_all(&linked).unwrap();
        std::os::unix::fs::symlink(foreign.join("notes.txt"), linked.join(RUN_MARKER)).unwrap();
        let odd = root.path().join("bob/music");
        std::fs::create_dir_all(odd.join(RUN_MARKER)).unwrap();
        // A link to a directory elsewhere, named like a journey.
        let elsewhere = tempfile::tempdir().unwrap();
        run_dir(elsewhere.path(), "shop", "run-9", 10);
        std::os::unix::fs::symlink(elsewhere.path().join("shop"), root.path().join("shop"))
            .unwrap();

        let config = ArtifactsConfig {
            dir: root.path().to_path_buf(),
            max_age: Duration::from_secs(60),
            max_size: 1,
        };
        let later = SystemTime::now() + Duration::from_secs(3600);
        let usage = sweep(&config, later).unwrap();
        assert_eq!(
            usage,
            Usage {
                files: 0,
                bytes: 0,
                removed_runs: 1,
                removed: vec![root.path().join("checkout/run-1")],
            }
        );
        assert!(!root.path().join("checkout/run-1").exists());
        assert!(foreign.join("notes.txt").exists());
        assert!(linked.exists());
        assert!(odd.exists());
        assert!(elsewhere
            .path()
            .join("shop/run-9/attempt-1/checkout.png")
            .exists());
    }

    #[test]
    fn a_missing_dir_is_empty() {
        let config = ArtifactsConfig {
            dir: PathBuf::from("/nonexistent/shopwatch-artifacts"),
            max_age: Duration::from_secs(1),
            max_size: 1,
        };
        assert_eq!(sweep(&config, SystemTime::now()).unwrap(), Usage::default());
    }
}
