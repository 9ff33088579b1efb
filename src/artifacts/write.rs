//! Writing a run's artifacts: its directory, marked as shopwatch's when created, and files
//! written whole or not at all, so that a full disk leaves no empty or cut-off screenshot.

use super::RUN_MARKER;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Creates the attempt directory `attempt` inside the run directory `run`. A run directory
/// created here gets [`RUN_MARKER`] first, so retention may delete it later; one that cannot be
/// marked is removed again rather than left for no one to clean up.
pub fn create_attempt_dir(run: &Path, attempt: &Path) -> io::Result<()> {
    let created = match fs::create_dir(run) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(run)?;
            true
        }
        Err(e) => return Err(e),
    };
    let marker = run.join(RUN_MARKER);
    let marked = fs::symlink_metadata(&marker).is_ok_and(|m| m.is_file());
    if !marked {
        // Empty: creating it needs no free blocks, only an inode.
        if let Err(e) = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
        {
            if created {
                let _ = fs::remove_dir(run);
            }
            return Err(e);
        }
    }
    fs::create_dir_all(attempt)
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory, flushed
/// to disk, then renamed over `path`. On any failure the temporary file is removed and `path`
/// is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        ));
    };
    // Hidden, and never served (`/artifacts/` does not serve hidden names).
    let temp = dir.join(format!(
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&temp, path));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_run_is_marked_before_anything_is_written() {
        let root = tempfile::tempdir().unwrap();
        let run = root.path().join("shop").join("20261121T063445-25a4");
        let attempt = run.join("attempt-1");
        create_attempt_dir(&run, &attempt).unwrap();
        assert!(run.join(RUN_MARKER).is_file());
        assert!(attempt.is_dir());
        // A second attempt of the same run.
        create_attempt_dir(&run, &run.join("attempt-2")).unwrap();
        assert!(run.join("attempt-2").is_dir());
    }

    #[test]
    fn a_file_is_replaced_whole_and_no_temporary_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkout.html");
        write_atomic(&path, b"<html>one").unwrap();
        write_atomic(&path, b"<html>two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"<html>two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["checkout.html"]);
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // Renaming a file over a directory fails after the data was written.
        let path = dir.path().join("checkout.png");
        fs::create_dir(&path).unwrap();
        assert!(write_atomic(&path, b"png").is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["checkout.png"]);
    }
}
