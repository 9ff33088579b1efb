//! A step its deadline cut inside a WebDriver command: what was running and for how long, in
//! words, and whether the browser answers again, so that the step's artifacts can still be
//! taken instead of killing the session at once.

use super::model::Action;
use fantoccini::error::CmdError;
use fantoccini::Client;
use std::time::Duration;

/// How long a cut step's browser gets to end the command in flight and answer again before
/// its session counts as stuck (and is ended without artifacts).
pub const GRACE: Duration = Duration::from_secs(5);

/// The WebDriver command `action` is in for most of its time, in words.
pub fn command(action: &Action) -> &'static str {
    match action {
        Action::Open(_) => "the page load",
        Action::Click(_) => "the click",
        Action::Press { .. } => "the key press",
        Action::Execute { .. } => "the script",
        Action::Screenshot(_) => "the screenshot",
        Action::Optional { action, .. } => command(action),
        _ => "the WebDriver command",
    }
}

/// "open /checkout: the page load was still running after 4.0 s".
pub fn still_running(doing: &str, command: &str, running_for: Duration) -> String {
    format!(
        "{doing}: {command} was still running after {:.1} s",
        running_for.as_secs_f64()
    )
}

/// Whether the browser answers within [`GRACE`]: a command sent now waits behind the one in
/// flight, so an answer (an error the driver gives counts, e.g. "unexpected alert open")
/// means that one has ended and the session can be read again.
pub async fn answers_again(client: &Client) -> bool {
    matches!(
        tokio::time::timeout(GRACE, client.current_url()).await,
        Ok(Ok(_) | Err(CmdError::Standard(_)))
    )
}
