//! The page's inner size. Browsers are told a window size, and each spends a different part of
//! it on its own frame (headless Chromium gives a 1280x800 window a 1280x657 page, Firefox
//! 1280x714), so the same shop lays out differently. A session measures the page and grows the
//! window by the difference, so every browser's page is the journey's `viewport`. A local
//! browser starts with the window its page needs ([`Viewport::window_for`]), so that it is
//! measured once and not resized.

use super::Browser;
use fantoccini::Client;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
}

impl Default for Viewport {
    fn default() -> Self {
        Viewport {
            width: 1280,
            height: 800,
        }
    }
}

impl fmt::Display for Viewport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl Viewport {
    /// The smallest and largest side, in CSS pixels (a phone's width; 8K).
    pub const MIN: u32 = 200;
    pub const MAX: u32 = 7680;

    /// The window size (Chromium's `--window-size`, Firefox's `-width` and `-height`) that
    /// gives the headless browser's page this viewport: each keeps part of its window for a
    /// frame it does not draw (Chromium 156: 143 px, Firefox 153: 86 px). A resize at session
    /// start costs up to 0.2 s in Firefox. [`Viewport::apply`] still measures, and resizes a
    /// version whose frame differs.
    pub fn window_for(self, browser: Browser) -> Viewport {
        let frame = match browser {
            Browser::Chrome => 143,
            Browser::Firefox => 86,
        };
        Viewport {
            width: self.width,
            height: self.height + frame,
        }
    }

    /// `1280x800`; the problem, in words, otherwise.
    pub fn parse(text: &str) -> Result<Viewport, String> {
        let Some((width, height)) = text.trim().split_once(['x', 'X', '×']) else {
            return Err("is not WIDTHxHEIGHT".to_string());
        };
        let side = |s: &str| -> Result<u32, String> {
            let n: u32 = s
                .trim()
                .parse()
                .map_err(|_| format!("has `{}` where a whole number goes", s.trim()))?;
            if !(Self::MIN..=Self::MAX).contains(&n) {
                return Err(format!("has a side of {n} pixels"));
            }
            Ok(n)
        };
        Ok(Viewport {
            width: side(width)?,
            height: side(height)?,
        })
    }

    /// What the page of `client` sees, as `window.innerWidth` x `innerHeight`.
    pub async fn measure(client: &Client) -> Result<Viewport, fantoccini::error::CmdError> {
        let value = client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await?;
        let side = |i: usize| value.get(i).and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        Ok(Viewport {
            width: side(0),
            height: side(1),
        })
    }

    /// Sizes the window of `client` so that its page is this viewport: measured, resized by the
    /// difference, measured again (a window manager may round). The size the page ends up with.
    pub async fn apply(self, client: &Client) -> Result<Viewport, fantoccini::error::CmdError> {
        for _ in 0..3 {
            let inner = Self::measure(client).await?;
            if inner == self {
                return Ok(inner);
            }
            let (x, y, outer_width, outer_height) = client.get_window_rect().await?;
            let grow = |outer: u64, want: u32, has: u32| {
                (outer as i64 + want as i64 - has as i64).max(Self::MIN as i64) as u32
            };
            client
                .set_window_rect(
                    x as u32,
                    y as u32,
                    grow(outer_width, self.width, inner.width),
                    grow(outer_height, self.height, inner.height),
                )
                .await?;
        }
        Self::measure(client).await
    }
}

#[cfg(test)]
mod tests {
    use super::Viewport;

    #[test]
    fn reads_width_by_height() {
        assert_eq!(
            Viewport::parse("1024x768"),
            Ok(Viewport {
                width: 1024,
                height: 768
            })
        );
        assert_eq!(Viewport::parse(" 375 X 667 ").map(|v| v.width), Ok(375));
        assert!(Viewport::parse("1024").is_err());
        assert!(Viewport::parse("wide x 768").is_err());
        assert!(Viewport::parse("100x768").is_err());
        assert!(Viewport::parse("1024x99999").is_err());
    }
}
