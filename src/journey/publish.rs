//! `metric:` on `store_text`, `store_attr` and an `http` action's `store`: the number in what
//! was read (a cart total, a shipping cost, a gift card's balance left) published as
//! `shopwatch_journey_value{journey, step, name}`, and the step failed when it is outside
//! `min`..`max`.
//!
//! Shops write numbers for people: `€1,234.56`, `1.234,56 €`, `CHF 1'234.50`, `12,50`. The
//! first number in the text is read; its decimal separator is the last `.` or `,` when both
//! appear, a lone one followed by other than three digits, or the one `decimal:` names
//! (for `1.250 kg`, which would otherwise read as 1250).

use super::outcome::{Failure, ReasonClass, StepValue};

/// A validated `metric:` with its limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    /// The `name` label: letters, digits and `_`, not starting with a digit.
    pub metric: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// `.` or `,` when the journey says which; else guessed per value.
    pub decimal: Option<char>,
}

impl Publish {
    /// The number in `text`, as the step's value; a failure (the step's) when there is none
    /// or it is outside the limits. `doing` names the action, as reasons do.
    pub fn read(&self, text: &str, doing: &str) -> Result<StepValue, (Option<StepValue>, Failure)> {
        let Some(value) = number_in(text, self.decimal) else {
            return Err((
                None,
                Failure::shop(
                    ReasonClass::Assertion,
                    format!(
                        "{doing}: no number in {:?} for metric `{}`",
                        clip(text),
                        self.metric
                    ),
                ),
            ));
        };
        let read = StepValue {
            metric: self.metric.clone(),
            value,
        };
        let outside = match (self.min, self.max) {
            (Some(min), _) if value < min => Some(format!("under its minimum {min}")),
            (_, Some(max)) if value > max => Some(format!("over its maximum {max}")),
            _ => None,
        };
        match outside {
            None => Ok(read),
            Some(why) => Err((
                Some(read),
                Failure::shop(
                    ReasonClass::Assertion,
                    format!(
                        "{doing}: metric `{}` is {value} ({:?}), {why}",
                        self.metric,
                        clip(text)
                    ),
                ),
            )),
        }
    }
}

/// Whether `name` may name a published value (the README's rule).
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

/// The text as a reason quotes it: its first 60 characters.
fn clip(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The first number written in `text`, grouping separators (`,` `.` `'` and spaces between
/// digits) read as a person would; `decimal` when the journey names the decimal separator.
pub fn number_in(text: &str, decimal: Option<char>) -> Option<f64> {
    let chars: Vec<char> = text.chars().collect();
    let start = chars.iter().position(|c| c.is_ascii_digit())?;
    let mut end = start;
    // Digits, and a separator only where a digit follows it.
    while end < chars.len() {
        let c = chars[end];
        let separator = matches!(c, '.' | ',' | '\'' | ' ' | '\u{a0}' | '\u{202f}');
        if c.is_ascii_digit()
            || (separator && chars.get(end + 1).is_some_and(|n| n.is_ascii_digit()))
        {
            end += 1;
        } else {
            break;
        }
    }
    let negative = start > 0 && matches!(chars[start - 1], '-' | '−');
    let written: Vec<char> = chars[start..end]
        .iter()
        .copied()
        .filter(|c| !matches!(c, '\'' | ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    let decimal = decimal.or_else(|| guess_decimal(&written));
    let mut plain = String::with_capacity(written.len() + 1);
    if negative {
        plain.push('-');
    }
    for c in written {
        match c {
            '.' | ',' if Some(c) == decimal => plain.push('.'),
            '.' | ',' => {}
            digit => plain.push(digit),
        }
    }
    // Hundreds of digits parse as infinity, which no gauge or limit can use.
    plain.parse().ok().filter(|v: &f64| v.is_finite())
}

/// The decimal separator of digits with `.` and `,` in them: the last of the two when both
/// appear; a lone separator (one occurrence) unless exactly three digits follow it.
fn guess_decimal(written: &[char]) -> Option<char> {
    let last = written.iter().rposition(|c| matches!(c, '.' | ','))?;
    let separator = written[last];
    let other = if separator == '.' { ',' } else { '.' };
    if written.contains(&other) {
        return Some(separator);
    }
    let once = written.iter().filter(|&&c| c == separator).count() == 1;
    let digits_after = written.len() - last - 1;
    (once && digits_after != 3).then_some(separator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_as_shops_write_them_read_as_numbers() {
        for (text, want) in [
            ("€1,234.56", 1234.56),
            ("1.234,56 €", 1234.56),
            ("CHF 1'234.50", 1234.5),
            ("12,50 EUR", 12.5),
            ("Total: $ 42", 42.0),
            ("1 234,5 kr", 1234.5),
            ("2,000", 2000.0),
            ("1.000.000", 1_000_000.0),
            ("-5.00 discount", -5.0),
            ("3 items, 19.99 total", 3.0),
            ("0.5", 0.5),
        ] {
            assert_eq!(number_in(text, None), Some(want), "{text}");
        }
        assert_eq!(number_in("no digits here", None), None);
        assert_eq!(number_in("1.250 kg", None), Some(1250.0));
        assert_eq!(number_in("1.250 kg", Some('.')), Some(1.25));
        assert_eq!(number_in("1,250", Some(',')), Some(1.25));
        assert_eq!(number_in("end.", None), None);
        assert_eq!(number_in("7.", None), Some(7.0));
        assert_eq!(number_in(&"9".repeat(400), None), None);
    }

    #[test]
    fn a_value_outside_its_limits_fails_with_the_value_and_the_text() {
        let publish = Publish {
            metric: "cart_total".into(),
            min: Some(1.0),
            max: Some(100.0),
            decimal: None,
        };
        assert_eq!(publish.read("€ 24.00", "store_text").unwrap().value, 24.0);
        let (read, failure) = publish.read("€ 0.00", "store_text `#total`").unwrap_err();
        assert_eq!(read.map(|v| v.value), Some(0.0));
        assert_eq!(
            failure.reason,
            "store_text `#total`: metric `cart_total` is 0 (\"€ 0.00\"), under its minimum 1"
        );
        let (read, failure) = publish.read("Free", "store_text").unwrap_err();
        assert!(read.is_none());
        assert!(
            failure.reason.contains("no number in \"Free\""),
            "{}",
            failure.reason
        );
    }

    #[test]
    fn metric_names_are_identifiers() {
        assert!(valid_metric_name("cart_total"));
        assert!(valid_metric_name("_x1"));
        assert!(!valid_metric_name("1x"));
        assert!(!valid_metric_name("cart-total"));
        assert!(!valid_metric_name(""));
    }
}
