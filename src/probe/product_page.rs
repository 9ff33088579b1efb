//! Reading a product page without a browser: the text (or an attribute) of the first element a
//! CSS selector matches, and the price or stock level it says. The catalog probe compares these
//! with the ERP's; the feed probe compares a sampled page's price with the feed's.

use crate::yaml::check::Checker;

/// Product pages read at most (a product page is tens of kB; a shop answering megabytes of it
/// is broken, and the probe should not hold them).
const MAX_PAGE: usize = 4 * 1024 * 1024;

/// What a page or a source says about stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stock {
    /// A number on hand (0 is out of stock).
    Count(u64),
    /// In stock, no number given.
    In,
    Out,
}

impl Stock {
    pub(super) fn in_stock(self) -> bool {
        match self {
            Stock::Count(n) => n > 0,
            Stock::In => true,
            Stock::Out => false,
        }
    }

    pub(super) fn count(self) -> Option<u64> {
        match self {
            Stock::Count(n) => Some(n),
            Stock::In => None,
            Stock::Out => Some(0),
        }
    }

    /// For a reason: `in stock (38)`, `out of stock`.
    pub(super) fn shown(self) -> String {
        match self {
            Stock::Count(0) | Stock::Out => "out of stock".to_string(),
            Stock::Count(n) => format!("in stock ({n})"),
            Stock::In => "in stock".to_string(),
        }
    }

    /// A stock level as shops and ERPs write it: a number (`38`, `12 in stock`), Google's
    /// availability (`in_stock`, `out_of_stock`, `backorder`), schema.org's
    /// (`https://schema.org/InStock`), or words (`In stock`, `Sold out`, `true`).
    pub(super) fn parse(text: &str) -> Option<Stock> {
        let lower = text.trim().to_ascii_lowercase();
        let squeezed: String = lower
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        const OUT: [&str; 7] = [
            "outofstock",
            "soldout",
            "unavailable",
            "notavailable",
            "backorder",
            "preorder",
            "discontinued",
        ];
        if OUT.iter().any(|w| squeezed.contains(w)) || matches!(lower.as_str(), "false" | "no") {
            return Some(Stock::Out);
        }
        let digits: String = lower
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse::<u64>() {
            return Some(Stock::Count(n));
        }
        if ["instock", "available", "limitedavailability"]
            .iter()
            .any(|w| squeezed.contains(w))
            || matches!(lower.as_str(), "true" | "yes")
        {
            return Some(Stock::In);
        }
        None
    }
}

/// The first amount in `text`: `€12.50`, `12,50 €`, `1.299,00 SEK`, `USD 1,299.00`, `12.50 EUR`
/// ([`crate::numbers`] says how the decimal separator is told from grouping).
pub(super) fn parse_amount(text: &str) -> Option<f64> {
    crate::numbers::number_in(text, None)
}

/// An amount in data a program wrote (an ERP export, a feed's `price`): a plain decimal
/// number among its words is read as it is (`12.500` is 12.5, `15.00 USD` 15), as a person
/// would write it only when there is none (`1,299.00 SEK`).
pub(super) fn parse_data_amount(text: &str) -> Option<f64> {
    text.split_whitespace()
        .find_map(|word| word.parse::<f64>().ok().filter(|n| n.is_finite()))
        .or_else(|| parse_amount(text))
}

/// An amount for a reason: `9.95`, `1299.00`.
pub(super) fn show_amount(amount: f64) -> String {
    format!("{amount:.2}")
}

/// A page's HTML (read up to [`MAX_PAGE`]), as text.
pub(super) async fn read(response: reqwest::Response, url: &str) -> Result<String, String> {
    let body = super::fetch::read_capped(response, MAX_PAGE)
        .await
        .map_err(|e| format!("reading {url}: {e}"))?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The text of the first element `css` matches in `html` (or its `attribute`), trimmed; `None`
/// when nothing matches (or the element lacks the attribute). `css` was checked by
/// `Checker::page_selector`.
pub(super) fn select(html: &str, css: &str, attribute: Option<&str>) -> Option<String> {
    let selector = scraper::Selector::parse(css).ok()?;
    let document = scraper::Html::parse_document(html);
    let element = document.select(&selector).next()?;
    let text = match attribute {
        Some(name) => element.value().attr(name)?.to_string(),
        None => element.text().collect::<String>(),
    };
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

impl Checker<'_> {
    /// A CSS selector as the page reader parses it, or an error at `path`.
    pub(super) fn page_selector(&mut self, path: &str, css: &Option<String>) -> Option<String> {
        let css = css.as_deref()?;
        // The journeys' selector check says why in words; scraper's own errors can be a
        // debug dump ("DanglingCombinator").
        let checked = crate::journey::css::check(css).map(|_| ()).and_then(|()| {
            scraper::Selector::parse(css)
                .map(|_| ())
                .map_err(|e| e.to_string().replace('\n', " "))
        });
        match checked {
            Ok(()) => Some(css.to_string()),
            Err(reason) => {
                self.error_hint(
                    path,
                    format!("`{css}` is not a CSS selector: {reason}"),
                    "a selector for the element that shows it, e.g. `.product .price`",
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_as_shops_write_them() {
        assert_eq!(parse_amount("€12.50"), Some(12.5));
        assert_eq!(parse_amount("12,50 €"), Some(12.5));
        assert_eq!(parse_amount("1.299,00 SEK"), Some(1299.0));
        assert_eq!(parse_amount("USD 1,299.00"), Some(1299.0));
        assert_eq!(parse_amount("1,299 kr"), Some(1299.0));
        assert_eq!(parse_amount("9.90 EUR"), Some(9.9));
        assert_eq!(parse_amount("Price: 8."), Some(8.0));
        assert_eq!(parse_amount("free"), None);
    }

    #[test]
    fn amounts_in_exports_and_feeds_are_read_as_programs_write_them() {
        assert_eq!(parse_data_amount("12.500"), Some(12.5));
        assert_eq!(parse_amount("12.500"), Some(12500.0), "on a page: grouping");
        assert_eq!(parse_data_amount("15.00 USD"), Some(15.0));
        assert_eq!(parse_data_amount("USD 15.00"), Some(15.0));
        assert_eq!(parse_data_amount("1,299.00 SEK"), Some(1299.0));
        assert_eq!(parse_data_amount("inf"), None);
        assert_eq!(parse_data_amount("n/a"), None);
    }

    #[test]
    fn stock_is_read_from_numbers_and_words() {
        assert_eq!(Stock::parse("38"), Some(Stock::Count(38)));
        assert_eq!(Stock::parse("12 in stock"), Some(Stock::Count(12)));
        assert_eq!(Stock::parse("In stock"), Some(Stock::In));
        assert_eq!(Stock::parse("in_stock"), Some(Stock::In));
        assert_eq!(Stock::parse("https://schema.org/InStock"), Some(Stock::In));
        assert_eq!(Stock::parse("Out of stock"), Some(Stock::Out));
        assert_eq!(Stock::parse("Sold out"), Some(Stock::Out));
        assert_eq!(Stock::parse("backorder"), Some(Stock::Out));
        assert_eq!(Stock::parse("maybe"), None);
        assert!(!Stock::Count(0).in_stock());
    }

    #[test]
    fn selects_text_or_an_attribute() {
        let html = r#"<div class="p" data-stock="7"><span class="price"> €9.90 </span></div>"#;
        assert_eq!(select(html, ".price", None).as_deref(), Some("€9.90"));
        assert_eq!(select(html, ".p", Some("data-stock")).as_deref(), Some("7"));
        assert_eq!(select(html, ".missing", None), None);
    }
}
