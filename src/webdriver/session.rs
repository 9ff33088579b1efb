//! One WebDriver session: capabilities, connecting (to a local driver from the pool, or to any
//! W3C endpoint), and closing it on every path.

use super::driver::{DriverError, LocalDriver};
use super::firefox_profile::FirefoxProfile;
use super::pool::DriverPool;
use super::Browser;
use super::Viewport;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long creating a session may take before it counts as refused.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long closing a session may take; a hung browser is killed after that.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long sizing a new window may take. Its first command waits for the browser's start
/// page (Chromium's new-tab page takes seconds on a loaded machine); a session left at the
/// wrong size would fail steps as if the shop were at fault, so this is generous.
const SIZING_TIMEOUT: Duration = Duration::from_secs(30);

/// Where sessions come from.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// geckodriver or chromedriver from PATH, started by shopwatch and kept between sessions.
    Local,
    /// Any W3C endpoint: a driver, a Selenium standalone container or a Grid hub.
    Remote(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("WebDriver at {url} did not create a session: {message}")]
    NotCreated { url: String, message: String },
    #[error("WebDriver at {url} did not answer within {}s", CONNECT_TIMEOUT.as_secs())]
    Timeout { url: String },
    #[error("cannot set up the WebDriver HTTP client: {0}")]
    Client(std::io::Error),
}

pub struct SessionOptions<'a> {
    pub browser: Browser,
    pub endpoint: &'a Endpoint,
    /// Journey capabilities merged over shopwatch's defaults.
    pub extra_capabilities: &'a Map<String, Value>,
    pub page_load_timeout: Duration,
    /// The page size to give the session's window.
    pub viewport: Viewport,
    /// Where a local endpoint's drivers come from, and go back to.
    pub drivers: &'a Arc<DriverPool>,
}

/// A live session; `close` must be called (it also stops a local driver).
pub struct Session {
    pub client: Client,
    /// The browser the session drives (each driver has its quicker commands).
    pub browser: Browser,
    /// Every command sent, timed on the wire.
    pub wire: super::wire::Wire,
    driver: Option<LocalDriver>,
    /// The window the session started in: where a journey's steps act.
    home: Option<fantoccini::wd::WindowHandle>,
    /// The local driver's pool, to give it back to after a clean close.
    pool: Option<Arc<DriverPool>>,
    /// This session's browser profile, removed when the driver is kept.
    profile_dir: Option<PathBuf>,
    /// A local Firefox's profile: whether it was warmed, and where its template goes.
    firefox: Option<FirefoxProfile>,
    /// Time from asking for the session until it was ready (driver start included).
    pub start_time: Duration,
    /// Set when a command timed out: the session may be stuck, send it nothing more.
    poisoned: bool,
    /// The driver's page-load (and script) timeout as last set; behind a lock so that an
    /// action can lower it while the session is shared.
    page_load_timeout: std::sync::Mutex<Duration>,
}

impl Session {
    pub async fn start(options: &SessionOptions<'_>) -> Result<Session, SessionError> {
        let started = Instant::now();
        let mut driver = match options.endpoint {
            Endpoint::Local => Some(options.drivers.take(options.browser).await?),
            Endpoint::Remote(_) => None,
        };
        let url = match (&driver, options.endpoint) {
            (Some(driver), _) => driver.url().to_string(),
            (None, Endpoint::Remote(url)) => url.clone(),
            (None, Endpoint::Local) => unreachable!("a local endpoint always has a driver"),
        };
        // Commands are joined onto the URL: a Grid's `http://hub:4444/wd/hub` without its last
        // `/` would lose `hub` (`/wd/session`, answered by the hub's help page).
        let url = if url.ends_with('/') {
            url
        } else {
            format!("{url}/")
        };
        // What errors show: a Grid's basic-auth password stays out of logs and reports.
        let shown = super::status::without_password(&url);
        let profile_dir = driver.as_mut().and_then(LocalDriver::next_profile_dir);
        let capabilities = capabilities(
            options.browser,
            profile_dir.as_deref(),
            options.extra_capabilities,
            options.page_load_timeout,
            options.viewport,
        );
        let firefox = match profile_dir
            .as_ref()
            .and_then(|dir| Some((dir, firefox_start(&capabilities, dir)?)))
        {
            Some((dir, binary)) => Some(FirefoxProfile::lay_out(dir.clone(), binary).await),
            None => None,
        };
        let wire = super::wire::Wire::default();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(SessionError::Client)?
            .https_or_http()
            .enable_http1()
            .build();
        let mut builder = ClientBuilder::new(wire.connector(https));
        builder.capabilities(capabilities);
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, builder.connect(&url)).await;
        let client = match connected {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                if let Some(driver) = driver {
                    driver.stop().await;
                }
                return Err(SessionError::NotCreated {
                    url: shown,
                    message: refusal(&e),
                });
            }
            Err(_) => {
                if let Some(driver) = driver {
                    driver.stop().await;
                }
                return Err(SessionError::Timeout { url: shown });
            }
        };
        let wanted = options.viewport;
        match tokio::time::timeout(SIZING_TIMEOUT, wanted.apply(&client)).await {
            Ok(Ok(got)) if got == wanted => {}
            Ok(Ok(got)) => tracing::warn!(
                "the page is {got}, not the viewport {wanted}: the browser's screen may be smaller"
            ),
            Ok(Err(e)) => tracing::warn!("cannot size the window to the viewport {wanted}: {e}"),
            Err(_) => {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, client.close()).await;
                if let Some(driver) = driver {
                    driver.stop().await;
                }
                return Err(SessionError::NotCreated {
                    url: shown,
                    message: format!(
                        "the new window did not take the viewport {wanted} within {}s",
                        SIZING_TIMEOUT.as_secs()
                    ),
                });
            }
        }
        let home = client.window().await.ok();
        Ok(Session {
            home,
            client,
            browser: options.browser,
            wire,
            pool: driver.is_some().then(|| options.drivers.clone()),
            driver,
            profile_dir,
            firefox,
            start_time: started.elapsed(),
            poisoned: false,
            page_load_timeout: std::sync::Mutex::new(options.page_load_timeout),
        })
    }

    /// Sets the driver's page-load and script timeouts (one command, only when they change).
    pub async fn set_page_load_timeout(&self, timeout: Duration) {
        if self.poisoned || timeout == self.current_page_load_timeout() {
            return;
        }
        let config = TimeoutConfiguration::new(Some(timeout), Some(timeout), Some(Duration::ZERO));
        if let Ok(Ok(())) =
            tokio::time::timeout(CLOSE_TIMEOUT, self.client.update_timeouts(config)).await
        {
            *self
                .page_load_timeout
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = timeout;
        }
    }

    fn current_page_load_timeout(&self) -> Duration {
        *self
            .page_load_timeout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Before a command that may load a page: lowers the driver's page-load timeout so that
    /// a load started now ends by `deadline` (give or take `slack`). The driver then cuts it
    /// and answers, and the session stays usable for the failed step's artifacts; a load the
    /// driver let run past the deadline would hold every later command behind it.
    pub async fn end_page_loads_by(&self, deadline: Instant, slack: Duration) {
        let left = deadline.saturating_duration_since(Instant::now());
        if self.current_page_load_timeout() > left + slack {
            self.set_page_load_timeout(left.max(Duration::from_millis(1)))
                .await;
        }
    }

    /// Makes the session's first window and its top document current again (after a step
    /// that was cut inside a frame or a popup).
    pub async fn back_home(&self) {
        if let Some(home) = &self.home {
            let _ = self.client.switch_to_window(home.clone()).await;
        }
        let _ = crate::journey::page::to_top_frame(&self.client).await;
    }

    /// Marks the session as stuck: `close` will not wait on it.
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Closes the session (bounded in time). A local driver whose session closed cleanly goes
    /// back to the pool; any other is stopped, its process group (the browser too) killed.
    /// With a remote endpoint, deleting the session is all we can do.
    pub async fn close(self) {
        let Session {
            client,
            driver,
            pool,
            profile_dir,
            firefox,
            poisoned,
            ..
        } = self;
        let closed = if !poisoned || driver.is_none() {
            matches!(
                tokio::time::timeout(CLOSE_TIMEOUT, client.close()).await,
                Ok(Ok(()))
            )
        } else {
            false
        };
        let Some(driver) = driver else {
            return;
        };
        match pool {
            Some(pool) if closed => {
                if let Some(dir) = profile_dir {
                    if let Some(firefox) = &firefox {
                        firefox.keep_template(dir.clone()).await;
                    }
                    // The browser has quit; its profile is a tree of files.
                    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
                }
                pool.give_back(driver).await;
            }
            _ => driver.stop().await,
        }
    }
}

/// Why a session was not created, in one line: a Selenium Grid answers a refusal with its
/// message followed by build info and a Java stack trace (in a JSON Wire shape fantoccini
/// calls non-conformant); only the message says anything.
fn refusal(error: &fantoccini::error::NewSessionError) -> String {
    use fantoccini::error::NewSessionError;
    let first_line = |text: &str| text.lines().next().unwrap_or("").trim().to_string();
    match error {
        NewSessionError::SessionNotCreated(wd) => first_line(&wd.message),
        NewSessionError::NotW3C(answer) => {
            let message = answer["message"]
                .as_str()
                .or_else(|| answer["value"]["message"].as_str());
            match message {
                Some(message) => first_line(message),
                None => {
                    let text = first_line(&error.to_string());
                    match text.char_indices().nth(300) {
                        Some((cut, _)) => format!("{}…", &text[..cut]),
                        None => text,
                    }
                }
            }
        }
        other => first_line(&other.to_string()),
    }
}

/// The first of `names` found on PATH, as a full path.
fn find_on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// W3C capabilities for `browser`. A local driver gets the browser binary and a profile dir in
/// its own temp dir (Firefox's laid out by `firefox_profile`); Chromium as root needs
/// `--no-sandbox` and `--headless=new`; each starts with the window that gives its page
/// `viewport`.
pub fn capabilities(
    browser: Browser,
    profile_dir: Option<&Path>,
    extra: &Map<String, Value>,
    page_load_timeout: Duration,
    viewport: Viewport,
) -> Map<String, Value> {
    let timeouts = json!({
        "pageLoad": page_load_timeout.as_millis() as u64,
        "script": page_load_timeout.as_millis() as u64,
        "implicit": 0,
    });
    let mut caps = match browser {
        Browser::Firefox => {
            let window = viewport.window_for(browser);
            let mut args = vec![
                json!("-headless"),
                json!("-width"),
                json!(window.width.to_string()),
            ];
            args.extend([json!("-height"), json!(window.height.to_string())]);
            let mut options = json!({});
            if let Some(dir) = profile_dir {
                args.extend([json!("-profile"), json!(dir)]);
                if let Some(binary) = firefox_on_path() {
                    options["binary"] = json!(binary);
                }
            }
            options["args"] = json!(args);
            json!({ "browserName": "firefox", "moz:firefoxOptions": options })
        }
        Browser::Chrome => {
            let mut args = vec![
                "--headless=new".to_string(),
                "--no-sandbox".to_string(),
                "--disable-gpu".to_string(),
                "--disable-dev-shm-usage".to_string(),
                "--disable-background-networking".to_string(),
                "--disable-component-update".to_string(),
                "--disable-sync".to_string(),
                "--no-first-run".to_string(),
            ];
            let window = viewport.window_for(browser);
            args.push(format!("--window-size={},{}", window.width, window.height));
            let mut options = json!({});
            if let Some(dir) = profile_dir {
                args.push(format!("--user-data-dir={}", dir.display()));
                if let Some(binary) =
                    find_on_path(&["google-chrome", "chrome", "chromium", "chromium-browser"])
                {
                    options["binary"] = json!(binary);
                }
            }
            options["args"] = json!(args);
            json!({
                "browserName": "chrome",
                "goog:chromeOptions": options,
                "goog:loggingPrefs": { "browser": "ALL" },
            })
        }
    };
    caps["pageLoadStrategy"] = json!("normal");
    // Dialogs stay open until an action answers them: the default ("dismiss and notify")
    // would close a `confirm` before the journey's `dialog` action could see it.
    caps["unhandledPromptBehavior"] = json!("ignore");
    caps["timeouts"] = timeouts;
    let mut caps = match caps {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for (key, value) in extra {
        merge(caps.entry(key.clone()).or_insert(Value::Null), value);
    }
    if let (Some(dir), Some(extra)) = (profile_dir, extra.get("moz:firefoxOptions")) {
        // A journey that brings its own Firefox profile gets it, not ours beside it.
        let own_arg = extra["args"].as_array().is_some_and(|args| {
            args.iter()
                .any(|arg| matches!(arg.as_str(), Some("-profile" | "--profile" | "-P")))
        });
        if own_arg || extra.get("profile").is_some() {
            if let Some(args) = caps["moz:firefoxOptions"]["args"].as_array_mut() {
                // Ours is `-profile DIR`, after the first of our own args.
                let ours = args.iter().position(|arg| arg == &json!(dir));
                if let Some(at) = ours.filter(|&at| at > 0) {
                    args.drain(at - 1..=at);
                }
            }
        }
    }
    caps
}

/// Whether a local Firefox session starts in `dir` (it does unless the journey brings its own
/// profile), and the Firefox binary it starts.
fn firefox_start(caps: &Map<String, Value>, dir: &Path) -> Option<Option<PathBuf>> {
    let options = caps.get("moz:firefoxOptions")?;
    let starts_in_dir = options["args"]
        .as_array()
        .is_some_and(|args| args.contains(&json!(dir)));
    starts_in_dir.then(|| {
        options["binary"]
            .as_str()
            .map(PathBuf::from)
            .or_else(firefox_on_path)
    })
}

/// Firefox from PATH: the program itself rather than a wrapper script (Debian's `firefox` runs
/// `firefox-esr`), as the profile template is named by the build beside the program.
fn firefox_on_path() -> Option<PathBuf> {
    let names = ["firefox", "firefox-esr"];
    let program = |name: &&str| {
        let found = find_on_path(&[name])?;
        let real = std::fs::canonicalize(&found).ok()?;
        real.parent()?
            .join("application.ini")
            .is_file()
            .then_some(found)
    };
    names
        .iter()
        .find_map(program)
        .or_else(|| find_on_path(&names))
}

/// Deep-merges `extra` into `base`: objects key by key, lists appended (so journey `args` add
/// to ours), anything else replaced.
fn merge(base: &mut Value, extra: &Value) {
    match (base, extra) {
        (Value::Object(base), Value::Object(extra)) => {
            for (key, value) in extra {
                merge(base.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (Value::Array(base), Value::Array(extra)) => base.extend(extra.iter().cloned()),
        (base, extra) => *base = extra.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_session_names_the_endpoint_without_its_password() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        // Nothing listens there: the hub is down.
        let endpoint = Endpoint::Remote(format!("http://grid:s3cret-pw@127.0.0.1:{port}/wd/hub"));
        let drivers = Arc::new(DriverPool::default());
        let options = SessionOptions {
            browser: Browser::Firefox,
            endpoint: &endpoint,
            extra_capabilities: &Map::new(),
            page_load_timeout: Duration::from_secs(5),
            viewport: Viewport::default(),
            drivers: &drivers,
        };
        let error = match Session::start(&options).await {
            Ok(_) => panic!("a session from a closed port"),
            Err(e) => format!("{e} {e:?}"),
        };
        assert!(!error.contains("s3cret-pw"), "{error}");
        assert!(
            error.contains(&format!("grid@127.0.0.1:{port}/wd/hub/")),
            "{error}"
        );
    }

    #[test]
    fn a_grid_refusal_is_its_message_without_the_stack_trace() {
        use fantoccini::error::NewSessionError;
        let answer = json!({
            "data": null,
            "error": "unknown error",
            "message": "Error forwarding the new session cannot find : Capabilities {browserName: chrome}\nBuild info: version: '3.141.59'",
            "stacktrace": "org.openqa.grid.common.exception.GridException: Error forwarding\n\tat org.openqa..."
        });
        assert_eq!(
            refusal(&NewSessionError::NotW3C(answer)),
            "Error forwarding the new session cannot find : Capabilities {browserName: chrome}"
        );
        let long = NewSessionError::NotW3C(json!("x".repeat(1000)));
        assert!(refusal(&long).chars().count() <= 301);
    }

    #[test]
    fn journey_capabilities_merge_over_defaults() {
        let extra =
            json!({"goog:chromeOptions": {"args": ["--lang=de"]}, "acceptInsecureCerts": true});
        let caps = capabilities(
            Browser::Chrome,
            None,
            extra.as_object().unwrap(),
            Duration::from_secs(15),
            Viewport::default(),
        );
        let args = caps["goog:chromeOptions"]["args"].as_array().unwrap();
        assert_eq!(args.first(), Some(&json!("--headless=new")));
        assert_eq!(args.last(), Some(&json!("--lang=de")));
        assert_eq!(caps["acceptInsecureCerts"], json!(true));
        assert_eq!(caps["timeouts"]["pageLoad"], json!(15000));
        assert_eq!(caps["browserName"], json!("chrome"));
        assert_eq!(caps["unhandledPromptBehavior"], json!("ignore"));
    }

    #[test]
    fn each_browser_starts_with_the_window_its_page_needs() {
        let viewport = Viewport::parse("1024x768").unwrap();
        let caps = capabilities(Browser::Chrome, None, &Map::new(), Duration::ZERO, viewport);
        let args = caps["goog:chromeOptions"]["args"].as_array().unwrap();
        assert!(args.contains(&json!("--window-size=1024,911")), "{args:?}");
        let caps = capabilities(
            Browser::Firefox,
            None,
            &Map::new(),
            Duration::ZERO,
            viewport,
        );
        let want = json!(["-headless", "-width", "1024", "-height", "854"]);
        assert_eq!(caps["moz:firefoxOptions"]["args"], want);
    }

    #[test]
    fn a_local_firefox_starts_in_its_profile_dir_unless_the_journey_brings_one() {
        let dir = Path::new("/tmp/shopwatch-driver-x/profile-1");
        let caps = capabilities(
            Browser::Firefox,
            Some(dir),
            &Map::new(),
            Duration::ZERO,
            Viewport::default(),
        );
        let args = caps["moz:firefoxOptions"]["args"].as_array().unwrap();
        let at = args.iter().position(|arg| arg == "-profile").unwrap();
        assert_eq!(args[at + 1], json!(dir));
        assert!(firefox_start(&caps, dir).is_some());

        for own in [
            json!({"moz:firefoxOptions": {"args": ["-profile", "/srv/ff"]}}),
            json!({"moz:firefoxOptions": {"profile": "UEsDBBQ="}}),
        ] {
            let caps = capabilities(
                Browser::Firefox,
                Some(dir),
                own.as_object().unwrap(),
                Duration::ZERO,
                Viewport::default(),
            );
            let args = caps["moz:firefoxOptions"]["args"].as_array().unwrap();
            assert!(!args.contains(&json!(dir)), "{args:?}");
            assert_eq!(args.iter().filter(|arg| *arg == "-profile").count(), {
                usize::from(own["moz:firefoxOptions"]["args"].is_array())
            });
            assert!(firefox_start(&caps, dir).is_none());
        }
    }
}
