//! WebDriver: sessions and the local driver processes shopwatch owns (kept in a pool between
//! sessions).

pub mod browser;
pub mod driver;
pub mod guard;
pub mod pool;
pub mod reaper;
pub mod session;
pub mod viewport;
pub mod wire;

pub use browser::Browser;
pub use pool::DriverPool;
pub use session::{Endpoint, Session, SessionError, SessionOptions};
pub use viewport::Viewport;
