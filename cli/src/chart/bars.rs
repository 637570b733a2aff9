//! Grouped bars: one group per row (key), one bar per column (member), in the column's colour.
//! A confidential cell is a crossed box marked `c`; a cell not reported leaves a gap.

use datapact_protocol::compare::Comparison;
use plotters::prelude::*;

use super::{
    CONFIDENTIAL_HEIGHT, ChartError, FONT, HEIGHT, Mark, WIDTH, axis_description, axis_number,
    colour, confidential_marker, drawn, flag, key_labels, label_area, legend, legend_width,
    row_label, value_bottom, value_top,
};

/// Pixels per bar, and between two groups.
const BAR_PIXELS: u32 = 12;
const GROUP_GAP_PIXELS: u32 = 24;
/// Share of a group's width that its bars take (the rest is the gap between groups).
const GROUP_FILL: f64 = 0.8;

/// Draws `c` as grouped bars into `out`.
pub fn draw(c: &Comparison, out: &mut String) -> Result<(), ChartError> {
    let groups = c.rows.len();
    let series = c.columns.len().max(1);
    let group_pixels = u32::try_from(series)
        .unwrap_or(u32::MAX)
        .saturating_mul(BAR_PIXELS)
        + GROUP_GAP_PIXELS;
    let width = u32::try_from(groups)
        .unwrap_or(u32::MAX)
        .saturating_mul(group_pixels)
        .saturating_add(160 + legend_width(series))
        .clamp(WIDTH.0, WIDTH.1);
    let labels: Vec<String> = c.rows.iter().map(|r| row_label(c, r, None)).collect();
    let (bottom, top) = (value_bottom(c), value_top(c));
    let root = SVGBackend::with_string(out, (width, HEIGHT)).into_drawing_area();
    drawn(root.fill(&WHITE))?;
    let mut chart = drawn(
        ChartBuilder::on(&root)
            .caption(&c.name, (FONT, 24))
            .margin(20)
            .margin_right(legend_width(series) + 20)
            .x_label_area_size(label_area(&labels))
            .y_label_area_size(100)
            .build_cartesian_2d(0f64..groups as f64, bottom..top),
    )?;
    drawn(
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(0)
            .x_labels(groups.max(1))
            .x_label_formatter(&|_| String::new())
            .y_desc(axis_description(c))
            .y_label_formatter(&axis_number)
            .axis_desc_style((FONT, 16))
            .label_style((FONT, 13))
            .draw(),
    )?;
    let bar = GROUP_FILL / series as f64;
    let marker = (top - bottom) * CONFIDENTIAL_HEIGHT;
    for (j, column) in c.columns.iter().enumerate() {
        let fill = colour(j);
        let place = |g: usize| {
            let x0 = g as f64 + (1.0 - GROUP_FILL) / 2.0 + j as f64 * bar;
            (x0, x0 + bar)
        };
        let bars = c.rows.iter().enumerate().filter_map(|(g, row)| {
            let value = row.values.get(column)?.comparable()?;
            let (x0, x1) = place(g);
            Some(Rectangle::new([(x0, 0.0), (x1, value)], fill.filled()))
        });
        drawn(chart.draw_series(bars))?;
        for (g, row) in c.rows.iter().enumerate() {
            let Some(cell) = row.values.get(column) else {
                continue;
            };
            let (x0, x1) = place(g);
            if cell.confidential {
                confidential_marker(&mut chart, (x0, x1), marker, fill)?;
            } else if let (Some(value), Some(status)) = (cell.value, &cell.obs_status) {
                flag(&mut chart, status, ((x0 + x1) / 2.0, value.max(0.0)))?;
            }
        }
    }
    let entries: Vec<(String, RGBColor)> = c
        .columns
        .iter()
        .enumerate()
        .map(|(j, column)| (column.clone(), colour(j)))
        .collect();
    legend(&root, &entries, Mark::Square)?;
    let centres: Vec<(f64, String)> = labels
        .into_iter()
        .enumerate()
        .map(|(g, label)| (g as f64 + 0.5, label))
        .collect();
    key_labels(&root, &chart, &centres, bottom)?;
    drawn(root.present())
}
