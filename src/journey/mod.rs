//! Journeys: the typed model, `${var}` templates, key names, their variables resolved, and
//! running a journey in a browser (actions, blocks of actions in frames and windows, page inspection and artifacts, the runner,
//! outcomes).

pub mod actionability;
pub mod actions;
pub mod blocks;
pub mod css;
pub mod cut;
pub mod file;
pub mod keys;
pub mod locate;
pub mod model;
pub mod outcome;
pub mod page;
pub mod publish;
pub mod recorder;
pub mod runner;
pub mod secrets;
pub mod template;
pub mod validate;
