//! The monitor configuration (`shopwatch.yaml`): [`monitor`] composes the sections, each
//! parsed and validated beside its component (journeys in `journey`, probes in `probe`,
//! alerting in `alert`, artifacts, metrics) on the shared layer in `yaml`.

pub mod monitor;

pub use crate::journey::validate::{load_journey, parse_journey};
