//! The monitor's pages for people: `config` (the `ui:` section) and `auth` (who may read the
//! API and, later, the pages: basic auth against an argon2 hash, or a bearer token).

pub mod auth;
pub mod config;
