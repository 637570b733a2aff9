//! SDMX data types of uncoded components, and whether a value from SDMX-CSV is of its type.

use super::time_period::{self, TimeForm};

/// The data type of an uncoded component (SDMX `textType` / `dataType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataType {
    /// Any text (`String`), and the types whose values are not checked here (`XHTML`,
    /// `GeospatialInformation`, references, ...).
    String,
    /// Letters only.
    Alpha,
    /// Letters and digits only.
    AlphaNumeric,
    /// Digits only (`Numeric`).
    Numeric,
    /// A whole number of any size (`BigInteger`, `Count`).
    BigInteger,
    /// A whole number between these bounds (`Integer`, `Long`, `Short`).
    Integer {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// A decimal number without exponent (`Decimal`).
    Decimal,
    /// A floating-point number (`Float`, `Double`, the value-range types): exponent allowed,
    /// and `INF`, `-INF`, `NaN`.
    Float,
    /// `true`, `false`, `1` or `0`.
    Boolean,
    /// A time period of this form.
    Time(TimeForm),
    /// `--MM`.
    Month,
    /// `--MM-DD`.
    MonthDay,
    /// `---DD`.
    Day,
    /// `hh:mm:ss`.
    TimeOfDay,
    /// An ISO 8601 duration such as `P1Y`.
    Duration,
    /// A URI: non-empty, no white space.
    Uri,
}

impl DataType {
    /// The data type an SDMX type name stands for; names this module does not check are
    /// [`DataType::String`].
    pub fn from_name(name: &str) -> Self {
        if let Some(form) = TimeForm::from_data_type(name) {
            return Self::Time(form);
        }
        match name {
            "Alpha" => Self::Alpha,
            "AlphaNumeric" => Self::AlphaNumeric,
            "Numeric" => Self::Numeric,
            "BigInteger" | "Count" => Self::BigInteger,
            "Integer" => Self::Integer {
                min: i32::MIN.into(),
                max: i32::MAX.into(),
            },
            "Long" => Self::Integer {
                min: i64::MIN,
                max: i64::MAX,
            },
            "Short" => Self::Integer {
                min: i16::MIN.into(),
                max: i16::MAX.into(),
            },
            "Decimal" => Self::Decimal,
            "Float" | "Double" | "InclusiveValueRange" | "ExclusiveValueRange" | "Incremental" => {
                Self::Float
            }
            "Boolean" => Self::Boolean,
            "Month" => Self::Month,
            "MonthDay" => Self::MonthDay,
            "Day" => Self::Day,
            "Time" => Self::TimeOfDay,
            "Duration" => Self::Duration,
            "URI" => Self::Uri,
            _ => Self::String,
        }
    }

    /// Whether `value` (not empty) is of this type.
    pub fn accepts(&self, value: &str) -> bool {
        match self {
            Self::String => true,
            Self::Alpha => value.chars().all(char::is_alphabetic),
            Self::AlphaNumeric => value.chars().all(char::is_alphanumeric),
            Self::Numeric => value.bytes().all(|b| b.is_ascii_digit()),
            Self::BigInteger => is_integer(value),
            Self::Integer { min, max } => {
                is_integer(value)
                    && value
                        .parse::<i64>()
                        .is_ok_and(|n| (*min..=*max).contains(&n))
            }
            Self::Decimal => is_decimal(value),
            Self::Float => is_float(value),
            Self::Boolean => matches!(value, "true" | "false" | "1" | "0"),
            Self::Time(form) => form.accepts(value),
            Self::Month => month_day(value, false),
            Self::MonthDay => month_day(value, true),
            Self::Day => value
                .strip_prefix("---")
                .and_then(two_digits)
                .is_some_and(|d| (1..=31).contains(&d)),
            Self::TimeOfDay => time_period::is_time_of_day(value),
            Self::Duration => time_period::is_duration(value),
            Self::Uri => !value.is_empty() && !value.chars().any(char::is_whitespace),
        }
    }

    /// What a value of this type looks like, for error messages.
    pub fn expected(&self) -> &'static str {
        match self {
            Self::String => "text",
            Self::Alpha => "letters only",
            Self::AlphaNumeric => "letters and digits only",
            Self::Numeric => "digits only",
            Self::BigInteger => "a whole number",
            Self::Integer { .. } => "a whole number in range",
            Self::Decimal => "a decimal number such as 12.5",
            Self::Float => "a number such as 12.5 or 1.2E3",
            Self::Boolean => "true or false",
            Self::Time(form) => form.expected(),
            Self::Month => "a month such as --01",
            Self::MonthDay => "a month and day such as --01-15",
            Self::Day => "a day such as ---15",
            Self::TimeOfDay => "a time of day such as 10:30:00",
            Self::Duration => "a duration such as P1Y",
            Self::Uri => "a URI",
        }
    }
}

fn two_digits(text: &str) -> Option<u32> {
    (text.len() == 2 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn month_day(value: &str, with_day: bool) -> bool {
    let Some(rest) = value.strip_prefix("--") else {
        return false;
    };
    let (month, day) = match rest.split_once('-') {
        Some((month, day)) if with_day => (month, Some(day)),
        None if !with_day => (rest, None),
        _ => return false,
    };
    let month_ok = two_digits(month).is_some_and(|m| (1..=12).contains(&m));
    let day_ok = day.is_none_or(|d| two_digits(d).is_some_and(|d| (1..=31).contains(&d)));
    month_ok && day_ok
}

/// Optional sign, then one or more digits.
fn is_integer(value: &str) -> bool {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Optional sign, digits with at most one decimal point, at least one digit.
fn is_decimal(value: &str) -> bool {
    let body = value.strip_prefix(['+', '-']).unwrap_or(value);
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !(whole.is_empty() && fraction.is_empty()) && all_digits(whole) && all_digits(fraction)
}

/// A decimal with an optional exponent, or `INF`, `-INF`, `+INF`, `NaN`.
fn is_float(value: &str) -> bool {
    if matches!(value, "INF" | "-INF" | "+INF" | "NaN") {
        return true;
    }
    match value.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => is_decimal(mantissa) && is_integer(exponent),
        None => is_decimal(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, ok: &[&str], bad: &[&str]) {
        let data_type = DataType::from_name(name);
        for value in ok {
            assert!(data_type.accepts(value), "{name} {value}");
        }
        for value in bad {
            assert!(!data_type.accepts(value), "{name} {value}");
        }
    }

    #[test]
    fn numbers() {
        check(
            "Integer",
            &["0", "-12", "+7", "2147483647"],
            &["1.5", "", "2147483648", "1e3", "x"],
        );
        check("Short", &["32767"], &["32768"]);
        check("Long", &["9223372036854775807"], &["9223372036854775808"]);
        check("BigInteger", &["123456789012345678901234567890"], &["1.0"]);
        check("Count", &["3"], &["three"]);
        check(
            "Decimal",
            &["1", "1.5", "-.5", "5.", "+0.25"],
            &["1e3", ".", "", "1.2.3", "NaN"],
        );
        check(
            "Double",
            &["1.5", "1.2E3", "-4e-2", "INF", "-INF", "NaN"],
            &["1,5", "E3", "inf"],
        );
        check("Numeric", &["0123"], &["-1", "1.0"]);
    }

    #[test]
    fn text_types() {
        check("String", &["anything, at all"], &[]);
        check("XHTML", &["<p>ok</p>"], &[]);
        check("Alpha", &["abcÉ"], &["ab1"]);
        check("AlphaNumeric", &["ab1"], &["ab-1"]);
        check("Boolean", &["true", "false", "1", "0"], &["yes", "TRUE"]);
        check("URI", &["https://example.org/x"], &["has space"]);
    }

    #[test]
    fn time_types() {
        check("Month", &["--01", "--12"], &["--13", "-01", "01"]);
        check("MonthDay", &["--01-15"], &["--01", "--02-32"]);
        check("Day", &["---15"], &["---32", "--15"]);
        check("Time", &["10:30:00", "23:59:59Z"], &["10:30"]);
        check("Duration", &["P1Y", "PT1H", "P1W"], &["P", "1Y"]);
        check("GregorianYear", &["2017"], &["2017-01"]);
        check("ReportingQuarter", &["2017-Q3"], &["2017-M03"]);
        check(
            "ObservationalTimePeriod",
            &["2017-01-01/P1Y", "2017-Q1"],
            &["2017-Q5"],
        );
    }
}
