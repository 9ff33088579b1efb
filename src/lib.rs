//! shopwatch: a self-hosted synthetic checkout monitor.
//!
//! It plays a customer: YAML journeys (browse, add to cart, log in, check out, pay) run in a real
//! browser over W3C WebDriver, every step timed.
//!
//! # Layout
//! - `cli`: command-line parsing and the commands (`run`, `check`, `validate`, `rules`,
//!   `alert test`), exit codes.
//! - `config`: config files: parse (serde_yaml), locate, validate into typed values (journeys
//!   and the monitor configuration; probes reuse its `Checker`).
//! - `daemon`: `shopwatch run`: generations of journey and probe tasks, reload, shutdown.
//! - `schedule`: fixed-rate due times with jitter, no overlap, the browser session limit.
//! - `server`: `/metrics`, `/healthz`, `/artifacts/`.
//! - `listener`: the accept loop under `server`, bounded in connections and time.
//! - `resources`: the monitor's own limits (file descriptors) and its own errors told apart
//!   from the shop's.
//! - `alert`: alert state machine, notifications, delivery with retries, one file per sink.
//! - `artifacts`: the directory of failed steps' screenshots and pages: which directory it
//!   may be (markers), safe names, atomic writes, serving without links, retention.
//! - `error_chain`: an error and its causes on one line.
//! - `capped`: reading the files users name (secrets, CA files, configurations) with a size cap.
//! - `journey`: the typed journey model, `${var}` templates, key names, secrets and their
//!   redaction (every encoded form, one pass), and the runner.
//! - `webdriver`: WebDriver sessions and the local driver processes shopwatch owns.
//! - `probe`: cheap checks without a browser (http, tls), one file per kind, typed results.
//! - `report`: console, JSON and JUnit output of runs.
//! - `rules`: `shopwatch rules`: Prometheus alerting rules for the metrics, per journey interval.
//! - `metrics`: every metric name; run and probe results kept (HDR histograms) and rendered
//!   for Prometheus at scrape time.

pub mod alert;
pub mod artifacts;
pub mod calendar;
pub mod capped;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod error_chain;
pub mod journey;
pub mod listener;
pub mod metrics;
pub mod probe;
pub mod report;
pub mod resources;
pub mod rules;
pub mod schedule;
pub mod secret;
pub mod server;
pub mod webdriver;
pub mod yaml;
