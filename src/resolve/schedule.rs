//! The syntax of a deployment's schedules, checked as Prefect 3.9 checks it
//! when the deployment is created (its vendored `croniter`, `dateutil`'s
//! `rrulestr`, the IANA names of `zoneinfo`), so a bad schedule is an error
//! at the line rather than at `prefect deploy` or `opflow serve`.
//! Every problem is a reason and the byte range of the text it is about.

/// Why a text is refused, and the byte range (start, end) it is about.
pub type Problem = (String, (usize, usize));

/// Every IANA time zone name Python's `zoneinfo` knows (tzdata 2026),
/// which is the list Prefect checks `timezone` against.
const TIMEZONES: &str = include_str!("timezones.txt");

/// The IANA time zone names, in order.
pub fn timezones() -> impl Iterator<Item = &'static str> {
    TIMEZONES.lines()
}

/// Whether `name` is an IANA time zone name.
pub fn is_timezone(name: &str) -> bool {
    timezones().any(|tz| tz == name)
}

/// The `@` names croniter reads as whole expressions.
const CRON_MACROS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    Field {
        name: "day of week",
        min: 0,
        max: 7,
        names: &DAYS,
    },
];

/// Check a cron expression: five fields (minute, hour, day of month, month,
/// day of week), each `*`, `?`, a value, a range `a-b` (which may wrap, as
/// croniter allows: `22-2`), a step `/n` after `*` or either, or a list of
/// these; months and days also by their three-letter names; `L` (the
/// month's last day) in the day of month; `d#n` (the n-th weekday d) in the
/// day of week. Or one of the `@` names.
pub fn check_cron(text: &str) -> Result<(), Problem> {
    let trimmed = text.trim();
    if trimmed.starts_with('@') {
        let start = text.len() - text.trim_start().len();
        return if CRON_MACROS.contains(&trimmed.to_ascii_lowercase().as_str()) {
            Ok(())
        } else {
            Err((
                format!("`{trimmed}` is not one of {}", CRON_MACROS.join(", ")),
                (start, start + trimmed.len()),
            ))
        };
    }
    let fields: Vec<(usize, &str)> = words(text);
    if fields.len() != 5 {
        let range = match (fields.first(), fields.last()) {
            (Some(&(start, _)), Some(&(last, word))) => (start, last + word.len()),
            _ => (0, text.len()),
        };
        return Err((
            format!(
                "{} field{}, a cron expression has five: minute, hour, day of month, month, day of week",
                fields.len(),
                if fields.len() == 1 { "" } else { "s" }
            ),
            range,
        ));
    }
    for ((offset, word), field) in fields.into_iter().zip(&FIELDS) {
        let mut at = offset;
        for item in word.split(',') {
            check_cron_item(item, field).map_err(|reason| (reason, (at, at + item.len())))?;
            at += item.len() + 1;
        }
    }
    Ok(())
}

/// The whitespace-separated words of `text`, with their byte offsets.
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                words.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, &text[s..]));
    }
    words
}

fn check_cron_item(item: &str, field: &Field) -> Result<(), String> {
    let bad = |why: &str| Err(format!("`{item}` in the {} field: {why}", field.name));
    if item.is_empty() {
        return bad("an empty list item");
    }
    if field.name == "day of month" && item.eq_ignore_ascii_case("l") {
        return Ok(());
    }
    if field.name == "day of week"
        && let Some((day, nth)) = item.split_once('#')
    {
        return match (value(day, field), number(nth)) {
            (Some(_), Ok(1..=5)) => Ok(()),
            (None, _) => bad(&expected(field)),
            _ => bad("the week after `#` is 1 to 5"),
        };
    }
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    if let Some(step) = step {
        match number(step) {
            Ok(n) if n >= 1 => {}
            _ => return bad("the step after `/` is a whole number from 1"),
        }
    }
    if range == "*" {
        return Ok(());
    }
    if range == "?" {
        // Croniter takes `?` for "any" in the two day fields only.
        return if field.name.starts_with("day of") {
            Ok(())
        } else {
            bad("`?` is for the day of month and the day of week only")
        };
    }
    let (first, last) = match range.split_once('-') {
        Some((first, last)) => (first, Some(last)),
        None => (range, None),
    };
    if value(first, field).is_none() || last.is_some_and(|last| value(last, field).is_none()) {
        return bad(&expected(field));
    }
    Ok(())
}

/// What a field takes, for a message.
fn expected(field: &Field) -> String {
    let names = match field.names.first().zip(field.names.last()) {
        Some((first, last)) => format!(", or `{first}` to `{last}`"),
        None => String::new(),
    };
    format!("it takes {} to {}{names}", field.min, field.max)
}

/// Digits only, as croniter reads a number (Rust's parse would take `+5`).
fn number(text: &str) -> Result<u32, ()> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    text.parse::<u32>().map_err(drop)
}

/// A field's value: a number in its range, or one of its names.
fn value(text: &str, field: &Field) -> Option<u32> {
    if let Ok(n) = number(text) {
        return (field.min..=field.max).contains(&n).then_some(n);
    }
    let lower = text.to_ascii_lowercase();
    let index = field.names.iter().position(|name| *name == lower)?;
    u32::try_from(index)
        .ok()
        .map(|i| i + u32::from(field.min == 1))
}

const FREQUENCIES: [&str; 7] = [
    "YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY",
];
const WEEKDAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const RRULE_PARTS: [&str; 15] = [
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "WKST",
    "BYSETPOS",
    "BYMONTH",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYDAY",
    "BYWEEKDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
];

/// Prefect's longest rrule.
const MAX_RRULE: usize = 6500;

/// Check a recurrence rule as `dateutil.rrule.rrulestr` reads it: one rule
/// (`FREQ=WEEKLY;BYDAY=MO`, or the same after `RRULE:`), optionally after a
/// `DTSTART:` line; parts are case-insensitive; `FREQ` is required and
/// `COUNT` and `UNTIL` exclude each other (RFC 5545).
pub fn check_rrule(text: &str) -> Result<(), Problem> {
    if text.len() > MAX_RRULE {
        return Err((
            format!(
                "{} characters; Prefect takes at most {MAX_RRULE}",
                text.len()
            ),
            (0, text.len()),
        ));
    }
    let mut offset = 0;
    let mut rule = None;
    for line in text.split('\n') {
        let start = offset;
        offset += line.len() + 1;
        let trimmed = line.trim_end_matches('\r');
        if trimmed.trim().is_empty() {
            continue;
        }
        let upper = trimmed.to_ascii_uppercase();
        if let Some(value) = upper.strip_prefix("DTSTART") {
            let stamp = value.rsplit(':').next().unwrap_or("");
            if !(value.starts_with(':') || value.starts_with(';')) || !is_rrule_time(stamp) {
                return Err((
                    "a start is `DTSTART:YYYYMMDDTHHMMSS`".to_owned(),
                    (start, start + trimmed.len()),
                ));
            }
            continue;
        }
        if rule.is_some() {
            return Err((
                "one rule per schedule: give each rule a schedule of its own".to_owned(),
                (start, start + trimmed.len()),
            ));
        }
        let skip = if upper.starts_with("RRULE:") { 6 } else { 0 };
        rule = Some((start + skip, &trimmed[skip..]));
    }
    let Some((start, rule)) = rule else {
        return Err((
            "no rule: write one such as `FREQ=DAILY`".to_owned(),
            (0, text.len()),
        ));
    };
    check_rule(rule, start)
}

fn check_rule(rule: &str, start: usize) -> Result<(), Problem> {
    let mut seen: Vec<String> = Vec::new();
    let mut at = start;
    for part in rule.split(';') {
        let range = (at, at + part.len());
        at += part.len() + 1;
        let Some((key, value)) = part.split_once('=') else {
            return Err((format!("`{part}` is not `NAME=VALUE`"), range));
        };
        let key = key.trim().to_ascii_uppercase();
        let value = value.trim().to_ascii_uppercase();
        if !RRULE_PARTS.contains(&key.as_str()) {
            let help = crate::suggest::did_you_mean(&key, RRULE_PARTS.iter().copied())
                .map_or_else(String::new, |close| format!(" (did you mean `{close}`?)"));
            return Err((format!("`{key}` is not a part of a rule{help}"), range));
        }
        if seen.contains(&key) {
            return Err((format!("`{key}` is given twice"), range));
        }
        check_rule_part(&key, &value).map_err(|reason| (format!("`{part}`: {reason}"), range))?;
        seen.push(key);
    }
    let whole = (start, start + rule.len());
    if !seen.iter().any(|k| k == "FREQ") {
        return Err((
            "a rule needs `FREQ` (`YEARLY`, `MONTHLY`, `WEEKLY`, `DAILY`, `HOURLY`, `MINUTELY` or `SECONDLY`)".to_owned(),
            whole,
        ));
    }
    if seen.iter().any(|k| k == "COUNT") && seen.iter().any(|k| k == "UNTIL") {
        return Err(("`COUNT` and `UNTIL` exclude each other".to_owned(), whole));
    }
    Ok(())
}

fn check_rule_part(key: &str, value: &str) -> Result<(), String> {
    let numbers = |min: i64, max: i64, signed: bool| {
        let ok = !value.is_empty()
            && value.split(',').all(|n| {
                n.parse::<i64>().is_ok_and(|n| {
                    (min..=max).contains(&n) || (signed && (min..=max).contains(&-n))
                })
            });
        if ok {
            Ok(())
        } else if signed {
            Err(format!("a list of {min} to {max}, or -{max} to -{min}"))
        } else {
            Err(format!("a list of {min} to {max}"))
        }
    };
    match key {
        "FREQ" if FREQUENCIES.contains(&value) => Ok(()),
        "FREQ" => Err(format!("one of {}", FREQUENCIES.join(", "))),
        "INTERVAL" | "COUNT" => match value.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(()),
            _ => Err("a whole number from 1".to_owned()),
        },
        "UNTIL" if is_rrule_time(value) => Ok(()),
        "UNTIL" => Err("a date `YYYYMMDD` or a time `YYYYMMDDTHHMMSS[Z]`".to_owned()),
        "WKST" if WEEKDAYS.contains(&value) => Ok(()),
        "WKST" => Err(format!("one of {}", WEEKDAYS.join(", "))),
        "BYDAY" | "BYWEEKDAY" => {
            let ok = value.split(',').all(|day| {
                let name = &day[day.len().saturating_sub(2)..];
                let nth = day[..day.len() - name.len()].trim_start_matches(['+', '-']);
                WEEKDAYS.contains(&name)
                    && (nth.is_empty() || nth.parse::<u32>().is_ok_and(|n| (1..=53).contains(&n)))
            });
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "a list of {}, each optionally after a week number (`1MO`, `-1FR`)",
                    WEEKDAYS.join(", ")
                ))
            }
        }
        "BYMONTH" => numbers(1, 12, false),
        "BYMONTHDAY" => numbers(1, 31, true),
        "BYYEARDAY" | "BYSETPOS" => numbers(1, 366, true),
        "BYWEEKNO" => numbers(1, 53, true),
        "BYHOUR" => numbers(0, 23, false),
        "BYMINUTE" => numbers(0, 59, false),
        // BYSECOND: 60 is a leap second (RFC 5545).
        _ => numbers(0, 60, false),
    }
}

/// `YYYYMMDD` or `YYYYMMDDTHHMMSS`, optionally with `Z`.
fn is_rrule_time(text: &str) -> bool {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    digits(date, 8) && time.is_none_or(|t| digits(t, 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each case was checked against Prefect 3.9.1's croniter (`is_valid`).
    #[test]
    fn cron() {
        for good in [
            "0 6 * * 1-5",
            "22-2 * * * *",
            "* * * * 7",
            "* * L * *",
            "* * * * 5#2",
            "* * * * mon-fri",
            "* * * JAN-mar *",
            "@daily",
            "@Hourly",
            "1,2,3 * * * *",
            "0-59/15 * * * *",
            "5/15 * * * *",
            "* * ? * *",
            "* * * * sun#1",
            "* * * 1-12/2 *",
            "  0 0 * * *  ",
            "0 0 * * ?",
            "0 0 ? * ?",
            "0 0 01 * *",
        ] {
            assert_eq!(check_cron(good), Ok(()), "{good}");
        }
        for (bad, range) in [
            ("0 0 0 * *", (4, 5)),
            ("0 0 * * 8", (8, 9)),
            ("*/0 * * * *", (0, 3)),
            ("* * * *", (0, 7)),
            ("* * * * * *", (0, 11)),
            ("60 * * * *", (0, 2)),
            ("MON * * * *", (0, 3)),
            ("* * 1W * *", (4, 6)),
            ("*/5-10 * * * *", (0, 6)),
            ("1,,2 * * * *", (2, 2)),
            ("@reboot", (0, 7)),
            ("* * * * 5#6", (8, 11)),
            // Prefect 3.9.1's `validate_cron_string` refuses these too: a
            // sign is not a digit, and `?` is for the day fields only.
            ("+5 * * * *", (0, 2)),
            ("0 +6 * * *", (2, 4)),
            ("*/+2 * * * *", (0, 4)),
            ("* * * * 1#+2", (8, 12)),
            ("0 0 1-+5 * *", (4, 8)),
            ("0 0 ? ? ?", (6, 7)),
            ("? * * * *", (0, 1)),
        ] {
            let problem = check_cron(bad).expect_err(bad);
            assert_eq!(problem.1, range, "{bad}: {}", problem.0);
        }
    }

    #[test]
    fn cron_messages() {
        assert_eq!(
            check_cron("0 24 * * *").unwrap_err().0,
            "`24` in the hour field: it takes 0 to 23"
        );
        assert!(check_cron("* * * * *").is_ok());
        assert!(
            check_cron("0 0 * 13 *")
                .unwrap_err()
                .0
                .contains("`jan` to `dec`")
        );
    }

    // The good cases and the first, second, third, seventh and eighth bad
    // ones were checked against dateutil's `rrulestr`; it takes the others,
    // which RFC 5545 refuses and which would never start a run, or loop.
    #[test]
    fn rrule() {
        for good in [
            "FREQ=WEEKLY;BYDAY=MO",
            "RRULE:FREQ=DAILY;INTERVAL=2",
            "freq=monthly;bymonthday=-1",
            "DTSTART:20260101T090000\nRRULE:FREQ=HOURLY;COUNT=3",
            "FREQ=YEARLY;BYMONTH=1,7;BYDAY=1MO,-1FR;UNTIL=20300101",
            "FREQ=MINUTELY;BYSECOND=0,30;WKST=SU",
        ] {
            assert_eq!(check_rrule(good), Ok(()), "{good}");
        }
        for (bad, range) in [
            ("BYDAY=MO", (0, 8)),
            ("FREQ=FORTNIGHTLY", (0, 16)),
            ("FREQ=DAILY;BYDAYS=MO", (11, 20)),
            ("FREQ=DAILY;COUNT=2;UNTIL=20300101", (0, 33)),
            ("FREQ=DAILY;INTERVAL=0", (11, 21)),
            ("FREQ=DAILY;FREQ=WEEKLY", (11, 22)),
            ("FREQ=WEEKLY;BYDAY=XX", (12, 20)),
            ("FREQ=DAILY;BYHOUR", (11, 17)),
            ("RRULE:FREQ=DAILY;BYMONTHDAY=32", (17, 30)),
            ("DTSTART:2026\nFREQ=DAILY", (0, 12)),
            ("", (0, 0)),
        ] {
            let problem = check_rrule(bad).expect_err(bad);
            assert_eq!(problem.1, range, "{bad}: {}", problem.0);
        }
        assert!(
            check_rrule("FREQ=DAILY;BYDAYS=MO")
                .unwrap_err()
                .0
                .contains("did you mean `BYDAY`?")
        );
    }

    #[test]
    fn timezones() {
        assert!(is_timezone("Europe/Berlin"));
        assert!(is_timezone("UTC"));
        assert!(!is_timezone("Europe/Berln"));
        assert!(!is_timezone("localtime"));
    }
}
