//! Lines over time: the columns are time periods, each row a line in the colour of its owner
//! (one legend entry per owner), broken where a period is not reported; a confidential
//! period is a crossed box on the axis marked `c`. The end of each line names its key.

use datapact_protocol::compare::{Comparison, OWNER, Row};
use plotters::prelude::*;

use super::{
    CONFIDENTIAL_HEIGHT, ChartError, FONT, HEIGHT, Mark, WIDTH, axis_description, axis_number,
    colour, confidential_marker, drawn, flag, key_labels, label_area, legend, legend_width,
    row_label, value_bottom, value_top,
};

/// Pixels per period.
const PERIOD_PIXELS: u32 = 90;
/// Room at the right of the plot for the labels at the ends of the lines.
const END_LABEL_PIXELS: u32 = 140;
/// Half the width of a confidential marker, in periods.
const MARKER_HALF_WIDTH: f64 = 0.08;

/// Draws `c` as lines into `out`.
pub fn draw(c: &Comparison, out: &mut String) -> Result<(), ChartError> {
    let periods = c.columns.len();
    let mut owners: Vec<String> = Vec::new();
    for row in &c.rows {
        let owner = row.key.get(OWNER).cloned().unwrap_or_default();
        if !owners.contains(&owner) {
            owners.push(owner);
        }
    }
    let width = u32::try_from(periods)
        .unwrap_or(u32::MAX)
        .saturating_mul(PERIOD_PIXELS)
        .saturating_add(320 + legend_width(owners.len()))
        .clamp(WIDTH.0, WIDTH.1);
    let (bottom, top) = (value_bottom(c), value_top(c));
    let root = SVGBackend::with_string(out, (width, HEIGHT)).into_drawing_area();
    drawn(root.fill(&WHITE))?;
    let mut chart = drawn(
        ChartBuilder::on(&root)
            .caption(&c.name, (FONT, 24))
            .margin(20)
            .margin_right(legend_width(owners.len()) + END_LABEL_PIXELS)
            .x_label_area_size(label_area(&c.columns))
            .y_label_area_size(100)
            .build_cartesian_2d(-0.5f64..periods as f64 - 0.5, bottom..top),
    )?;
    drawn(
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(0)
            .x_labels(periods.max(1))
            .x_label_formatter(&|_| String::new())
            .y_desc(axis_description(c))
            .y_label_formatter(&axis_number)
            .axis_desc_style((FONT, 16))
            .label_style((FONT, 13))
            .draw(),
    )?;
    for row in &c.rows {
        let owner = row.key.get(OWNER).cloned().unwrap_or_default();
        let hue = colour(owners.iter().position(|o| *o == owner).unwrap_or(0));
        draw_row(&mut chart, c, row, hue, (bottom, top))?;
    }
    let entries: Vec<(String, RGBColor)> = owners
        .iter()
        .enumerate()
        .map(|(n, owner)| (owner.clone(), colour(n)))
        .collect();
    legend(&root, &entries, Mark::Line)?;
    let ticks: Vec<(f64, String)> = c
        .columns
        .iter()
        .enumerate()
        .map(|(x, period)| (x as f64, period.clone()))
        .collect();
    key_labels(&root, &chart, &ticks, bottom)?;
    drawn(root.present())
}

/// Draws one row: its line (broken where a period is missing), its points, its flags, its
/// confidential markers and the label at its end.
fn draw_row<DB: DrawingBackend>(
    chart: &mut super::Plot<'_, DB>,
    c: &Comparison,
    row: &Row,
    hue: RGBColor,
    (bottom, top): (f64, f64),
) -> Result<(), ChartError> {
    let marker = (top - bottom) * CONFIDENTIAL_HEIGHT;
    let points: Vec<Option<(f64, f64)>> = c
        .columns
        .iter()
        .enumerate()
        .map(|(x, period)| Some((x as f64, row.values.get(period)?.comparable()?)))
        .collect();
    for run in points.split(|p| p.is_none()).filter(|run| !run.is_empty()) {
        let run: Vec<(f64, f64)> = run.iter().flatten().copied().collect();
        drawn(chart.draw_series(LineSeries::new(run.clone(), hue.stroke_width(2))))?;
        drawn(chart.draw_series(run.iter().map(|&p| Circle::new(p, 4, hue.filled()))))?;
    }
    for (x, period) in c.columns.iter().enumerate() {
        let Some(cell) = row.values.get(period) else {
            continue;
        };
        let x = x as f64;
        if cell.confidential {
            confidential_marker(
                chart,
                (x - MARKER_HALF_WIDTH, x + MARKER_HALF_WIDTH),
                marker,
                hue,
            )?;
        } else if let (Some(value), Some(status)) = (cell.value, &cell.obs_status) {
            flag(chart, status, (x, value + (top - bottom) * 0.015))?;
        }
    }
    if let Some(&Some((x, y))) = points.iter().rev().find(|p| p.is_some()) {
        let style = TextStyle::from((FONT, 12).into_font()).color(&hue);
        let label = format!(" {}", row_label(c, row, Some(OWNER)));
        drawn(chart.draw_series([Text::new(label, (x + 0.05, y), style)]))?;
    }
    Ok(())
}
