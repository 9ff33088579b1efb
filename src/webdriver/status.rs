//! Whether the WebDriver the journeys need is there, for `/healthz`: a remote endpoint answers
//! its W3C `GET /status`; a local driver program is on PATH (shopwatch starts it per run).

use super::{driver::LocalDriver, Browser, Endpoint};
use std::path::Path;
use std::time::Duration;

/// How long `/status` may take: `/healthz` waits for it.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);

/// What the running journeys need from WebDriver.
#[derive(Debug, Clone)]
pub struct Need {
    pub endpoint: Endpoint,
    /// The browsers of the journeys that open one (a local endpoint starts their drivers).
    pub browsers: Vec<Browser>,
}

/// None when the endpoint is usable, else why not, in words.
pub async fn problem(need: &Need, http: &reqwest::Client) -> Option<String> {
    match &need.endpoint {
        Endpoint::Remote(endpoint) => {
            let status = format!("{}/status", endpoint.trim_end_matches('/'));
            let url = without_password(endpoint);
            match http.get(&status).timeout(STATUS_TIMEOUT).send().await {
                // Any answer means it is there; a busy driver says `ready: false`, which is
                // the session limit's business, not a fault.
                Ok(response) if !response.status().is_server_error() => None,
                Ok(response) => Some(format!(
                    "the WebDriver endpoint {url} answered {} to GET /status",
                    response.status()
                )),
                Err(e) => Some(format!(
                    "the WebDriver endpoint {url} is unreachable: {}",
                    crate::error_chain::error_chain(&e.without_url())
                )),
            }
        }
        Endpoint::Local => {
            let missing: Vec<&str> = need
                .browsers
                .iter()
                .map(|b| LocalDriver::program_for(*b))
                .filter(|program| !on_path(program))
                .collect();
            (!missing.is_empty()).then(|| {
                format!(
                    "{} not found on PATH (no `webdriver.url` is set, so shopwatch starts the driver itself)",
                    missing.join(" and ")
                )
            })
        }
    }
}

/// `url` as it may be shown: a Grid behind basic auth (`http://user:password@hub:4444`) keeps
/// its user, not its password.
pub(crate) fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        // Validated at load; should it not parse, show nothing of it.
        Err(_) => "(the configured URL)".to_string(),
    }
}

/// An executable file named `program` in a directory of PATH.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| {
        Path::new(&dir)
            .join(program)
            .metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn a_password_in_the_endpoint_is_not_shown() {
        assert_eq!(
            without_password("http://grid:s3cret@hub:4444/wd/hub"),
            "http://grid@hub:4444/wd/hub"
        );
        assert_eq!(without_password("http://hub:4444"), "http://hub:4444");
    }
}
