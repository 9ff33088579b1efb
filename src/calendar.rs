//! Cron expressions: five-field cron as people write it (weekdays numbered from Sunday 0, and
//! crontab's rule for the two day fields) on top of the cron crate, in a time zone, and the
//! gaps between a schedule's runs, which the scheduler (jitter), validation (the 10 s minimum,
//! schedules almost never due) and the alerting rules (lookback windows) need.

use crate::yaml::check::Checker;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::str::FromStr;
use std::time::Duration;

/// A cron schedule in a time zone: its times are wall-clock times there (`0 9 * * *` is 09:00
/// in Berlin all year, 08:00 or 07:00 UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    /// One schedule; or two when both day fields are restricted (`0 9 1 * MON`): as crontab
    /// runs it, either matching is enough, so the times are those of the day-of-month
    /// schedule and of the day-of-week one together (the cron crate alone wants both).
    schedules: Vec<cron::Schedule>,
    timezone: Tz,
}

impl Cron {
    /// Accepts standard five-field cron (`*/5 * * * *`) as well as the cron crate's six or
    /// seven fields (seconds first, optional year). The error is one line: the reason only.
    pub fn parse(expr: &str, timezone: Tz) -> Result<Cron, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        // As written (before the weekdays are renamed): seconds come first in six or seven.
        let (day_of_month, day_of_week) = match fields.len() {
            5 => (fields[2], fields[4]),
            6 | 7 => (fields[3], fields[5]),
            _ => ("*", "*"),
        };
        let mut full: Vec<String> = match fields.len() {
            5 => {
                let mut full = vec!["0".to_string()];
                full.extend(fields[..4].iter().map(|f| f.to_string()));
                full.push(five_field_weekdays(fields[4])?);
                full
            }
            6 | 7 => fields.iter().map(|f| f.to_string()).collect(),
            n => return Err(format!("it has {n} fields, not 5")),
        };
        // Fields: seconds minutes hours day-of-month month day-of-week [year].
        let schedules = if restricted(day_of_month) && restricted(day_of_week) {
            let by_day_of_week = {
                let mut f = full.clone();
                f[3] = "*".to_string();
                schedule(&f.join(" "))?
            };
            full[5] = "*".to_string();
            vec![schedule(&full.join(" "))?, by_day_of_week]
        } else {
            vec![schedule(&full.join(" "))?]
        };
        Ok(Cron {
            schedules,
            timezone,
        })
    }

    /// In UTC.
    pub fn parse_utc(expr: &str) -> Result<Cron, String> {
        Cron::parse(expr, Tz::UTC)
    }

    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The times after `from`, in order, as instants (UTC).
    pub fn after(&self, from: &DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let local = from.with_timezone(&self.timezone);
        let mut streams: Vec<_> = self
            .schedules
            .iter()
            .map(|s| s.after(&local).map(|t| t.with_timezone(&Utc)).peekable())
            .collect();
        // The streams merged, a time both have once.
        std::iter::from_fn(move || {
            let next = streams.iter_mut().filter_map(|s| s.peek().copied()).min()?;
            for stream in &mut streams {
                if stream.peek() == Some(&next) {
                    stream.next();
                }
            }
            Some(next)
        })
    }

    /// The times from now on.
    pub fn upcoming(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.after(&Utc::now())
    }
}

/// Whether a day field restricts the days: crontab counts a field starting with `*` (`*`,
/// `*/2`) or `?` as unrestricted.
fn restricted(field: &str) -> bool {
    !(field.starts_with('*') || field.starts_with('?'))
}

fn schedule(full: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(full).map_err(|e| {
        // The cron crate repeats the expression and marks the place with `^` before the reason.
        let text = e.to_string();
        text.lines()
            .map(str::trim)
            .rfind(|line| !line.is_empty() && *line != full && line.chars().any(|c| c != '^'))
            .unwrap_or("a field is not valid")
            .to_string()
    })
}

/// A time zone by its IANA name (`Europe/Berlin`, `UTC`); the error says what is expected and
/// suggests the nearest name.
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        let nearest = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|tz| tz.name())
            .max_by(|a, b| {
                strsim::jaro_winkler(&a.to_lowercase(), &name.to_lowercase()).total_cmp(
                    &strsim::jaro_winkler(&b.to_lowercase(), &name.to_lowercase()),
                )
            })
            .filter(|best| strsim::jaro_winkler(&best.to_lowercase(), &name.to_lowercase()) > 0.85);
        match nearest {
            Some(best) => format!("`{name}` is not an IANA time zone name; did you mean `{best}`?"),
            None => format!("`{name}` is not an IANA time zone name"),
        }
    })
}

/// What a `timezone` key takes.
pub const TIMEZONE_HINT: &str = "write an IANA time zone name, e.g. `Europe/Berlin`, `America/New_York` or `UTC` (the list: `timedatectl list-timezones`)";

/// A schedule due fewer times a year than this is said to be almost never due.
pub const RARE_RUNS_A_YEAR: usize = 12;

/// How many times `cron` is due over the next year, counting at most `cap`.
pub fn runs_in_a_year(cron: &Cron, cap: usize) -> usize {
    let end = Utc::now() + chrono::Duration::days(366);
    cron.upcoming().take_while(|t| *t <= end).take(cap).count()
}

impl Checker<'_> {
    /// A warning at `path` when `cron` (written `expr`) is due fewer than
    /// [`RARE_RUNS_A_YEAR`] times in the next year: a leap day, or day fields that ask for
    /// less than was meant.
    pub fn rare_schedule(&mut self, path: &str, expr: &str, cron: &Cron) {
        let runs = runs_in_a_year(cron, RARE_RUNS_A_YEAR);
        if runs >= RARE_RUNS_A_YEAR {
            return;
        }
        let next = cron.upcoming().next().map_or("never".to_string(), |t| {
            t.with_timezone(&cron.timezone())
                .format("%Y-%m-%d %H:%M %Z")
                .to_string()
        });
        let times = if runs == 1 { "time" } else { "times" };
        self.warning_hint(
            path,
            format!("`{path}: {expr}` is due only {runs} {times} in the next year (next: {next})"),
            "a check this rare says little about the shop: check the day and month fields (as in crontab, when both day-of-month and day-of-week are set, either one matching is enough)",
        );
    }
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
fn gaps(schedule: &Cron, runs: usize, horizon: Duration) -> impl Iterator<Item = Duration> {
    let start = Utc::now();
    let end = chrono::Duration::from_std(horizon)
        .ok()
        .and_then(|h| start.checked_add_signed(h))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
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
pub fn next_gap(schedule: &Cron) -> Option<Duration> {
    gaps(schedule, 2, HORIZON).next()
}

/// The shortest gap between the next 120 runs, if it runs at least twice.
pub fn shortest_gap(schedule: &Cron) -> Option<Duration> {
    gaps(schedule, 120, HORIZON).min()
}

/// The longest gap over the next 400 days (at most 50 000 runs), rounded up to whole seconds;
/// None with fewer than two runs ahead.
pub fn longest_gap(schedule: &Cron) -> Option<Duration> {
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
        let schedule = &Cron::parse_utc(expr).unwrap().schedules[0];
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
        assert!(Cron::parse_utc("0 9 * * 8")
            .unwrap_err()
            .contains("more than 7"));
        assert!(Cron::parse_utc("0 9 * * 5-1").is_err());
        assert_eq!(
            Cron::parse_utc("* * *").unwrap_err(),
            "it has 3 fields, not 5"
        );
    }

    #[test]
    fn gaps_of_a_weekday_schedule() {
        let weekdays = Cron::parse_utc("0 9 * * 1-5").unwrap();
        assert_eq!(shortest_gap(&weekdays), Some(Duration::from_secs(86_400)));
        assert_eq!(
            longest_gap(&weekdays),
            Some(Duration::from_secs(3 * 86_400))
        );
        let every_five = Cron::parse_utc("*/5 * * * *").unwrap();
        assert_eq!(next_gap(&every_five), Some(Duration::from_secs(300)));
        let once = Cron::parse_utc("0 0 0 1 1 * 2020").unwrap();
        assert_eq!(next_gap(&once), None);
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn next_times(cron: &Cron, from: &str, n: usize) -> Vec<String> {
        cron.after(&utc(from))
            .take(n)
            .map(|t| t.to_rfc3339())
            .collect()
    }

    /// crontab(5): "If both fields are restricted (not `*`), the command runs when either
    /// field matches": the 1st and the 15th, and every Friday.
    #[test]
    fn both_day_fields_restricted_means_either_day() {
        let cron = Cron::parse_utc("0 9 1,15 * FRI").unwrap();
        // From 00:00 on Wednesday 1 April 2026.
        assert_eq!(
            next_times(&cron, "2026-04-01T00:00:00Z", 5),
            [
                "2026-04-01T09:00:00+00:00",
                "2026-04-03T09:00:00+00:00",
                "2026-04-10T09:00:00+00:00",
                "2026-04-15T09:00:00+00:00",
                "2026-04-17T09:00:00+00:00",
            ]
        );
        // A day that is both (Friday the 1st of May) comes once.
        let may = next_times(&cron, "2026-04-30T12:00:00Z", 2);
        assert_eq!(
            may,
            ["2026-05-01T09:00:00+00:00", "2026-05-08T09:00:00+00:00"]
        );
        // Feb 30 or Mondays: Mondays (crontab runs it; the cron crate alone never would).
        let feb = Cron::parse_utc("0 9 30 2 1").unwrap();
        assert_eq!(
            next_times(&feb, "2026-02-01T00:00:00Z", 2),
            ["2026-02-02T09:00:00+00:00", "2026-02-09T09:00:00+00:00"]
        );
        // One field restricted: only that one counts.
        let fridays = Cron::parse_utc("0 9 * * FRI").unwrap();
        assert_eq!(
            next_times(&fridays, "2026-04-01T00:00:00Z", 1),
            ["2026-04-03T09:00:00+00:00"]
        );
        // A field starting with `*` counts as unrestricted even with a step, as in Vixie cron:
        // then both must match, the 1st when it is a Sunday, Tuesday, Thursday or Saturday.
        let first_on_even_days = Cron::parse_utc("0 9 1 * */2").unwrap();
        assert_eq!(
            next_times(&first_on_even_days, "2026-04-02T00:00:00Z", 1),
            ["2026-08-01T09:00:00+00:00"]
        );
        // Six fields follow the same rule.
        let six = Cron::parse_utc("0 0 9 1,15 * FRI").unwrap();
        assert_eq!(
            next_times(&six, "2026-04-01T00:00:00Z", 2),
            ["2026-04-01T09:00:00+00:00", "2026-04-03T09:00:00+00:00"]
        );
    }

    /// 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer; the gap over the change
    /// is 23 hours.
    #[test]
    fn a_time_zone_keeps_the_wall_clock_time_over_daylight_saving() {
        let berlin = Cron::parse("0 9 * * *", parse_timezone("Europe/Berlin").unwrap()).unwrap();
        assert_eq!(
            next_times(&berlin, "2026-03-28T00:00:00Z", 3),
            [
                "2026-03-28T08:00:00+00:00",
                "2026-03-29T07:00:00+00:00",
                "2026-03-30T07:00:00+00:00",
            ]
        );
        let new_york =
            Cron::parse("30 17 * * MON-FRI", "America/New_York".parse().unwrap()).unwrap();
        assert_eq!(
            next_times(&new_york, "2026-07-03T00:00:00Z", 2),
            ["2026-07-03T21:30:00+00:00", "2026-07-06T21:30:00+00:00"]
        );
    }

    #[test]
    fn a_time_zone_name_is_checked_and_the_nearest_suggested() {
        assert_eq!(parse_timezone("UTC").unwrap(), Tz::UTC);
        assert_eq!(
            parse_timezone("Europe/Berln").unwrap_err(),
            "`Europe/Berln` is not an IANA time zone name; did you mean `Europe/Berlin`?"
        );
        assert_eq!(
            parse_timezone("CEST+2").unwrap_err(),
            "`CEST+2` is not an IANA time zone name; did you mean `CET`?"
        );
        assert_eq!(
            parse_timezone("9am").unwrap_err(),
            "`9am` is not an IANA time zone name"
        );
    }

    #[test]
    fn runs_in_a_year_counts_rare_schedules() {
        // 29 February: at most once in the next year.
        let leap = Cron::parse_utc("0 9 29 2 *").unwrap();
        assert!(runs_in_a_year(&leap, 100) <= 1);
        let monthly = Cron::parse_utc("0 9 1 * *").unwrap();
        assert!((12..=13).contains(&runs_in_a_year(&monthly, 100)));
    }

    /// A wall-clock time the spring change skips does not happen that day; one the autumn
    /// change repeats happens twice (the cron crate's way, documented in the README).
    #[test]
    fn daylight_saving_skips_and_repeats_local_times() {
        let night = Cron::parse("30 2 * * *", "Europe/Berlin".parse().unwrap()).unwrap();
        assert_eq!(
            next_times(&night, "2026-03-28T00:00:00Z", 2),
            ["2026-03-28T01:30:00+00:00", "2026-03-30T00:30:00+00:00"]
        );
        assert_eq!(
            next_times(&night, "2026-10-25T00:00:00Z", 2),
            ["2026-10-25T00:30:00+00:00", "2026-10-25T01:30:00+00:00"]
        );
    }
}
