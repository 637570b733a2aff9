//! How one value of a comparison is written: with thousands separators for people, plain for
//! CSV, followed by its OBS_STATUS flag; `c` when confidential, `-` when not reported.

use datapact_protocol::compare::Cell;

/// What a confidential cell shows.
pub const CONFIDENTIAL: &str = "c";
/// What a cell that was not reported shows.
pub const NOT_REPORTED: &str = "-";

/// `value` as people read it: `1,965,000`, `0.25`, `-1,234.5`.
pub fn thousands(value: f64) -> String {
    let text = plain(value);
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

/// `value` without separators, whole numbers without a fraction.
pub fn plain(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        value.to_string()
    }
}

/// The text of a cell: the value and its flag (`1,965,000 E`), `c`, or `-` (with a flag when
/// one was given, `- M`).
pub fn text(cell: &Cell, separators: bool) -> String {
    let base = if cell.confidential {
        CONFIDENTIAL.to_owned()
    } else {
        match cell.value {
            Some(v) if separators => thousands(v),
            Some(v) => plain(v),
            None => NOT_REPORTED.to_owned(),
        }
    };
    match &cell.obs_status {
        Some(flag) => format!("{base} {flag}"),
        None => base,
    }
}

/// A spread as a percentage, `28.8 %`.
pub fn percent(spread: f64) -> String {
    format!("{:.1} %", spread * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_people_write_them() {
        assert_eq!(thousands(1_965_000.0), "1,965,000");
        assert_eq!(thousands(-1234.5), "-1,234.5");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(0.25), "0.25");
        let estimated = Cell {
            value: Some(1_965_000.0),
            obs_status: Some("E".into()),
            confidential: false,
        };
        assert_eq!(text(&estimated, true), "1,965,000 E");
        assert_eq!(text(&estimated, false), "1965000 E");
        let secret = Cell {
            confidential: true,
            ..Cell::default()
        };
        assert_eq!(text(&secret, true), "c");
        assert_eq!(text(&Cell::default(), true), "-");
        assert_eq!(percent(0.2876), "28.8 %");
        assert_eq!(percent(0.186), "18.6 %");
    }
}
