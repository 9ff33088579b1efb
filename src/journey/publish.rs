//! `metric:` on `store_text`, `store_attr` and an `http` action's `store`: the number in what
//! was read (a cart total, a shipping cost, a gift card's balance left) published as
//! `shopwatch_journey_value{journey, step, name}`, and the step failed when it is outside
//! `min`..`max`.
//!
//! The number is the first in the text, read as people write it ([`crate::numbers`]), or with
//! the decimal separator `decimal:` names (for `1.250 kg`, which would otherwise read as 1250).

use super::outcome::{Failure, ReasonClass, StepValue};
use crate::numbers::number_in;

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

#[cfg(test)]
mod tests {
    use super::*;

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
