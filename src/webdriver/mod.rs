//! WebDriver: sessions and the local driver processes shopwatch owns.

pub mod browser;
pub mod driver;
pub mod guard;
pub mod reaper;
pub mod session;
pub mod viewport;

pub use browser::Browser;
pub use session::{Endpoint, Session, SessionError, SessionOptions};
pub use viewport::Viewport;
