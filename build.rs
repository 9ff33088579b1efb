//! Build facts for `shopwatch_build_info`: the git revision (`SHOPWATCH_REVISION` when set, as
//! in a Docker build without `.git`; else `git rev-parse`; else `unknown`), the compiler's
//! version and the target.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SHOPWATCH_REVISION");
    let revision = std::env::var("SHOPWATCH_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .or_else(git_revision)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=SHOPWATCH_REVISION={}", revision.trim());

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = output(Command::new(rustc).arg("--version"))
        // "rustc 1.89.0 (29483883e 2025-08-04)" -> "1.89.0"
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=SHOPWATCH_RUSTC_VERSION={version}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=SHOPWATCH_TARGET={target}");
}

/// The commit checked out, rebuilt when HEAD moves (a commit, a checkout); None outside git.
fn git_revision() -> Option<String> {
    let revision = output(Command::new("git").args(["rev-parse", "--short=12", "HEAD"]))?;
    // HEAD names the branch; the branch's ref (loose or packed) names the commit.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(output(Command::new("git").args([
        "symbolic-ref",
        "-q",
        "HEAD",
    ])));
    for path in watched {
        let file = output(Command::new("git").args(["rev-parse", "--git-path", &path]));
        // A missing file would rerun this script on every build.
        if let Some(file) = file.filter(|f| std::path::Path::new(f).exists()) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    Some(revision)
}

/// A command's trimmed stdout when it succeeds.
fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}
