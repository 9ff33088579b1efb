//! Cron expressions: five-field cron as people write it (weekdays numbered from Sunday 0) on
//! top of the cron crate, and the gaps between a schedule's runs, which the scheduler (jitter),
//! validation (the 10 s minimum) and the alerting rules (lookback windows) need.

use std::str::FromStr;
use std::time::Duration;

/// Accepts standard five-field cron (`*/5 * * * *`) as well as the cron crate's six or seven
/// fields (seconds first, optional year). The error is one line: the reason only.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let full = match fields.len() {
        5 => format!(
            "0 {} {}",
            fields[..4].join(" "),
            five_field_weekdays(fields[4])?
        ),
        6 | 7 => expr.to_string(),
        n => return Err(format!("it has {n} fields, not 5")),
    };
    cron::Schedule::from_str(&full).map_err(|e| {
        // The cron crate repeats the expression and marks the place with `^` before the reason.
        let text = e.to_string();
        text.lines()
            .map(str::trim)
            .rfind(|line| !line.is_empty() && *line != full && line.chars().any(|c| c != '^'))
            .unwrap_or("a field is not valid")
            .to_string()
    })
}

const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Five-field cron numbers the days of the week 0-7 from Sunday (0 and 7 both Sunday, so
/// `1-5` is Monday to Friday); the cron crate numbers them 1-7 from Sunday. A day-of-week field
/// with numbers is rewritten as the day names it means, which both read alike.
fn five_field_weekdays(field: &str) -> Result<String, String> {
    if !field.contains(|c: char| c.is_ascii_digit()) {
        return Ok(field.to_string());
    }
    let day = |text: &str| match text.parse::<usize>() {
        Ok(n) if n <= 7 => Ok(n),
        Ok(n) => Err(format!(
            "day of week {n} is more than 7 (0 and 7 are Sunday)"
        )),
        Err(_) => WEEKDAYS
            .iter()
            .position(|name| name.eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("`{text}` is not a day of the week")),
    };
    let mut days = [false; 7];
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => match step.parse::<usize>() {
                Ok(step) if step > 0 => (range, step),
                _ => return Err(format!("`{step}` is not a step in `{part}`")),
            },
            None => (part, 1),
        };
        let (first, last) = match range.split_once('-') {
            _ if range == "*" => (0, 6),
            Some((first, last)) => (day(first)?, day(last)?),
            None if step > 1 => (day(range)?, 6),
            None => (day(range)?, day(range)?),
        };
        if first > last {
            return Err(format!(
                "`{range}` is not a range of days: write the earlier day first"
            ));
        }
        for d in (first..=last).step_by(step) {
            days[d % 7] = true;
        }
    }
    Ok(WEEKDAYS
        .iter()
        .zip(days)
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(","))
}

/// The gaps between consecutive runs of `schedule` from now, over at most `runs` runs and up to
/// `horizon` ahead.
fn gaps(
    schedule: &cron::Schedule,
    runs: usize,
    horizon: Duration,
) -> impl Iterator<Item = Duration> {
    let start = chrono::Utc::now();
    let end = chrono::Duration::from_std(horizon)
        .ok()
        .and_then(|h| start.checked_add_signed(h))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
    let times: Vec<_> = schedule
        .after(&start)
        .take_while(move |at| *at <= end)
        .take(runs)
        .collect();
    let gaps: Vec<Duration> = times
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).to_std().unwrap_or_default())
        .collect();
    gaps.into_iter()
}

/// How far ahead a schedule is scanned for its longest gap, and at most how many runs.
const HORIZON: Duration = Duration::from_secs(400 * 86_400);
const MAX_RUNS: usize = 50_000;

/// The gap between the next two runs.
pub fn next_gap(schedule: &cron::Schedule) -> Option<Duration> {
    gaps(schedule, 2, HORIZON).next()
}

/// The shortest gap between the next 120 runs, if it runs at least twice.
pub fn shortest_gap(schedule: &cron::Schedule) -> Option<Duration> {
    gaps(schedule, 120, HORIZON).min()
}

/// The longest gap over the next 400 days (at most 50 000 runs), rounded up to whole seconds;
/// None with fewer than two runs ahead.
pub fn longest_gap(schedule: &cron::Schedule) -> Option<Duration> {
    let gap = gaps(schedule, MAX_RUNS, HORIZON).max()?;
    Some(Duration::from_secs(
        gap.as_secs() + u64::from(gap.subsec_nanos() > 0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cron::TimeUnitSpec;

    /// The cron crate's day numbers (1 is Sunday) that `expr` runs on.
    fn cron_days(expr: &str) -> Vec<u32> {
        let schedule = parse_cron(expr).unwrap();
        (1..=7)
            .filter(|d| schedule.days_of_week().includes(*d))
            .collect()
    }

    #[test]
    fn five_field_cron_numbers_weekdays_from_sunday_zero() {
        assert_eq!(cron_days("0 9 * * 1-5"), [2, 3, 4, 5, 6]);
        assert_eq!(cron_days("0 9 * * 0"), [1]);
        assert_eq!(cron_days("0 9 * * 7"), [1]);
        assert_eq!(cron_days("0 9 * * 5-7"), [1, 6, 7]);
        assert_eq!(cron_days("0 9 * * */2"), [1, 3, 5, 7]);
        assert_eq!(cron_days("0 9 * * MON-FRI"), [2, 3, 4, 5, 6]);
        assert_eq!(cron_days("0 9 * * mon,3"), [2, 4]);
        assert_eq!(cron_days("*/5 * * * *"), [1, 2, 3, 4, 5, 6, 7]);
        assert!(parse_cron("0 9 * * 8").unwrap_err().contains("more than 7"));
        assert!(parse_cron("0 9 * * 5-1").is_err());
        assert_eq!(parse_cron("* * *").unwrap_err(), "it has 3 fields, not 5");
    }

    #[test]
    fn gaps_of_a_weekday_schedule() {
        let weekdays = parse_cron("0 9 * * 1-5").unwrap();
        assert_eq!(shortest_gap(&weekdays), Some(Duration::from_secs(86_400)));
        assert_eq!(
            longest_gap(&weekdays),
            Some(Duration::from_secs(3 * 86_400))
        );
        let every_five = parse_cron("*/5 * * * *").unwrap();
        assert_eq!(next_gap(&every_five), Some(Duration::from_secs(300)));
        let once = parse_cron("0 0 0 1 1 * 2020").unwrap();
        assert_eq!(next_gap(&once), None);
    }
}
