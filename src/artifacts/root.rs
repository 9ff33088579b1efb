//! Which directory may be the artifacts directory, and taking it.
//!
//! Retention deletes runs there, so shopwatch takes only a directory that is new, empty, or
//! already its own ([`ROOT_MARKER`]). A directory of an older shopwatch (no markers yet) holding
//! nothing but `<journey>/<run id>/attempt-<n>/` files is adopted: each run gets its
//! [`RUN_MARKER`], the directory its [`ROOT_MARKER`]. `/`, system directories, the user's home,
//! the configuration's own directory and anything else are refused: [`check`] says why,
//! without writing, for `validate`; [`claim`] checks again and takes the directory at start.

use super::{looks_like_attempt, looks_like_run_id, ROOT_MARKER, RUN_MARKER};
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// What the marker at the root says, for whoever finds the directory.
const ROOT_MARKER_TEXT: &str = "\
This directory holds shopwatch's artifacts: screenshots, pages and console logs of failed steps.
shopwatch deletes old runs here (artifacts.max_age, artifacts.max_size), but only the run
directories it wrote itself (those holding a .shopwatch-run file). Keep nothing else here.
";

/// Entries a directory may hold and still count as empty: a file system's own.
const IGNORED: &[&str] = &["lost+found"];

/// Directories no one should give shopwatch to delete in (also when reached through a link).
const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/usr/local",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/share",
    "/var",
    "/var/cache",
    "/var/lib",
    "/var/log",
    "/var/mail",
    "/var/run",
    "/var/spool",
    "/var/tmp",
    // macOS
    "/Applications",
    "/Library",
    "/System",
    "/Users",
    "/Volumes",
    "/private",
    "/private/etc",
    "/private/tmp",
    "/private/var",
];

/// Why a directory cannot be the artifacts directory, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub hint: String,
}

/// What the directory is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not there yet: created at start.
    Missing,
    /// There and empty: taken at start.
    Empty,
    /// shopwatch's own: it has [`ROOT_MARKER`].
    Ours,
    /// Runs of a shopwatch from before markers, and nothing else: adopted at start.
    Legacy { runs: Vec<PathBuf> },
}

const OWN_DIR_HINT: &str = "shopwatch deletes old runs in its artifacts directory, so it takes only a new or empty directory, or one it wrote: give it a directory of its own, e.g. `dir: shopwatch-artifacts` beside the configuration (created when missing)";

/// Whether `dir` may be the artifacts directory (of the configuration file `config`, when
/// there is one), without writing anything.
pub fn check(dir: &Path, config: Option<&Path>) -> Result<State, Refusal> {
    let shown = lexical(dir);
    let refuse = |message: String| Refusal {
        message,
        hint: OWN_DIR_HINT.to_string(),
    };
    let absolute = lexical(&std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()));
    // The path as written, and where it leads through links when it exists.
    let mut forms = vec![absolute.clone()];
    forms.extend(fs::canonicalize(dir).ok().filter(|c| *c != absolute));
    let resolved = |form: &PathBuf| {
        if *form == absolute {
            String::new()
        } else {
            format!(" (`{}`)", form.display())
        }
    };
    for form in &forms {
        if form.parent().is_none() {
            return Err(refuse(format!(
                "the artifacts directory `{}`{} is the root of the file system",
                shown.display(),
                resolved(form)
            )));
        }
        if is_system_dir(form) {
            return Err(refuse(format!(
                "the artifacts directory `{}`{} is a system directory",
                shown.display(),
                resolved(form)
            )));
        }
        if home_dirs().contains(form) {
            return Err(refuse(format!(
                "the artifacts directory `{}`{} is your home directory",
                shown.display(),
                resolved(form)
            )));
        }
    }
    if let Some(config) = config {
        let config_dir = match config.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let config_dirs = [
            Some(lexical(
                &std::path::absolute(config_dir).unwrap_or_else(|_| config_dir.to_path_buf()),
            )),
            fs::canonicalize(config_dir).ok(),
        ];
        let holds_config = forms.iter().any(|form| {
            config_dirs
                .iter()
                .flatten()
                .any(|config_dir| config_dir.starts_with(form))
        });
        if holds_config {
            return Err(refuse(format!(
                "the artifacts directory `{}` holds this configuration file",
                shown.display()
            )));
        }
    }

    let metadata = match fs::symlink_metadata(dir).and_then(|m| {
        // A link to a directory is fine: the admin set it up; what it leads to is checked.
        if m.file_type().is_symlink() {
            fs::metadata(dir)
        } else {
            Ok(m)
        }
    }) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::Missing),
        Err(e) => return Err(unreadable(&shown, &e)),
    };
    if !metadata.is_dir() {
        return Err(Refusal {
            message: format!(
                "the artifacts directory `{}` is a file, not a directory",
                shown.display()
            ),
            hint: "give a directory, e.g. `dir: shopwatch-artifacts` (created when missing)"
                .to_string(),
        });
    }
    if fs::symlink_metadata(dir.join(ROOT_MARKER)).is_ok_and(|m| m.is_file()) {
        return Ok(State::Ours);
    }
    let mut names: Vec<String> = entries(dir)
        .map_err(|e| unreadable(&shown, &e))?
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| !IGNORED.contains(&name.as_str()))
        .collect();
    if names.is_empty() {
        return Ok(State::Empty);
    }
    if let Some(runs) = legacy_runs(dir).map_err(|e| unreadable(&shown, &e))? {
        return Ok(State::Legacy { runs });
    }
    names.sort();
    let listed: Vec<String> = names.iter().take(3).map(|n| format!("`{n}`")).collect();
    let more = if names.len() > 3 { ", ..." } else { "" };
    Err(refuse(format!(
        "the artifacts directory `{}` already holds files shopwatch did not write ({}{more})",
        shown.display(),
        listed.join(", ")
    )))
}

/// Checks `dir` again and takes it: creates it, or marks it (adopting the runs of an older
/// shopwatch). Returns what it was before.
pub fn claim(dir: &Path, config: Option<&Path>) -> Result<State, Refusal> {
    let state = check(dir, config)?;
    let shown = lexical(dir);
    let cannot = |e: io::Error| Refusal {
        message: format!(
            "cannot set up the artifacts directory `{}`: {e}",
            shown.display()
        ),
        hint: "shopwatch must be able to create and write it; give a directory it may write"
            .to_string(),
    };
    match &state {
        State::Ours => return Ok(state),
        State::Missing => fs::create_dir_all(dir).map_err(cannot)?,
        State::Empty => {}
        State::Legacy { runs } => {
            for run in runs {
                let marker = run.join(RUN_MARKER);
                if !marker.exists() {
                    fs::write(&marker, "").map_err(cannot)?;
                }
            }
            tracing::info!(
                dir = %dir.display(),
                runs = runs.len(),
                "adopted the artifacts directory of an earlier shopwatch: its {} runs are retained and deleted as new ones are",
                runs.len()
            );
        }
    }
    fs::write(dir.join(ROOT_MARKER), ROOT_MARKER_TEXT).map_err(cannot)?;
    Ok(state)
}

fn unreadable(shown: &Path, e: &io::Error) -> Refusal {
    Refusal {
        message: format!(
            "cannot read the artifacts directory `{}`: {e}",
            shown.display()
        ),
        hint: "shopwatch must be able to read and write it".to_string(),
    }
}

/// The entries of `dir`, by name, with whether each is a directory (links are not).
fn entries(dir: &Path) -> io::Result<Vec<(String, bool)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let is_dir = entry.file_type()?.is_dir();
        found.push((entry.file_name().to_string_lossy().into_owned(), is_dir));
    }
    Ok(found)
}

/// When `dir` holds only `<journey>/<run id>/attempt-<n>/<files>` (runs may already have
/// their marker), those run directories; else None.
fn legacy_runs(dir: &Path) -> io::Result<Option<Vec<PathBuf>>> {
    let mut runs = Vec::new();
    for (journey, is_dir) in entries(dir)? {
        if IGNORED.contains(&journey.as_str()) {
            continue;
        }
        if !is_dir {
            return Ok(None);
        }
        let journey = dir.join(journey);
        for (run, is_dir) in entries(&journey)? {
            if !is_dir || !looks_like_run_id(&run) {
                return Ok(None);
            }
            let run = journey.join(run);
            for (attempt, is_dir) in entries(&run)? {
                if !is_dir && attempt == RUN_MARKER {
                    continue;
                }
                if !is_dir || !looks_like_attempt(&attempt) {
                    return Ok(None);
                }
                let files = entries(&run.join(&attempt))?;
                if files.iter().any(|(_, is_dir)| *is_dir) {
                    return Ok(None);
                }
            }
            runs.push(run);
        }
    }
    Ok(Some(runs))
}

/// `path` with `.` dropped and `..` taken back where it can be (`a/./b/../c` -> `a/c`),
/// without looking at the disk.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let last = out.components().next_back();
                match last {
                    Some(Component::Normal(_)) => {
                        out.pop();
                    }
                    // `/..` is `/`.
                    Some(Component::RootDir) => {}
                    _ => out.push(".."),
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn is_system_dir(path: &Path) -> bool {
    SYSTEM_DIRS.iter().any(|dir| {
        let dir = Path::new(dir);
        path == dir || fs::canonicalize(dir).is_ok_and(|real| real == path)
    })
}

/// The user's home directory, as `$HOME` says and where it leads.
fn home_dirs() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        return Vec::new();
    };
    let home = PathBuf::from(home);
    let mut dirs = vec![lexical(&home)];
    dirs.extend(fs::canonicalize(&home).ok());
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, bytes: usize) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, vec![b'x'; bytes]).unwrap();
    }

    #[test]
    fn system_directories_and_root_are_refused() {
        for dir in [
            "/",
            "/etc",
            "/tmp",
            "/usr",
            "/var",
            "/home",
            "/tmp/../etc",
            "/etc/",
        ] {
            let refusal = check(Path::new(dir), None).unwrap_err();
            assert!(
                refusal.message.contains("root of the file system")
                    || refusal.message.contains("system directory"),
                "{dir}: {refusal:?}"
            );
        }
        if let Some(home) = std::env::var_os("HOME") {
            let refusal = check(Path::new(&home), None).unwrap_err();
            assert!(
                refusal.message.contains("home directory")
                    || refusal.message.contains("system directory"),
                "{refusal:?}"
            );
        }
    }

    #[test]
    fn a_link_to_a_system_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("artifacts");
        std::os::unix::fs::symlink("/etc", &link).unwrap();
        let refusal = check(&link, None).unwrap_err();
        assert!(
            refusal.message.contains("(`/etc`) is a system directory"),
            "{refusal:?}"
        );
    }

    #[test]
    fn the_configuration_directory_and_its_parents_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("conf").join("shopwatch.yaml");
        touch(&config, 10);
        for artifacts in [dir.path().join("conf"), dir.path().join("conf/sub/../..")] {
            let refusal = check(&artifacts, Some(&config)).unwrap_err();
            assert!(
                refusal.message.contains("holds this configuration file"),
                "{refusal:?}"
            );
        }
        assert_eq!(
            check(&dir.path().join("conf/artifacts"), Some(&config)),
            Ok(State::Missing)
        );
    }

    #[test]
    fn a_directory_holding_other_files_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("data/important/notes.txt"), 10);
        touch(&dir.path().join("alice/thesis/draft.pdf"), 700_000);
        let refusal = claim(dir.path(), None).unwrap_err();
        assert!(
            refusal
                .message
                .ends_with("already holds files shopwatch did not write (`alice`, `data`)"),
            "{refusal:?}"
        );
        assert!(!dir.path().join(ROOT_MARKER).exists());
        assert!(dir.path().join("alice/thesis/draft.pdf").exists());
    }

    #[test]
    fn new_and_empty_directories_are_taken() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("a/b");
        assert_eq!(claim(&new, None), Ok(State::Missing));
        assert!(new.join(ROOT_MARKER).is_file());
        assert_eq!(check(&new, None), Ok(State::Ours));
        // Once ours, other files in it do not make it foreign.
        touch(&new.join("notes.txt"), 1);
        assert_eq!(claim(&new, None), Ok(State::Ours));

        let empty = dir.path().join("empty");
        fs::create_dir_all(empty.join("lost+found")).unwrap();
        assert_eq!(claim(&empty, None), Ok(State::Empty));
        assert!(empty.join(ROOT_MARKER).is_file());
    }

    #[test]
    fn runs_of_an_earlier_shopwatch_are_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("demo-checkout/20261121T063445-25a4");
        touch(&run.join("attempt-1/checkout.png"), 100);
        touch(&run.join("attempt-2/checkout.png"), 100);
        let other = dir.path().join("search/20261122T000000-0001");
        touch(&other.join("attempt-1/results.html"), 100);
        match claim(dir.path(), None).unwrap() {
            State::Legacy { mut runs } => {
                runs.sort();
                assert_eq!(runs, [run.clone(), other.clone()]);
            }
            state => panic!("{state:?}"),
        }
        assert!(run.join(RUN_MARKER).is_file());
        assert!(other.join(RUN_MARKER).is_file());
        assert!(dir.path().join(ROOT_MARKER).is_file());
    }

    #[test]
    fn anything_beside_runs_keeps_a_directory_from_being_adopted() {
        for foreign in [
            "notes.txt",
            "shop/notes.txt",
            "shop/thesis/draft.pdf",
            "shop/20261121T063445-25a4/draft.pdf",
            "shop/20261121T063445-25a4/attempt-1/sub/x.png",
        ] {
            let dir = tempfile::tempdir().unwrap();
            touch(
                &dir.path().join("demo/20261121T063445-25a4/attempt-1/a.png"),
                1,
            );
            touch(&dir.path().join(foreign), 1);
            assert!(check(dir.path(), None).is_err(), "{foreign}");
        }
    }

    #[test]
    fn a_file_is_not_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("artifacts");
        touch(&file, 1);
        assert!(check(&file, None)
            .unwrap_err()
            .message
            .contains("is a file, not a directory"));
    }

    #[test]
    fn paths_are_tidied_without_the_disk() {
        assert_eq!(lexical(Path::new("a/./b/../c")), Path::new("a/c"));
        assert_eq!(lexical(Path::new("/tmp/../etc")), Path::new("/etc"));
        assert_eq!(lexical(Path::new("/..")), Path::new("/"));
        assert_eq!(lexical(Path::new("../x")), Path::new("../x"));
        assert_eq!(lexical(Path::new("conf/.")), Path::new("conf"));
        assert_eq!(lexical(Path::new("")), Path::new("."));
    }
}
