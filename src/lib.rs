//! shopwatch: a self-hosted synthetic checkout monitor.
//!
//! It plays a customer: YAML journeys (browse, add to cart, log in, check out, pay) run in a real
//! browser over W3C WebDriver, every step timed.
//!
//! # Layout
//! - `cli`: command-line parsing and the commands (`check`, `validate`), exit codes.
//! - `config`: config files: parse (serde_yaml), locate, validate into typed values (journeys
//!   here; probes reuse its `Checker`).
//! - `journey`: the typed journey model, `${var}` templates, key names, and the runner.
//! - `webdriver`: WebDriver sessions and the local driver processes shopwatch owns.
//! - `probe`: cheap checks without a browser (http, tls), one file per kind, typed results.
//! - `report`: console, JSON and JUnit output of runs.

pub mod cli;
pub mod config;
pub mod journey;
pub mod probe;
pub mod report;
pub mod webdriver;
