//! Firefox sessions start from a warmed profile. A fresh profile makes Firefox register its
//! built-in add-ons and compile its own JavaScript before the first page: on the demo journey,
//! 0.7 s of session start and 0.9 CPU seconds of every run (BENCHMARKS.md, "Firefox session
//! start").
//! The first session's profile is kept, once its browser has quit, as a template of just those
//! caches; later sessions get a copy of it in their own new profile. Nothing a page can write
//! (cookies, storage, history, the HTTP cache, permissions) is in the template, so every run
//! still starts as a new visitor.
//!
//! Templates live in `$CACHE_DIRECTORY` (systemd's `CacheDirectory=`), else in `shopwatch/`
//! under `$XDG_CACHE_HOME` or `~/.cache`, one per Firefox build; deleting them is always safe.
//! Without a cache directory sessions start as before, from an empty profile.

use std::io;
use std::path::{Path, PathBuf};

/// What Firefox builds on a first start that is not about any page: the add-on registry and
/// the startup cache of its own compiled code.
const KEPT: [&str; 5] = [
    "compatibility.ini",
    "extensions.json",
    "addonStartup.json.lz4",
    "extension-preferences.json",
    "startupCache",
];

/// A session's own Firefox profile, and where its template is (or is to be).
#[derive(Debug)]
pub struct FirefoxProfile {
    /// The template for this Firefox build; `None` when there is no cache directory or the
    /// build cannot be told.
    template: Option<PathBuf>,
    /// Whether the profile started as a copy of the template.
    warmed: bool,
}

impl FirefoxProfile {
    /// Makes `dir`, the profile a session of the Firefox at `binary` starts in, with the
    /// template's files when there is a template. Never fails the session: without them
    /// Firefox builds everything itself.
    pub async fn lay_out(dir: PathBuf, binary: Option<PathBuf>) -> FirefoxProfile {
        let work = move || {
            let template = binary.as_deref().and_then(template_for);
            let warmed = match &template {
                Some(template) if template.join("compatibility.ini").is_file() => {
                    match copy_kept(template, &dir) {
                        Ok(()) => {
                            tracing::debug!(
                                "Firefox starts from the profile template {}",
                                template.display()
                            );
                            true
                        }
                        Err(e) => {
                            tracing::debug!(
                                "cannot copy the Firefox profile template {}: {e}",
                                template.display()
                            );
                            // A half copy could be any mix; start from nothing instead.
                            let _ = std::fs::remove_dir_all(&dir);
                            false
                        }
                    }
                }
                _ => false,
            };
            if !warmed {
                let _ = std::fs::create_dir_all(&dir);
            }
            FirefoxProfile { template, warmed }
        };
        tokio::task::spawn_blocking(work)
            .await
            .unwrap_or(FirefoxProfile {
                template: None,
                warmed: false,
            })
    }

    /// After the browser quit cleanly from `dir`: keeps what it built as the template, when
    /// there is none yet. Two sessions finishing at once both try; the first rename wins.
    pub async fn keep_template(&self, dir: PathBuf) {
        let Some(template) = self.template.clone().filter(|_| !self.warmed) else {
            return;
        };
        let work = move || {
            if template.exists() || !dir.join("startupCache").is_dir() {
                return;
            }
            let Some(parent) = template.parent() else {
                return;
            };
            let staging = parent.join(format!(
                ".{}.{}",
                template
                    .file_name()
                    .and_then(|name| name.to_str())
                    .unwrap_or("template"),
                std::process::id()
            ));
            let made = std::fs::create_dir_all(parent)
                .and_then(|()| copy_kept(&dir, &staging))
                .and_then(|()| std::fs::rename(&staging, &template));
            match made {
                Ok(()) => tracing::debug!(
                    "kept what Firefox built on its first start as the profile template {}",
                    template.display()
                ),
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&staging);
                    if !template.exists() {
                        tracing::debug!(
                            "cannot keep a Firefox profile template at {}: {e}",
                            template.display()
                        );
                    }
                }
            }
        };
        let _ = tokio::task::spawn_blocking(work).await;
    }
}

/// Where templates are kept: the service's cache directory, else the user's.
fn cache_root() -> Option<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    };
    // systemd lists several when a unit names several; the first is ours.
    let base = from_env("CACHE_DIRECTORY")
        .and_then(|dirs| std::env::split_paths(&dirs).next())
        .or_else(|| from_env("XDG_CACHE_HOME").map(|dir| dir.join("shopwatch")))
        .or_else(|| from_env("HOME").map(|home| home.join(".cache").join("shopwatch")))?;
    base.is_absolute().then_some(base)
}

/// The template directory for the Firefox at `binary`, named by its version and build id (an
/// upgrade gets a new template, never the old build's caches).
fn template_for(binary: &Path) -> Option<PathBuf> {
    let binary = std::fs::canonicalize(binary).ok()?;
    let ini = std::fs::read_to_string(binary.parent()?.join("application.ini")).ok()?;
    let build = build_name(&ini)?;
    Some(cache_root()?.join(format!("firefox-{build}")))
}

/// `<version>-<build id>` from Firefox's application.ini, in characters safe in a file name.
fn build_name(ini: &str) -> Option<String> {
    let mut in_app = false;
    let (mut version, mut build) = (None, None);
    for line in ini.lines().map(str::trim) {
        if line.starts_with('[') {
            in_app = line == "[App]";
        } else if in_app {
            match line.split_once('=') {
                Some(("Version", value)) => version = Some(value.trim()),
                Some(("BuildID", value)) => build = Some(value.trim()),
                _ => {}
            }
        }
    }
    let name = format!("{}-{}", version?, build?);
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .then_some(name)
}

/// Copies the kept files of the profile `from` into `to` (made here).
fn copy_kept(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    for name in KEPT {
        let source = from.join(name);
        if source.is_dir() {
            std::fs::create_dir_all(to.join(name))?;
            for entry in std::fs::read_dir(&source)? {
                let entry = entry?;
                if entry.file_type()?.is_file() {
                    std::fs::copy(entry.path(), to.join(name).join(entry.file_name()))?;
                }
            }
        } else if source.is_file() {
            std::fs::copy(&source, to.join(name))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_name_is_the_app_version_and_build_id() {
        let ini = "[App]\nVendor=Mozilla\nName=Firefox\nVersion=153.8.0\nBuildID=20261117185949\n\
                   [Gecko]\nVersion=999\nBuildID=1\n";
        assert_eq!(build_name(ini).as_deref(), Some("153.8.0-20261117185949"));
        assert_eq!(build_name("[Gecko]\nVersion=1\nBuildID=2\n"), None);
        assert_eq!(build_name("[App]\nVersion=../x\nBuildID=2\n"), None);
    }

    #[test]
    fn only_the_kept_files_are_copied() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir(from.path().join("startupCache")).unwrap();
        std::fs::write(from.path().join("startupCache/scriptCache.bin"), "code").unwrap();
        std::fs::write(from.path().join("extensions.json"), "{}").unwrap();
        std::fs::write(from.path().join("cookies.sqlite"), "a shop's cookie").unwrap();
        std::fs::create_dir(from.path().join("storage")).unwrap();
        let target = to.path().join("profile");
        copy_kept(from.path(), &target).unwrap();
        assert!(target.join("startupCache/scriptCache.bin").is_file());
        assert!(target.join("extensions.json").is_file());
        assert!(!target.join("cookies.sqlite").exists());
        assert!(!target.join("storage").exists());
    }
}
