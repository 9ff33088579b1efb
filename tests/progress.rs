//! `check`'s live console with the real binary: on a terminal (a real pseudo-terminal, from
//! util-linux `script`) one line, redrawn in place, says what runs now and for how long, the
//! browser session's start included (in Firefox and Chromium); `NO_COLOR` keeps the line and
//! drops the colours; without a terminal only plain lines are written, one for what runs long.

mod util;

use std::path::Path;
use std::process::Command;
use util::steps::*;
use util::*;

in_both_browsers!(on_a_terminal_one_line_says_what_runs_and_for_how_long);

/// Erases the terminal line and returns to its start.
const CLEAR: &str = "\r\x1b[2K";
const CYAN: &str = "\x1b[36m";

/// A journey against `base_url` whose one step sleeps `sleep` (no browser needed).
fn sleeping_journey(base_url: &str, sleep: &str) -> String {
    format!("journey: progress\nbase_url: {base_url}\nsteps:\n  - step: nap\n    do:\n      - sleep: {sleep}\n")
}

/// Runs `shopwatch check <journey> <args>` on a pseudo-terminal; returns its exit code and
/// everything it wrote there. Nothing it started may be left behind.
fn check_on_a_terminal(journey: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let work = tempfile::tempdir().expect("temp dir");
    let tmp = work.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    let file = work.path().join("journey.yaml");
    std::fs::write(&file, journey).expect("write journey");
    let mut command_line = vec![
        env!("CARGO_BIN_EXE_shopwatch").to_string(),
        "check".to_string(),
        file.display().to_string(),
        "--artifacts".to_string(),
        work.path().join("artifacts").display().to_string(),
    ];
    command_line.extend(args.iter().map(|a| a.to_string()));
    let quoted: Vec<String> = command_line.iter().map(|a| shell_quote(a)).collect();
    let output = Command::new("script")
        .args(["--quiet", "--flush", "--return", "--command"])
        .arg(quoted.join(" "))
        .arg("/dev/null")
        .env("TMPDIR", &tmp)
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .expect("util-linux `script` runs (it gives the command a real pseudo-terminal)");
    assert_left_nothing(&tmp);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
    )
}

fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', "'\\''"))
}

fn assert_left_nothing(tmp: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !processes_under(tmp).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let left = processes_under(tmp);
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}

/// The browser's start and then a 1.5 s sleep each show, with a growing time, on one line
/// redrawn in place (in colour), which is erased before each finished line.
async fn on_a_terminal_one_line_says_what_runs_and_for_how_long(browser: &str) {
    require_browser(browser);
    let shop = start_shop().await;
    let _slot = browser_slot().await;
    let journey = format!(
        "journey: progress\nbase_url: {}\nsteps:\n  - step: home\n    do:\n      - open: /\n      - sleep: 1500ms\n",
        shop.url()
    );
    let browser_arg = browser.to_string();
    let (code, screen) = tokio::task::spawn_blocking(move || {
        check_on_a_terminal(&journey, &["--browser", &browser_arg], &[])
    })
    .await
    .expect("check on a terminal");
    assert_eq!(code, 0, "{screen:?}");
    let name = if browser == "firefox" {
        "firefox"
    } else {
        "chrome"
    };
    let starting = times(
        &screen,
        &format!("{CLEAR}{CYAN}{SPIN}\x1b[0m starting {name} session \x1b[2m{TIME}\x1b[0m"),
    );
    assert!(
        !starting.is_empty(),
        "the session's start shows: {screen:?}"
    );
    let sleeping = times(
        &screen,
        &format!("{CLEAR}{CYAN}{SPIN}\x1b[0m home: sleep 1s 500ms \x1b[2m{TIME}\x1b[0m"),
    );
    assert_counts_up(&sleeping, 1.0, &screen);
    // A finished line starts on an erased line; after the summary no progress line is left.
    assert!(
        screen.contains(&format!("{CLEAR}  ok    home")),
        "{screen:?}"
    );
    let summary = screen.rfind("OK: progress").expect("the summary");
    assert!(
        !screen[summary..].contains('\x1b'),
        "{:?}",
        &screen[summary..]
    );
}

/// A spinner frame, as a regex.
const SPIN: &str = "[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]";
/// The running time, as a regex capturing its seconds.
const TIME: &str = r"\((\d+\.\d) s\)";

/// The seconds shown in every match of `pattern` (literal text but for [`SPIN`] and [`TIME`]).
fn times(screen: &str, pattern: &str) -> Vec<f64> {
    let escaped = regex::escape(pattern)
        .replace(&regex::escape(SPIN), SPIN)
        .replace(&regex::escape(TIME), TIME);
    regex::Regex::new(&escaped)
        .expect("pattern")
        .captures_iter(screen)
        .map(|c| c[1].parse().expect("seconds"))
        .collect()
}

/// The line was redrawn with a growing time, up to at least `reaching` seconds.
fn assert_counts_up(seconds: &[f64], reaching: f64, screen: &str) {
    assert!(
        seconds.len() >= 3,
        "redrawn in place: {seconds:?} in {screen:?}"
    );
    assert!(
        seconds.windows(2).all(|w| w[0] <= w[1]),
        "the time grows: {seconds:?}"
    );
    assert!(
        seconds.last().is_some_and(|s| *s >= reaching),
        "up to {reaching} s: {seconds:?}"
    );
}

/// `NO_COLOR` set: the line still updates in place, without colour codes.
#[test]
fn no_color_keeps_the_line_and_drops_the_colours() {
    let journey = sleeping_journey("http://127.0.0.1:1", "1s");
    let (code, screen) = check_on_a_terminal(&journey, &[], &[("NO_COLOR", "1")]);
    assert_eq!(code, 0, "{screen:?}");
    let seconds = times(&screen, &format!("{CLEAR}{SPIN} nap: sleep 1s {TIME}"));
    assert_counts_up(&seconds, 0.8, &screen);
    assert!(!screen.contains("\x1b[3"), "no colour: {screen:?}");
}

/// Without a terminal (a pipe, as in CI): no escape codes, no carriage returns, the step lines
/// as always, and one plain line for a step still running after 5 s.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_terminal_only_plain_lines_are_written() {
    let journey = sleeping_journey("http://127.0.0.1:1", "6s");
    let out = Run::journey(&journey, "http://127.0.0.1:1", "firefox")
        .go()
        .await;
    assert_eq!(out.code, 0, "{}", out.describe());
    // `--json` puts the live lines on stderr.
    let live = &out.stderr;
    assert!(
        live.contains("\n  … nap: sleep 6s (running for 5 s)\n  ok    nap"),
        "{live:?}"
    );
    assert!(!live.contains('\r') && !live.contains('\x1b'), "{live:?}");
}
