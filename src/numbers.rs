//! Numbers as people write them in shops: the first number in a text such as `€1,234.56`,
//! `1.234,56 €`, `CHF 1'234.50`, `12,50 EUR` or `1 234,5 kr`. Journeys' published values and
//! the probes' prices and amounts read them the same way.

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
            ("1.299,00 SEK", 1299.0),
            ("USD 1,299.00", 1299.0),
            ("Price: 8.", 8.0),
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
}
