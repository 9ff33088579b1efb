//! shopwatch: a self-hosted synthetic checkout monitor.
//!
//! It plays a customer: YAML journeys (browse, add to cart, log in, check out, pay) run in a real
//! browser over W3C WebDriver, every step timed.
//!
//! # Layout
//!
//! The rule: **every configuration section is parsed and validated beside its component**, on
//! the shared `yaml` layer; `config` only composes the monitor's file from the sections. Each
//! family of kinds (journey actions, probe kinds, sink kinds) is one list in the code
//! (`one_key_enum!`, `probes!`, `sinks!`) and one file per kind. Imports run downwards only:
//! no folder imports one that imports it back.
//!
//! From the top:
//! - `cli`: command-line parsing and the commands (`run`, `check`, `validate`, `rules`,
//!   `alert test`), exit codes.
//! - `daemon`: `shopwatch run`: generations of journey and probe tasks, reload, shutdown, and
//!   the one place a finished run goes out to metrics, alerts and artifacts.
//! - `rules`: `shopwatch rules`: Prometheus alerting rules for the metrics, per journey interval.
//! - `config`: the monitor configuration (`shopwatch.yaml`), composed of the sections below.
//! - `server`: `/metrics`, `/healthz`, `/-/healthy`, `/-/ready`, `/-/reload`, `/artifacts/`;
//!   `listener`: its accept loop, bounded in connections and time.
//! - `history`: the run history (SQLite or PostgreSQL): its section and `state_dir`, schema
//!   and migrations, the writer behind a bounded queue, the read queries, retention, the JSON
//!   API.
//! - `ui`: the pages for people: the `ui:` section and who may read the API and UI (basic
//!   auth with an argon2 hash, a bearer token, or `auth: none`), the HTML UI under `/ui/`, the
//!   public status pages (`status_pages:`) and badges, and the SVG charts they draw.
//! - `alert`: alerting's section (`config`), observations of runs (pure), the alert state
//!   machine, the engine, the outbox and its delivery with retries, notifications, and `sink`:
//!   one file per sink kind.
//! - `metrics`: every metric name, its section, run and probe results kept (HDR histograms) and
//!   rendered for Prometheus at scrape time.
//! - `probe`: cheap checks without a browser, one file per kind (settings, validation, check).
//! - `normal`: what a series' normal is (the same hour of the week, or daily, over weeks),
//!   "not enough history yet", and its keys checked; the history reads normals, the alerts and
//!   probes above compare with them.
//! - `schedule`: fixed-rate due times with jitter, no overlap, the browser session limit;
//!   `calendar`: cron expressions (crontab's day rule, a time zone) and the gaps between their
//!   runs.
//! - `report`: console, JSON and JUnit output of runs; `progress`: `check`'s live console
//!   (what runs now and for how long: an updating line on a terminal, plain lines elsewhere).
//! - `journey`: the journey file and its validation, the typed model, `${var}` templates, key
//!   names, and the runner (actions, page inspection, outcomes).
//! - `webdriver`: browsers, WebDriver sessions, and the local driver processes shopwatch owns.
//! - `artifacts`: the directory of failed steps' screenshots and pages: its section, which
//!   directory it may be (markers), safe names, atomic writes, serving without links, retention.
//! - `yaml`: the shared layer of every section: parse (serde-saphyr), `${env:NAME}` values,
//!   locate, located diagnostics, the `Checker`, one-key items, shared scalar shapes, values
//!   that may be secrets, and the keys of a struct read from the struct.
//! - `secret`: secret values, reading them, and redacting them (every encoded form, one pass).
//! - `logging`: the monitor's log on stderr: text (colour only on a terminal) or JSON lines.
//! - `resources`: the monitor's own limits (file descriptors) and its own errors told apart
//!   from the shop's; `capped`: reading the files users name with a size cap; `error_chain`: an
//!   error and its causes on one line; `numbers`: numbers as shops write them (`1.234,56 €`).

pub mod alert;
pub mod artifacts;
pub mod calendar;
pub mod capped;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod error_chain;
pub mod history;
pub mod journey;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod normal;
pub mod numbers;
pub mod probe;
pub mod progress;
pub mod report;
pub mod resources;
pub mod rules;
pub mod schedule;
pub mod secret;
pub mod server;
pub mod ui;
pub mod webdriver;
pub mod yaml;
