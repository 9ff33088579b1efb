//! The live console of `check`: finished lines (step results, summaries) and what runs now.
//! On a terminal one line below them keeps saying what runs and for how long
//! (`⠋ checkout: wait_for `.review-total` (visible) (3.2 s)`), redrawn in place; anywhere
//! else (a pipe, a file, CI) only plain lines are written, and one for anything that runs
//! long (`  … starting firefox session (running for 5 s)`). `NO_COLOR` turns colours off.

use crate::journey::runner::Activity;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the terminal line is redrawn.
const TICK: Duration = Duration::from_millis(100);
/// Without a terminal: an activity running this long gets a line, and another every
/// [`PLAIN_EVERY`] after that.
const PLAIN_FIRST: Duration = Duration::from_secs(5);
const PLAIN_EVERY: Duration = Duration::from_secs(10);
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/// Erases the line the cursor is on and returns to its start.
const CLEAR: &str = "\r\x1b[2K";

/// How the console is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A terminal: the updating line, coloured unless `color` is false.
    Terminal { color: bool },
    /// Anything else: plain lines only.
    Plain,
}

impl Mode {
    /// The mode for a stream that `is_terminal` (or not), from the environment: `TERM=dumb`
    /// cannot redraw a line; `NO_COLOR` (set and not empty) wants no colour.
    pub fn detect(is_terminal: bool) -> Mode {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        if !is_terminal || dumb {
            return Mode::Plain;
        }
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Mode::Terminal { color: !no_color }
    }
}

/// What an activity is, in words.
pub fn describe(activity: &Activity<'_>) -> String {
    match activity {
        Activity::StartingSession(browser) => format!("starting {} session", browser.name()),
        Activity::Action { step, action } => format!("{step}: {}", action.describe()),
        Activity::SavingArtifacts { step } => {
            format!("{step}: saving the screenshot, HTML and log of the failed step")
        }
        Activity::ClosingSession => "closing the browser session".to_string(),
    }
}

struct State {
    out: Box<dyn Write + Send>,
    mode: Mode,
    /// What runs now, and since when.
    doing: Option<(String, Instant)>,
    /// Whether the terminal line is on screen (and must be erased before a finished line).
    drawn: bool,
    /// Without a terminal: when the running activity gets its next line.
    next_plain: Duration,
    frame: usize,
}

impl State {
    fn erase(&mut self) {
        if self.drawn {
            let _ = write!(self.out, "{CLEAR}");
            self.drawn = false;
        }
    }

    fn tick(&mut self) {
        let Some((what, since)) = &self.doing else {
            return;
        };
        let running = since.elapsed();
        match self.mode {
            Mode::Terminal { color } => {
                let spinner = SPINNER[self.frame % SPINNER.len()];
                self.frame += 1;
                let what = clip(what, terminal_width().saturating_sub(12));
                let seconds = format!("({:.1} s)", running.as_secs_f64());
                let line = if color {
                    format!("\x1b[36m{spinner}\x1b[0m {what} \x1b[2m{seconds}\x1b[0m")
                } else {
                    format!("{spinner} {what} {seconds}")
                };
                let _ = write!(self.out, "{CLEAR}{line}");
                self.drawn = true;
            }
            Mode::Plain if running >= self.next_plain => {
                let line = format!("  … {what} (running for {} s)", running.as_secs());
                self.next_plain += PLAIN_EVERY;
                let _ = writeln!(self.out, "{line}");
            }
            Mode::Plain => {}
        }
        let _ = self.out.flush();
    }
}

/// The console of one `check`; a thread redraws it while it lives.
pub struct Progress {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Writes to stderr (when stdout carries JSON) or stdout, as the mode of that stream.
    pub fn for_check(json: bool) -> Progress {
        if json {
            let mode = Mode::detect(std::io::stderr().is_terminal());
            Progress::new(Box::new(std::io::stderr()), mode)
        } else {
            let mode = Mode::detect(std::io::stdout().is_terminal());
            Progress::new(Box::new(std::io::stdout()), mode)
        }
    }

    pub fn new(out: Box<dyn Write + Send>, mode: Mode) -> Progress {
        let state = Arc::new(Mutex::new(State {
            out,
            mode,
            doing: None,
            drawn: false,
            next_plain: PLAIN_FIRST,
            frame: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::Builder::new()
                .name("progress".to_string())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        lock(&state).tick();
                    }
                })
                .ok()
        };
        Progress {
            state,
            stop,
            ticker,
        }
    }

    /// A finished line (a step's result, a summary), above the progress line.
    pub fn line(&self, text: &str) {
        let mut state = lock(&self.state);
        state.erase();
        let _ = writeln!(state.out, "{text}");
        let _ = state.out.flush();
    }

    /// From now on the run is busy with `what`.
    pub fn busy(&self, what: String) {
        let mut state = lock(&self.state);
        state.doing = Some((what, Instant::now()));
        state.next_plain = PLAIN_FIRST;
    }

    /// Nothing runs until the next [`Progress::busy`].
    pub fn idle(&self) {
        let mut state = lock(&self.state);
        state.doing = None;
        state.erase();
        let _ = state.out.flush();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        self.idle();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The terminal's width in columns (80 when it cannot be told): a longer line would wrap, and
/// `\r` redraws only the last row of it.
fn terminal_width() -> usize {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .or_else(|_| rustix::termios::tcgetwinsize(std::io::stderr()))
        .ok()
        .map(|size| size.ws_col as usize)
        .filter(|cols| *cols > 0)
        .unwrap_or(80)
}

/// `text` cut to `width` characters, with `…` where it was cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).to_string()
        }
    }

    #[test]
    fn a_terminal_line_is_redrawn_in_place_and_erased_before_a_finished_line() {
        let out = Captured::default();
        let progress = Progress::new(Box::new(out.clone()), Mode::Terminal { color: false });
        progress.busy("starting firefox session".to_string());
        std::thread::sleep(TICK * 4);
        progress.line("  ok    home     120 ms");
        drop(progress);
        let text = out.text();
        assert!(
            text.contains("\r\x1b[2K⠋ starting firefox session (0."),
            "{text:?}"
        );
        assert!(
            text.contains("\r\x1b[2K  ok    home     120 ms\n"),
            "{text:?}"
        );
        assert!(!text.contains("\x1b[36m"), "no colour: {text:?}");
    }

    #[test]
    fn plain_output_has_no_escapes_and_clips_nothing() {
        let out = Captured::default();
        let progress = Progress::new(Box::new(out.clone()), Mode::Plain);
        progress.busy("home: sleep 10s".to_string());
        std::thread::sleep(TICK * 3);
        progress.line("  ok    home");
        drop(progress);
        assert_eq!(out.text(), "  ok    home\n");
    }

    #[test]
    fn a_long_activity_is_clipped_to_the_width() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
