//! `compare --chart FILE.svg`: the comparison as a standalone SVG that a browser opens and a
//! report can take in (docs/design.md section 11). Grouped bars per key, one bar per column
//! ([`bars`]); a line per row when the columns are time periods ([`lines`]). One colour per
//! member with a legend naming each member code, the structure's name as the title, the unit
//! on the value axis; confidential cells drawn as a crossed, outlined box marked `c`, OBS_STATUS
//! flags written over their bar or point.
//!
//! Drawn with plotters' SVG backend alone: text is written as `<text>` elements for the browser
//! to set, so no font is needed here.

mod bars;
mod lines;

use datapact_protocol::compare::{Comparison, Row};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A chart with numbers on both axes: keys (or periods) placed at whole numbers, values.
type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Colours of the members (or columns), in order; beyond them they repeat. Chosen to stay
/// apart from one another and from the black text (the Tableau 10 colours, then darker ones).
pub const PALETTE: [RGBColor; 14] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 63, 92),
    RGBColor(122, 81, 149),
    RGBColor(188, 80, 144),
    RGBColor(255, 99, 97),
];
/// Height of the drawing, pixels.
const HEIGHT: u32 = 640;
/// Narrowest and widest drawing, pixels.
const WIDTH: (u32, u32) = (900, 8000);
/// Font family of every text: the browser's sans-serif.
const FONT: &str = "sans-serif";
/// Longest key label, in characters, before it is cut short.
const MAX_LABEL_CHARS: usize = 40;
/// Height of a confidential marker, as a share of the value axis.
const CONFIDENTIAL_HEIGHT: f64 = 0.04;
/// Pixels per legend entry, down and across (one column of entries is this wide).
const LEGEND_LINE: i32 = 20;
const LEGEND_COLUMN: u32 = 110;
/// Where the legend starts from the top of the drawing.
const LEGEND_TOP: i32 = 70;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChartError {
    /// plotters failed.
    #[error("{0}")]
    Draw(String),
    /// Nothing to draw.
    #[error("there are no observations to draw")]
    Empty,
}

/// Turns any plotters error into a [`ChartError`].
fn drawn<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, ChartError> {
    result.map_err(|e| ChartError::Draw(e.to_string()))
}

/// The colour of member (or column) number `n`.
pub fn colour(n: usize) -> RGBColor {
    PALETTE[n % PALETTE.len()]
}

/// The SVG document of `c`.
pub fn svg(c: &Comparison) -> Result<String, ChartError> {
    if c.rows.is_empty() {
        return Err(ChartError::Empty);
    }
    let mut out = String::new();
    if c.time_columns {
        lines::draw(c, &mut out)?;
    } else {
        bars::draw(c, &mut out)?;
    }
    Ok(out)
}

/// The label of a row on the key axis: its codes other than `skip`, `THA / MMR / _T / 2017`.
fn row_label(c: &Comparison, row: &Row, skip: Option<&str>) -> String {
    let label = c
        .row_dimensions
        .iter()
        .filter(|d| Some(d.as_str()) != skip)
        .filter_map(|d| row.key.get(d).cloned())
        .collect::<Vec<_>>()
        .join(" / ");
    let mut chars = label.chars();
    let mut cut: String = chars.by_ref().take(MAX_LABEL_CHARS).collect();
    if chars.next().is_some() {
        cut.push('…');
    }
    cut
}

/// The top of the value axis: a tenth above the largest comparable value.
fn value_top(c: &Comparison) -> f64 {
    let max = c
        .rows
        .iter()
        .flat_map(|r| r.values.0.iter().filter_map(|(_, cell)| cell.comparable()))
        .fold(0.0, f64::max);
    if max > 0.0 { max * 1.1 } else { 1.0 }
}

/// The bottom of the value axis: 0, or below the smallest value when some are negative.
fn value_bottom(c: &Comparison) -> f64 {
    let min = c
        .rows
        .iter()
        .flat_map(|r| r.values.0.iter().filter_map(|(_, cell)| cell.comparable()))
        .fold(0.0, f64::min);
    if min < 0.0 { min * 1.1 } else { 0.0 }
}

/// The value axis's description: the unit, or "value".
fn axis_description(c: &Comparison) -> String {
    c.unit.clone().unwrap_or_else(|| "value".to_owned())
}

/// Numbers on the value axis, with thousands separators.
fn axis_number(v: &f64) -> String {
    let rounded = (v * 100.0).round() / 100.0;
    crate::commands::compare::cells::thousands(rounded)
}

/// The height of the area under the plot that holds key labels written downwards.
fn label_area(labels: &[String]) -> u32 {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    u32::try_from(longest * 7 + 24).unwrap_or(u32::MAX).min(320)
}

/// Draws a confidential marker: an outlined box, crossed, with `c` over it, from `x0` to `x1`.
fn confidential_marker<DB: DrawingBackend>(
    chart: &mut Plot<'_, DB>,
    (x0, x1): (f64, f64),
    height: f64,
    colour: RGBColor,
) -> Result<(), ChartError> {
    let stroke = colour.stroke_width(2);
    drawn(chart.draw_series([
        PathElement::new(
            vec![(x0, 0.0), (x0, height), (x1, height), (x1, 0.0), (x0, 0.0)],
            stroke,
        ),
        PathElement::new(vec![(x0, 0.0), (x1, height)], colour.stroke_width(1)),
        PathElement::new(vec![(x0, height), (x1, 0.0)], colour.stroke_width(1)),
    ]))?;
    let style = TextStyle::from((FONT, 13).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    drawn(chart.draw_series([Text::new(
        "c".to_owned(),
        ((x0 + x1) / 2.0, height * 1.15),
        style,
    )]))?;
    Ok(())
}

/// Writes `flag` centred over the point (`x`, `y`).
fn flag<DB: DrawingBackend>(
    chart: &mut Plot<'_, DB>,
    flag: &str,
    (x, y): (f64, f64),
) -> Result<(), ChartError> {
    let style = TextStyle::from((FONT, 11).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    drawn(chart.draw_series([Text::new(flag.to_owned(), (x, y), style)]))?;
    Ok(())
}

/// Writes the key labels downwards under the plot, each centred on its x position.
fn key_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Plot<'_, DB>,
    labels: &[(f64, String)],
    bottom: f64,
) -> Result<(), ChartError> {
    for (x, label) in labels {
        let (px, py) = chart.backend_coord(&(*x, bottom));
        let style = TextStyle::from((FONT, 13).into_font().transform(FontTransform::Rotate90))
            .color(&BLACK);
        drawn(root.draw(&Text::new(label.clone(), (px + 5, py + 8), style)))?;
    }
    Ok(())
}

/// How a legend entry shows its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// A filled square, as a bar.
    Square,
    /// A short thick line, as a line.
    Line,
}

/// Entries of the legend that fit in one column.
fn legend_rows() -> usize {
    let rows = (i64::from(HEIGHT) - i64::from(LEGEND_TOP) - 60) / i64::from(LEGEND_LINE);
    usize::try_from(rows).unwrap_or(1).max(1)
}

/// The width the legend of `entries` takes at the right of the drawing.
fn legend_width(entries: usize) -> u32 {
    let columns = entries.div_ceil(legend_rows()).max(1);
    u32::try_from(columns)
        .unwrap_or(u32::MAX)
        .saturating_mul(LEGEND_COLUMN)
        .saturating_add(20)
}

/// Draws the legend, a colour and a member code (or column code) per entry, in columns at
/// the right of the drawing, outside the plot so that it never hides a bar.
fn legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor)],
    mark: Mark,
) -> Result<(), ChartError> {
    let (width, _) = root.dim_in_pixel();
    let left = i32::try_from(width.saturating_sub(legend_width(entries.len())))
        .unwrap_or(0)
        .saturating_add(10);
    let rows = legend_rows();
    for (n, (name, hue)) in entries.iter().enumerate() {
        let column = i32::try_from(n / rows).unwrap_or(0);
        let row = i32::try_from(n % rows).unwrap_or(0);
        let x = left + column * i32::try_from(LEGEND_COLUMN).unwrap_or(0);
        let y = LEGEND_TOP + row * LEGEND_LINE;
        match mark {
            Mark::Square => {
                drawn(root.draw(&Rectangle::new([(x, y - 6), (x + 14, y + 6)], hue.filled())))?
            }
            Mark::Line => drawn(root.draw(&PathElement::new(
                vec![(x, y), (x + 18, y)],
                hue.stroke_width(3),
            )))?,
        }
        let style = TextStyle::from((FONT, 15).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        drawn(root.draw(&Text::new(name.clone(), (x + 24, y), style)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
