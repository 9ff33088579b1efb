//! WebDriver: sessions and the local driver processes shopwatch owns (kept in a pool between
//! sessions), and whether the endpoint is there (`status`).

pub mod browser;
pub mod driver;
pub mod firefox_profile;
pub mod guard;
pub mod pool;
pub mod reaper;
pub mod session;
pub mod status;
pub mod viewport;
pub mod wire;

pub use browser::Browser;
pub use pool::DriverPool;
pub use session::{Endpoint, Session, SessionError, SessionOptions};
pub use viewport::Viewport;
