//! Local drivers kept between sessions. Each run still gets a new session (its own browser and
//! profile, so runs stay isolated), but not a new geckodriver or chromedriver process: starting
//! one and waiting for its port is part of every session start otherwise. A driver holds one
//! session at a time (geckodriver cannot hold more), so the pool has as many as sessions run at
//! once. A driver that died while idle is replaced; one whose session did not close cleanly is
//! stopped with its whole process group, never reused.

use super::driver::{DriverError, LocalDriver};
use super::Browser;
use std::sync::Mutex;

/// After this many sessions a driver is retired and a fresh one started: anything a browser
/// left behind under its temp dir goes with it.
const SESSIONS_PER_DRIVER: u32 = 100;

#[derive(Default)]
pub struct DriverPool {
    idle: Mutex<Vec<LocalDriver>>,
}

impl DriverPool {
    /// An idle driver for `browser`, or a newly started one.
    pub async fn take(&self, browser: Browser) -> Result<LocalDriver, DriverError> {
        loop {
            let found = {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.iter()
                    .position(|d| d.browser == browser)
                    .map(|i| idle.swap_remove(i))
            };
            let Some(mut driver) = found else {
                return LocalDriver::start(browser).await;
            };
            if driver.is_alive() {
                return Ok(driver);
            }
            tracing::info!(
                "{} had exited while idle; starting a new one",
                LocalDriver::program_for(browser)
            );
            driver.stop().await;
        }
    }

    /// Keeps `driver` for the next session, unless it has served its share.
    pub async fn give_back(&self, driver: LocalDriver) {
        if driver.sessions >= SESSIONS_PER_DRIVER {
            driver.stop().await;
            return;
        }
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(driver);
    }

    /// Stops every idle driver (at shutdown).
    pub async fn stop_all(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for driver in idle {
            driver.stop().await;
        }
    }
}
