//! Opening a file of the artifacts directory for `/artifacts/<path>`: regular files under the
//! directory only. Each component is opened relative to the directory opened before it, with
//! `O_NOFOLLOW`, so no symbolic link is followed, not even one swapped in while the path is
//! walked; `.`, `..`, empty and hidden names (markers, temporary files) are never looked up.

use rustix::fs::{fstat, openat, FileType, Mode, OFlags, CWD};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The bytes of the regular file at `relative` (`demo/<run id>/attempt-1/checkout.png`, `/`
/// separated, already percent-decoded) under `root`, and its content type; None for anything
/// else: a missing file, a directory, a link, a device or pipe, a hidden name.
pub fn read(root: &Path, relative: &str) -> Option<(Vec<u8>, &'static str)> {
    let names: Vec<&str> = relative.split('/').collect();
    let (file_name, dirs) = names.split_last()?;
    if names.iter().any(|name| !servable(name)) {
        return None;
    }
    // The root as configured (it may be a link an admin set up); nothing below it is followed.
    let mut dir = openat(
        CWD,
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    for name in dirs {
        dir = openat(
            &dir,
            *name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
    }
    // NONBLOCK: opening a pipe must not wait for a writer (it is refused just below).
    let fd = openat(
        &dir,
        *file_name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let stat = fstat(&fd).ok()?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return None;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(stat.st_size).unwrap_or(0));
    File::from(fd).read_to_end(&mut bytes).ok()?;
    Some((bytes, content_type(file_name)))
}

/// A name that may be looked up: not empty, `.`, `..` or hidden, no NUL or backslash.
fn servable(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['\0', '\\'])
}

/// By extension, for what shopwatch writes; anything else is plain bytes.
pub fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("png") => "image/png",
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt" | "log") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn regular_files_under_the_root_only() {
        let root = tempfile::tempdir().unwrap();
        let attempt = root.path().join("shop/20261121T063445-25a4/attempt-1");
        std::fs::create_dir_all(&attempt).unwrap();
        std::fs::write(attempt.join("checkout.png"), b"\x89PNG").unwrap();
        std::fs::write(attempt.join(".checkout.png.1-0.tmp"), b"half").unwrap();
        symlink("/etc", root.path().join("etc")).unwrap();
        symlink("/etc/passwd", attempt.join("passwd.txt")).unwrap();
        symlink(&attempt, root.path().join("latest")).unwrap();
        let fifo = attempt.join("pipe.txt");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());

        let path = "shop/20261121T063445-25a4/attempt-1";
        assert_eq!(
            read(root.path(), &format!("{path}/checkout.png")),
            Some((b"\x89PNG".to_vec(), "image/png"))
        );
        for refused in [
            "etc/passwd".to_string(),
            format!("{path}/passwd.txt"),
            "latest/checkout.png".to_string(),
            format!("{path}/pipe.txt"),
            format!("{path}/.checkout.png.1-0.tmp"),
            path.to_string(),
            format!("{path}/"),
            format!("{path}/../attempt-1/checkout.png"),
            format!("{path}/./checkout.png"),
            "shop//20261121T063445-25a4/attempt-1/checkout.png".to_string(),
            "../../../etc/passwd".to_string(),
            String::new(),
        ] {
            assert_eq!(read(root.path(), &refused), None, "{refused}");
        }
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("checkout.png"), "image/png");
        assert_eq!(content_type("checkout.HTML"), "text/html; charset=utf-8");
        assert_eq!(content_type("checkout.txt"), "text/plain; charset=utf-8");
        assert_eq!(content_type("report.json"), "application/json");
        assert_eq!(content_type("core"), "application/octet-stream");
    }
}
