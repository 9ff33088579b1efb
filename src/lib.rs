//! shopwatch: synthetic checkout monitor.
