//! WebDriver: sessions and the local driver processes shopwatch owns.

pub mod driver;
pub mod session;

pub use session::{Endpoint, Session, SessionError, SessionOptions};
