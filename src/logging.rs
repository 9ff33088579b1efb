//! The monitor's own log on stderr: plain text (coloured only on a terminal) or JSON lines,
//! every line through the secrets' redactor.

use crate::journey::secrets::LogRedaction;
use crate::progress::Mode;
use std::io::IsTerminal;

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One human line per event; colour codes only when stderr is a terminal and `NO_COLOR`
    /// is not set (a journal, a file or a pipe gets none).
    #[default]
    Text,
    /// One JSON object per line, its fields at the top level, for log shippers.
    Json,
}

/// Installs the global subscriber: `SHOPWATCH_LOG` (an `EnvFilter`) or `default_filter`
/// decides what is logged, `format` how, and `logs` keeps learned secrets out.
pub fn init(format: LogFormat, default_filter: &str, logs: LogRedaction) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHOPWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_writer(logs)
        .with_env_filter(filter);
    match format {
        // The same rule as `check`'s live line, so `NO_COLOR` and `TERM=dumb` mean one thing.
        LogFormat::Text => builder
            .with_ansi(matches!(
                Mode::detect(std::io::stderr().is_terminal()),
                Mode::Terminal { color: true }
            ))
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}
