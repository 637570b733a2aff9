//! SDMX time periods: the values of a time dimension (`TIME_PERIOD`) and of time-typed
//! components, in the basic forms the SDMX standard defines.
//!
//! | form | examples |
//! |---|---|
//! | Gregorian year, year-month, day | `2017`, `2017-01`, `2017-01-15` |
//! | reporting year, semester, trimester, quarter, month, week, day | `2017-A1`, `2017-S2`, `2017-T3`, `2017-Q4`, `2017-M01`, `2017-W53`, `2017-D366` |
//! | date-time | `2017-01-15T10:30:00`, `2017-01-15T10:30:00.5Z`, `2017-01-15T10:30:00+07:00` |
//! | time range: a start date or date-time, `/`, an ISO 8601 duration | `2017-01-01/P1Y`, `2017-01-01T00:00:00/P1M2DT3H` |
//!
//! Days are checked against their month (29 February only in leap years, `D366` likewise).

/// The subsets of time periods that SDMX data types allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeForm {
    /// Any time period, or a time range (`ObservationalTimePeriod`, the time dimension's
    /// default).
    Observational,
    /// Any time period, not a range (`StandardTimePeriod`).
    Standard,
    /// A Gregorian period or a date-time (`BasicTimePeriod`).
    Basic,
    /// A Gregorian year, year-month or day (`GregorianTimePeriod`).
    Gregorian,
    /// `GregorianYear`: `2017`.
    Year,
    /// `GregorianYearMonth`: `2017-01`.
    YearMonth,
    /// `GregorianDay`: `2017-01-15`.
    Day,
    /// Any reporting period (`ReportingTimePeriod`).
    Reporting,
    /// A reporting period of this kind: `A`, `S`, `T`, `Q`, `M`, `W` or `D`.
    ReportingOf(char),
    /// `DateTime`.
    DateTime,
    /// `TimeRange`.
    Range,
}

impl TimeForm {
    /// The form an SDMX data type name stands for, if it is a time period type.
    pub fn from_data_type(name: &str) -> Option<Self> {
        Some(match name {
            "ObservationalTimePeriod" => Self::Observational,
            "StandardTimePeriod" => Self::Standard,
            "BasicTimePeriod" => Self::Basic,
            "GregorianTimePeriod" => Self::Gregorian,
            "GregorianYear" => Self::Year,
            "GregorianYearMonth" => Self::YearMonth,
            "GregorianDay" => Self::Day,
            "ReportingTimePeriod" => Self::Reporting,
            "ReportingYear" => Self::ReportingOf('A'),
            "ReportingSemester" => Self::ReportingOf('S'),
            "ReportingTrimester" => Self::ReportingOf('T'),
            "ReportingQuarter" => Self::ReportingOf('Q'),
            "ReportingMonth" => Self::ReportingOf('M'),
            "ReportingWeek" => Self::ReportingOf('W'),
            "ReportingDay" => Self::ReportingOf('D'),
            "DateTime" => Self::DateTime,
            "TimeRange" => Self::Range,
            _ => return None,
        })
    }

    /// Whether `value` is a time period of this form.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            Self::Observational => is_standard(value) || is_range(value),
            Self::Standard => is_standard(value),
            Self::Basic => is_gregorian(value) || is_date_time(value),
            Self::Gregorian => is_gregorian(value),
            Self::Year => is_year(value),
            Self::YearMonth => is_year_month(value),
            Self::Day => is_date(value),
            Self::Reporting => reporting_kind(value).is_some(),
            Self::ReportingOf(kind) => reporting_kind(value) == Some(kind),
            Self::DateTime => is_date_time(value),
            Self::Range => is_range(value),
        }
    }

    /// What a value of this form looks like, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            Self::Observational | Self::Standard => {
                "an SDMX time period such as 2017, 2017-Q1, 2017-M01, 2017-01 or 2017-01-15"
            }
            Self::Basic => "a Gregorian period or date-time such as 2017, 2017-01, 2017-01-15",
            Self::Gregorian => "a Gregorian period such as 2017, 2017-01 or 2017-01-15",
            Self::Year => "a year such as 2017",
            Self::YearMonth => "a year and month such as 2017-01",
            Self::Day => "a date such as 2017-01-15",
            Self::Reporting => "a reporting period such as 2017-A1, 2017-Q1 or 2017-M01",
            Self::ReportingOf(_) => "a reporting period of the structure's kind, e.g. 2017-Q1",
            Self::DateTime => "a date-time such as 2017-01-15T10:30:00",
            Self::Range => "a time range such as 2017-01-01/P1Y",
        }
    }
}

/// A Gregorian period or date-time or reporting period.
fn is_standard(value: &str) -> bool {
    is_gregorian(value) || is_date_time(value) || reporting_kind(value).is_some()
}

fn is_gregorian(value: &str) -> bool {
    is_year(value) || is_year_month(value) || is_date(value)
}

/// Exactly `n` ASCII digits, as a number.
fn digits(text: &str, n: usize) -> Option<u32> {
    if text.len() != n || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn year(text: &str) -> Option<u32> {
    digits(text, 4)
}

fn is_year(value: &str) -> bool {
    year(value).is_some()
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn is_year_month(value: &str) -> bool {
    year_month(value).is_some()
}

fn year_month(value: &str) -> Option<(u32, u32)> {
    let (y, m) = value.split_once('-')?;
    let (y, m) = (year(y)?, digits(m, 2)?);
    (1..=12).contains(&m).then_some((y, m))
}

fn is_date(value: &str) -> bool {
    let Some((year_month_part, day)) = value.rsplit_once('-') else {
        return false;
    };
    let (Some((y, m)), Some(d)) = (year_month(year_month_part), digits(day, 2)) else {
        return false;
    };
    d >= 1 && d <= days_in_month(y, m)
}

/// `hh:mm:ss` with optional fraction and time zone.
pub(crate) fn is_time_of_day(value: &str) -> bool {
    let (clock, zone) = split_zone(value);
    if !zone.is_none_or(is_zone) {
        return false;
    }
    let (clock, fraction) = match clock.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (clock, None),
    };
    if fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let mut parts = clock.split(':');
    let (Some(h), Some(m), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    matches!(
        (digits(h, 2), digits(m, 2), digits(s, 2)),
        (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s < 60
    )
}

/// Splits a trailing `Z`, `+hh:mm` or `-hh:mm` off a time of day.
fn split_zone(value: &str) -> (&str, Option<&str>) {
    if let Some(clock) = value.strip_suffix('Z') {
        return (clock, Some("Z"));
    }
    match value
        .len()
        .checked_sub(6)
        .filter(|&at| value.is_char_boundary(at))
    {
        Some(at) if value[at..].starts_with(['+', '-']) => (&value[..at], Some(&value[at..])),
        _ => (value, None),
    }
}

fn is_zone(zone: &str) -> bool {
    if zone == "Z" {
        return true;
    }
    let Some((h, m)) = zone.get(1..).and_then(|rest| rest.split_once(':')) else {
        return false;
    };
    matches!((digits(h, 2), digits(m, 2)), (Some(h), Some(m)) if h <= 14 && m < 60)
}

fn is_date_time(value: &str) -> bool {
    match value.split_once('T') {
        Some((date, time)) => is_date(date) && is_time_of_day(time),
        None => false,
    }
}

/// The kind letter of a reporting period (`2017-Q1` is `Q`), if `value` is one.
fn reporting_kind(value: &str) -> Option<char> {
    let (y, period) = value.split_once('-')?;
    let y = year(y)?;
    let kind = period.chars().next()?;
    let number = period.get(1..)?;
    let valid = match kind {
        'A' => digits(number, 1) == Some(1),
        'S' => digits(number, 1).is_some_and(|n| (1..=2).contains(&n)),
        'T' => digits(number, 1).is_some_and(|n| (1..=3).contains(&n)),
        'Q' => digits(number, 1).is_some_and(|n| (1..=4).contains(&n)),
        'M' => digits(number, 2).is_some_and(|n| (1..=12).contains(&n)),
        'W' => digits(number, 2).is_some_and(|n| (1..=53).contains(&n)),
        'D' => {
            let last = if is_leap(y) { 366 } else { 365 };
            digits(number, 3).is_some_and(|n| (1..=last).contains(&n))
        }
        _ => false,
    };
    valid.then_some(kind)
}

fn is_range(value: &str) -> bool {
    match value.split_once('/') {
        Some((start, duration)) => (is_date(start) || is_date_time(start)) && is_duration(duration),
        None => false,
    }
}

/// An ISO 8601 duration: `P` then years, months, weeks, days, and after `T` hours, minutes and
/// seconds (the last may have a fraction), each optional but at least one present.
pub(crate) fn is_duration(value: &str) -> bool {
    let Some(rest) = value.strip_prefix('P') else {
        return false;
    };
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    let date_ok = duration_parts(date, &['Y', 'M', 'W', 'D'], false);
    let time_ok =
        time.is_none_or(|time| !time.is_empty() && duration_parts(time, &['H', 'M', 'S'], true));
    date_ok && time_ok && !(date.is_empty() && time.is_none())
}

/// Numbers each followed by one of `units`, in that order, each at most once; a fraction is
/// allowed only on the last unit when `fraction_last`.
fn duration_parts(text: &str, units: &[char], fraction_last: bool) -> bool {
    let mut rest = text;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let Some(at) = rest.find(|c: char| !c.is_ascii_digit() && c != '.') else {
            return false;
        };
        let (number, tail) = rest.split_at(at);
        let Some(unit) = tail.chars().next() else {
            return false;
        };
        let Some(index) = units.iter().skip(next_unit).position(|&u| u == unit) else {
            return false;
        };
        let index = index.saturating_add(next_unit);
        let is_last = index.saturating_add(1) == units.len();
        let number_ok = match number.split_once('.') {
            None => !number.is_empty(),
            Some((whole, fraction)) => {
                fraction_last
                    && is_last
                    && !whole.is_empty()
                    && !fraction.is_empty()
                    && !fraction.contains('.')
            }
        };
        if !number_ok {
            return false;
        }
        next_unit = index.saturating_add(1);
        rest = &tail[unit.len_utf8()..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: TimeForm = TimeForm::Observational;

    #[test]
    fn gregorian_periods() {
        for ok in [
            "2017",
            "0001",
            "2017-01",
            "2017-12",
            "2017-01-15",
            "2016-02-29",
            "2000-02-29",
        ] {
            assert!(ALL.accepts(ok), "{ok}");
            assert!(TimeForm::Gregorian.accepts(ok), "{ok}");
        }
        for bad in [
            "17",
            "20171",
            "2017-1",
            "2017-13",
            "2017-00",
            "2017-02-29",
            "1900-02-29",
            "2017-04-31",
            "2017-01-00",
            "2017-01-1",
            "２０１７",
            "2017-",
            "-2017",
            "",
        ] {
            assert!(!ALL.accepts(bad), "{bad}");
        }
        assert!(TimeForm::Year.accepts("2017") && !TimeForm::Year.accepts("2017-01"));
        assert!(TimeForm::YearMonth.accepts("2017-01") && !TimeForm::YearMonth.accepts("2017"));
        assert!(TimeForm::Day.accepts("2017-01-15") && !TimeForm::Day.accepts("2017-01"));
    }

    #[test]
    fn reporting_periods() {
        for ok in [
            "2017-A1",
            "2017-S1",
            "2017-S2",
            "2017-T3",
            "2017-Q1",
            "2017-Q4",
            "2017-M01",
            "2017-M12",
            "2017-W01",
            "2017-W53",
            "2017-D001",
            "2017-D365",
            "2016-D366",
        ] {
            assert!(ALL.accepts(ok), "{ok}");
            assert!(TimeForm::Reporting.accepts(ok), "{ok}");
        }
        for bad in [
            "2017-A2",
            "2017-A",
            "2017-S3",
            "2017-T4",
            "2017-Q0",
            "2017-Q5",
            "2017-Q01",
            "2017-M1",
            "2017-M13",
            "2017-W00",
            "2017-W54",
            "2017-D000",
            "2017-D366",
            "2017-D1",
            "2017-X1",
            "2017-q1",
        ] {
            assert!(!ALL.accepts(bad), "{bad}");
        }
        assert!(TimeForm::ReportingOf('Q').accepts("2017-Q2"));
        assert!(!TimeForm::ReportingOf('Q').accepts("2017-M02"));
        assert!(!TimeForm::Gregorian.accepts("2017-Q1"));
    }

    #[test]
    fn date_times() {
        for ok in [
            "2017-01-15T10:30:00",
            "2017-01-15T00:00:00Z",
            "2017-01-15T23:59:59.125",
            "2017-01-15T10:30:00+07:00",
            "2017-01-15T10:30:00-05:30",
        ] {
            assert!(ALL.accepts(ok), "{ok}");
            assert!(TimeForm::DateTime.accepts(ok), "{ok}");
        }
        for bad in [
            "2017-01-15T10:30",
            "2017-01-15T24:00:00",
            "2017-01-15T10:60:00",
            "2017-01-15 10:30:00",
            "2017-01-15T10:30:00.",
            "2017-01-15T10:30:00+7:00",
            "2017-02-30T10:30:00",
        ] {
            assert!(!ALL.accepts(bad), "{bad}");
        }
    }

    #[test]
    fn time_ranges() {
        for ok in [
            "2017-01-01/P1Y",
            "2017-01-01/P1M",
            "2017-01-01/P2W",
            "2017-01-01/P1Y2M3D",
            "2017-01-01T00:00:00/PT12H",
            "2017-01-01T00:00:00Z/P1DT1H30M15.5S",
        ] {
            assert!(ALL.accepts(ok), "{ok}");
            assert!(TimeForm::Range.accepts(ok), "{ok}");
        }
        for bad in [
            "2017-01-01/P",
            "2017-01-01/PT",
            "2017-01-01/1Y",
            "2017-01-01/P1D1Y",
            "2017-01-01/P1.5Y",
            "2017/P1Y",
            "2017-01-01/",
            "2017-01-01/P1YT",
            "2017-01-01/P1Y/P1Y",
        ] {
            assert!(!ALL.accepts(bad), "{bad}");
        }
        assert!(!TimeForm::Standard.accepts("2017-01-01/P1Y"));
    }
}
