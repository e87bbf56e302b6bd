//! The comparison table: our figure, the peer's, the ratio; the targets;
//! the machine. Rendered as Markdown and JSON (pure; unit-tested).

use serde::Serialize;

use crate::stats::Summary;

/// Which direction is good for a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub name: String,
    pub unit: String,
    pub ours: Option<f64>,
    pub peer: Option<f64>,
    /// ours ÷ peer, when both were measured.
    pub ratio: Option<f64>,
    /// The ceiling row's rate measured alternately with this row's sides
    /// (rates only): what this machine can answer at all.
    pub ceiling: Option<f64>,
    /// ours ÷ ceiling, when both were measured.
    pub of_ceiling: Option<f64>,
    pub better: Better,
    /// How it was measured (tool, concurrency, what the peer did).
    pub note: String,
}

impl Row {
    pub fn new(
        name: &str,
        unit: &str,
        ours: Option<f64>,
        peer: Option<f64>,
        better: Better,
        note: &str,
    ) -> Row {
        Row {
            name: name.to_owned(),
            unit: unit.to_owned(),
            ours,
            peer,
            ratio: ratio(ours, peer),
            ceiling: None,
            of_ceiling: None,
            better,
            note: note.to_owned(),
        }
    }

    /// The row, read against the ceiling rate measured beside it.
    pub fn against_ceiling(mut self, ceiling: Option<f64>) -> Row {
        self.ceiling = ceiling;
        self.of_ceiling = ratio(self.ours, ceiling);
        self
    }
}

/// How the rows of the ceiling answering a comparison's very request (a
/// POST with its body) begin, before the comparison's name.
pub const SAME_REQUEST_CEILING: &str = "ceiling for the same request as";

/// ours ÷ peer; `None` when either is missing or the peer's is zero.
pub fn ratio(ours: Option<f64>, peer: Option<f64>) -> Option<f64> {
    match (ours, peer) {
        (Some(ours), Some(peer)) if peer != 0.0 && ours.is_finite() && peer.is_finite() => {
            Some(ours / peer)
        }
        _ => None,
    }
}

/// Latencies of one step of a flow at one concurrency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepLatency {
    pub flow: String,
    pub clients: usize,
    pub step: String,
    pub summary: Summary,
}

/// A target of the issue, checked against a figure (never asserted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub name: String,
    pub wanted: String,
    pub measured: String,
    /// `None`: not measured.
    pub met: Option<bool>,
}

/// Where the figures came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub memory_mb: u64,
    pub cpu_model: String,
    pub date: String,
    /// `/proc/loadavg`'s 1, 5 and 15 minute averages when the run began
    /// and when it ended: a busy machine explains low figures.
    pub load_at_start: String,
    pub load_at_end: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub machine: Machine,
    /// Seconds per load run, and other settings.
    pub settings: Vec<(String, String)>,
    pub rows: Vec<Row>,
    pub latencies: Vec<StepLatency>,
    pub targets: Vec<Target>,
    /// What could not be measured, and why.
    pub skipped: Vec<String>,
}

/// A figure with a sensible number of digits.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_owned();
    }
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), number)
}

fn ratio_cell(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".to_owned(), |ratio| format!("{ratio:.2}×"))
}

/// The report as Markdown: machine, table, step latencies, targets, skips.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let machine = &report.machine;
    out.push_str(&format!(
        "Machine: {} ({} cores), {} MB memory; {}; load average {} at the start, {} at the end\n\n",
        machine.cpu_model,
        machine.nproc,
        machine.memory_mb,
        machine.date,
        machine.load_at_start,
        machine.load_at_end
    ));
    if !report.settings.is_empty() {
        let settings: Vec<String> = report
            .settings
            .iter()
            .map(|(key, value)| format!("{key} {value}"))
            .collect();
        out.push_str(&format!("Settings: {}\n\n", settings.join(", ")));
    }
    out.push_str(
        "| Measure | Unit | Ours | Peer | Ours ÷ peer | Ours ÷ ceiling | Better | How |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---|---|\n");
    for row in &report.rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.name,
            row.unit,
            cell(row.ours),
            cell(row.peer),
            ratio_cell(row.ratio),
            ratio_cell(row.of_ceiling),
            match row.better {
                Better::Higher => "higher",
                Better::Lower => "lower",
            },
            row.note
        ));
    }
    if !report.latencies.is_empty() {
        out.push_str("\n| Flow | Clients | Step | Count | p50 ms | p99 ms | max ms |\n");
        out.push_str("|---|---:|---|---:|---:|---:|---:|\n");
        for latency in &report.latencies {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                latency.flow,
                latency.clients,
                latency.step,
                latency.summary.count,
                number(latency.summary.p50_ms),
                number(latency.summary.p99_ms),
                number(latency.summary.max_ms),
            ));
        }
    }
    if !report.targets.is_empty() {
        out.push_str("\n| Target | Wanted | Measured | Met |\n|---|---|---|---|\n");
        for target in &report.targets {
            let met = match target.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "not measured",
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                target.name, target.wanted, target.measured, met
            ));
        }
    }
    if !report.skipped.is_empty() {
        out.push_str("\nSkipped:\n");
        for skipped in &report.skipped {
            out.push_str(&format!("- {skipped}\n"));
        }
    }
    out
}

/// The report as pretty JSON.
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report)
        .unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"))
}

/// Replaces what lies between `begin` and `end` in `document` with
/// `content` (appending the marked block when the markers are missing).
pub fn replace_between(document: &str, begin: &str, end: &str, content: &str) -> String {
    let block = format!("{begin}\n{}\n{end}", content.trim_end());
    match (document.find(begin), document.find(end)) {
        (Some(start), Some(stop)) if stop > start => {
            format!(
                "{}{block}{}",
                &document[..start],
                &document[stop + end.len()..]
            )
        }
        _ => {
            let mut out = document.trim_end().to_owned();
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&block);
            out.push('\n');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            machine: Machine {
                nproc: 2,
                memory_mb: 1024,
                cpu_model: "Test CPU".into(),
                date: "2026-01-01T00:00:00Z".into(),
                load_at_start: "0.10 0.20 0.30".into(),
                load_at_end: "1.50 0.60 0.40".into(),
            },
            settings: vec![("seconds".into(), "5".into())],
            rows: vec![
                Row::new(
                    "signups",
                    "1/s",
                    Some(1500.0),
                    Some(500.0),
                    Better::Higher,
                    "64 clients",
                )
                .against_ceiling(Some(6000.0)),
                Row::new("idle RSS", "MB", Some(9.5), None, Better::Lower, "VmRSS"),
            ],
            latencies: vec![StepLatency {
                flow: "signup".into(),
                clients: 64,
                step: "token".into(),
                summary: Summary {
                    count: 10,
                    p50_ms: 1.234,
                    p99_ms: 12.5,
                    mean_ms: 2.0,
                    max_ms: 150.0,
                },
            }],
            targets: vec![Target {
                name: "p99".into(),
                wanted: "< 10 ms".into(),
                measured: "12.5 ms".into(),
                met: Some(false),
            }],
            skipped: vec!["hyperfine: not installed".into()],
        }
    }

    #[test]
    fn ratios_need_both_figures_and_a_nonzero_peer() {
        assert_eq!(ratio(Some(3.0), Some(1.5)), Some(2.0));
        assert_eq!(ratio(None, Some(1.0)), None);
        assert_eq!(ratio(Some(1.0), None), None);
        assert_eq!(ratio(Some(1.0), Some(0.0)), None);
        assert_eq!(ratio(Some(f64::NAN), Some(1.0)), None);
    }

    #[test]
    fn numbers_keep_three_significant_figures_or_so() {
        assert_eq!(number(12345.6), "12346");
        assert_eq!(number(123.4), "123");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1.234), "1.23");
        assert_eq!(number(0.0), "0.00");
        assert_eq!(number(f64::INFINITY), "–");
    }

    #[test]
    fn markdown_has_the_table_latencies_targets_and_skips() {
        let text = markdown(&sample());
        assert!(
            text.starts_with("Machine: Test CPU (2 cores), 1024 MB memory; 2026-01-01T00:00:00Z; load average 0.10 0.20 0.30 at the start, 1.50 0.60 0.40 at the end")
        );
        assert!(
            text.contains("| signups | 1/s | 1500 | 500 | 3.00× | 0.25× | higher | 64 clients |"),
            "{text}"
        );
        assert!(
            text.contains("| idle RSS | MB | 9.50 | – | – | – | lower | VmRSS |"),
            "{text}"
        );
        assert!(
            text.contains("| signup | 64 | token | 10 | 1.23 | 12.5 | 150 |"),
            "{text}"
        );
        assert!(
            text.contains("| p99 | < 10 ms | 12.5 ms | **no** |"),
            "{text}"
        );
        assert!(text.contains("- hyperfine: not installed"), "{text}");
    }

    #[test]
    fn json_carries_every_part() {
        let value: serde_json::Value = serde_json::from_str(&json(&sample())).unwrap();
        assert_eq!(value["machine"]["nproc"], 2);
        assert_eq!(value["rows"][0]["ratio"], 3.0);
        assert_eq!(value["rows"][0]["of_ceiling"], 0.25);
        assert_eq!(value["rows"][1]["ceiling"], serde_json::Value::Null);
        assert_eq!(value["machine"]["load_at_end"], "1.50 0.60 0.40");
        assert_eq!(value["rows"][0]["better"], "higher");
        assert_eq!(value["rows"][1]["peer"], serde_json::Value::Null);
        assert_eq!(value["latencies"][0]["summary"]["p99_ms"], 12.5);
        assert_eq!(value["targets"][0]["met"], false);
        assert_eq!(value["skipped"][0], "hyperfine: not installed");
    }

    #[test]
    fn replace_between_rewrites_only_the_marked_block() {
        let document = "# Title\n\nkept\n<!-- b -->\nold\n<!-- e -->\ntail\n";
        assert_eq!(
            replace_between(document, "<!-- b -->", "<!-- e -->", "new\n"),
            "# Title\n\nkept\n<!-- b -->\nnew\n<!-- e -->\ntail\n"
        );
        assert_eq!(
            replace_between("# Title\n", "<!-- b -->", "<!-- e -->", "new"),
            "# Title\n\n<!-- b -->\nnew\n<!-- e -->\n"
        );
    }
}
