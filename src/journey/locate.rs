//! Finding a locator's elements in the page, through open shadow roots for a piercing CSS
//! selector (`express-checkout >>> button.pay`): each part is looked up inside the shadow roots
//! of the elements the part before it found. WebDriver finds only CSS (and link text) inside a
//! shadow root, so only `selector` pierces.

use super::model::Locator;
use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus, WebDriver};
use fantoccini::Client;

/// What separates the parts of a piercing selector.
pub const PIERCE: &str = ">>>";

/// The parts of `css` split at `>>>` outside quotes, brackets and parentheses (trimmed; an
/// empty part is kept, for validation to name); None when it does not pierce.
pub fn shadow_parts(css: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut quote = None;
    let mut depth = 0usize;
    let mut chars = css.char_indices().peekable();
    while let Some((i, ch)) = chars.next() {
        match (quote, ch) {
            (Some(_), '\\') => {
                part.push(ch);
                if let Some((_, escaped)) = chars.next() {
                    part.push(escaped);
                }
                continue;
            }
            (Some(q), _) if ch == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '[' | '(') => depth += 1,
            (None, ']' | ')') => depth = depth.saturating_sub(1),
            (None, '>') if depth == 0 && css[i..].starts_with(PIERCE) => {
                parts.push(part.trim().to_string());
                part.clear();
                chars.next();
                chars.next();
                continue;
            }
            (None, _) => {}
        }
        part.push(ch);
    }
    if parts.is_empty() {
        return None;
    }
    parts.push(part.trim().to_string());
    Some(parts)
}

/// The fantoccini form of a locator that does not pierce.
fn plain(locator: &Locator) -> fantoccini::Locator<'_> {
    match locator {
        Locator::Css(s) => fantoccini::Locator::Css(s),
        Locator::XPath(s) => fantoccini::Locator::XPath(s),
        Locator::LinkText(s) => fantoccini::Locator::LinkText(s),
        Locator::Shadow(parts) => fantoccini::Locator::Css(&parts[0]),
    }
}

/// Every element matching `locator`, in document order (shadow hosts in order, then the
/// matches inside each one's shadow root).
pub async fn find_all(client: &Client, locator: &Locator) -> Result<Vec<Element>, CmdError> {
    let Locator::Shadow(parts) = locator else {
        return client.find_all(plain(locator)).await;
    };
    let mut found = client.find_all(plain(locator)).await?;
    for part in &parts[1..] {
        found = inside_shadow_roots(&found, part).await?;
    }
    Ok(found)
}

/// The first element matching `locator`; a missing one is WebDriver's `no such element`, as
/// for any other locator.
pub async fn find(client: &Client, locator: &Locator) -> Result<Element, CmdError> {
    if !matches!(locator, Locator::Shadow(_)) {
        return client.find(plain(locator)).await;
    }
    find_all(client, locator)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            CmdError::Standard(WebDriver::new(
                ErrorStatus::NoSuchElement,
                format!("no element matches {locator}"),
            ))
        })
}

/// The elements matching `css` inside the open shadow roots of `hosts`; hosts without one (or
/// gone since) have nothing inside.
async fn inside_shadow_roots(hosts: &[Element], css: &str) -> Result<Vec<Element>, CmdError> {
    let mut found = Vec::new();
    for host in hosts {
        let root = match host.shadow_root().await {
            Ok(root) => root,
            Err(e) if without_root(&e) => continue,
            Err(e) => return Err(e),
        };
        match root.find_all(fantoccini::Locator::Css(css)).await {
            Ok(elements) => found.extend(elements),
            Err(e) if without_root(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// The host has no open shadow root, or it or its root left the page.
fn without_root(e: &CmdError) -> bool {
    e.is_no_such_shadow_root() || e.is_detached_shadow_root() || e.is_stale_element_reference()
}

/// For a piercing locator that finds nothing: which part found nothing, in words, e.g.
/// "`express-checkout` is there, but nothing in its shadow root matches `button.buy`". None
/// for other locators, and when the element is there (after all).
pub async fn missing_part(client: &Client, locator: &Locator) -> Option<String> {
    let Locator::Shadow(parts) = locator else {
        return None;
    };
    let mut found = client.find_all(plain(locator)).await.ok()?;
    if found.is_empty() {
        return Some(format!("no shadow host matches `{}`", parts[0]));
    }
    for (i, part) in parts.iter().enumerate().skip(1) {
        let host = &parts[i - 1];
        let mut with_root = 0;
        for element in &found {
            if element.shadow_root().await.is_ok() {
                with_root += 1;
            }
        }
        if with_root == 0 {
            return Some(format!(
                "`{host}` is there, but has no open shadow root to look into"
            ));
        }
        found = inside_shadow_roots(&found, part).await.ok()?;
        if found.is_empty() {
            return Some(format!(
                "`{host}` is there, but nothing in its shadow root matches `{part}`"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::shadow_parts;

    #[test]
    fn a_selector_pierces_at_each_top_level_marker() {
        assert_eq!(shadow_parts("button.pay"), None);
        assert_eq!(
            shadow_parts("express-checkout >>> button.pay").unwrap(),
            ["express-checkout", "button.pay"]
        );
        assert_eq!(shadow_parts("a>>>b >>> c").unwrap(), ["a", "b", "c"]);
        assert_eq!(shadow_parts("a >>>").unwrap(), ["a", ""]);
        assert_eq!(shadow_parts(">>> a").unwrap(), ["", "a"]);
        // Not inside strings, attribute selectors or functional pseudo-classes.
        assert_eq!(shadow_parts("[title='>>>']"), None);
        assert_eq!(shadow_parts("a[title=\"x\\\">>>\"]"), None);
        assert_eq!(
            shadow_parts("p:has([data-x='>>>']) >>> b").unwrap(),
            ["p:has([data-x='>>>'])", "b"]
        );
        // A plain child combinator is not a marker.
        assert_eq!(shadow_parts("ul > li"), None);
    }
}
