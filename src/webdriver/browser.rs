//! The browsers shopwatch drives, by the names journeys and configurations use.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Firefox,
    Chrome,
}

impl Browser {
    pub const NAMES: &'static [&'static str] = &["firefox", "chrome"];

    pub fn parse(name: &str) -> Option<Browser> {
        match name {
            "firefox" => Some(Browser::Firefox),
            "chrome" | "chromium" => Some(Browser::Chrome),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Browser::Firefox => "firefox",
            Browser::Chrome => "chrome",
        }
    }
}
