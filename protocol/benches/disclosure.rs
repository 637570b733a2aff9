//! Benchmark of disclosure control: protecting a 3-D table of 20 x 20 x 5 counts with totals on
//! every dimension must finish in under 10 s; prints the time and the information loss, and the
//! same for the sample trafficking table at threshold 5. Ends with PASS or FAIL.

use std::time::{Duration, Instant};

use datapact_protocol::disclosure::sdmx_csv::{read_count_table, split_records};
use datapact_protocol::disclosure::{CellValue, CountTable, Protection, TOTAL_CODE, protect};

/// Longest acceptable time for the 3-D table.
const TIME_LIMIT: Duration = Duration::from_secs(10);
/// Codes per dimension of the 3-D table (totals not counted).
const SHAPE: [usize; 3] = [20, 20, 5];
/// Threshold of both runs.
const THRESHOLD: u64 = 5;
/// The sample table, from the CLI's samples.
const SAMPLE: &str = include_str!("../../cli/samples/trafficking_victims_tha_2017.csv");

/// A small deterministic generator, so every run protects the same table.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A count as small-area statistics look: about a quarter below the threshold.
    fn count(&mut self) -> u64 {
        if self.next() % 10 < 3 {
            self.next() % THRESHOLD
        } else {
            THRESHOLD + self.next() % 46
        }
    }
}

/// The 3-D table: random interior counts, every total (margins and grand total) computed.
fn three_dimensional_table() -> CountTable {
    let mut random = XorShift(0x005e_ed0f_d15c);
    let [rows, columns, layers] = SHAPE;
    let mut interior = vec![0u64; rows * columns * layers];
    for value in &mut interior {
        *value = random.count();
    }
    let code = |index: usize, size: usize, prefix: &str| {
        if index == size {
            TOTAL_CODE.to_owned()
        } else {
            format!("{prefix}{index}")
        }
    };
    let dimensions = vec!["ROW".to_owned(), "COLUMN".to_owned(), "LAYER".to_owned()];
    let mut table = CountTable::new(dimensions).unwrap_or_default();
    for row in 0..=rows {
        for column in 0..=columns {
            for layer in 0..=layers {
                let mut sum = 0;
                for r in 0..rows {
                    for c in 0..columns {
                        for l in 0..layers {
                            let inside = (row == rows || row == r)
                                && (column == columns || column == c)
                                && (layer == layers || layer == l);
                            if inside {
                                sum += interior[(r * columns + c) * layers + l];
                            }
                        }
                    }
                }
                let key = vec![
                    code(row, rows, "R"),
                    code(column, columns, "C"),
                    code(layer, layers, "L"),
                ];
                if table.push(key, CellValue::Count(sum)).is_err() {
                    println!("FAIL: could not build the 3-D table");
                }
            }
        }
    }
    table
}

/// Protects a table, prints the figures, and says whether it passed.
fn run(name: &str, table: &CountTable, limit: Option<Duration>) -> bool {
    let started = Instant::now();
    let result = protect(table, THRESHOLD, &[]);
    let elapsed = started.elapsed();
    match result {
        Ok(protection) => {
            report(name, table, &protection, elapsed);
            let in_time = limit.is_none_or(|limit| elapsed < limit);
            if !in_time {
                println!("  too slow: limit {limit:?}");
            }
            in_time
        }
        Err(error) => {
            println!("{name}: refused: {error}");
            false
        }
    }
}

/// Prints time and information loss.
fn report(name: &str, table: &CountTable, protection: &Protection, elapsed: Duration) {
    let summary = protection.summary;
    let total: u64 = table
        .cells()
        .iter()
        .filter_map(|cell| cell.value.count())
        .sum();
    println!(
        "{name}: {} cells, threshold {THRESHOLD}, {:.3} s",
        table.cells().len(),
        elapsed.as_secs_f64()
    );
    println!(
        "  primary {}, secondary {}, suppressed {} cells, total value suppressed {} (of {total})",
        summary.primary, summary.secondary, summary.suppressed_cells, summary.suppressed_value
    );
}

fn main() {
    let table = three_dimensional_table();
    let big = run("3-D table 20x20x5 with totals", &table, Some(TIME_LIMIT));
    let sample = match split_records(SAMPLE) {
        Ok(records) if !records.is_empty() => {
            match read_count_table(&records[0], &records[1..], None) {
                Ok(read) => run("sample trafficking table", &read.table, None),
                Err(error) => {
                    println!("sample: unreadable: {error}");
                    false
                }
            }
        }
        _ => false,
    };
    println!("{}", if big && sample { "PASS" } else { "FAIL" });
}
