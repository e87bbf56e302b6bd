//! The targets the report checks (ours against the peer, and absolute
//! budgets), from the rows a run gathered.

use crate::context::Context_;
use crate::report::{self, Row, Target, SAME_REQUEST_CEILING};
use crate::wizard::WizardFigures;

/// A target met when a row's quotient is at least `wanted`: `over` names
/// the divisor and `quotient` reads the row's field holding it.
fn quotient_target(
    name: &str,
    row: Option<&Row>,
    over: &str,
    quotient: fn(&Row) -> Option<f64>,
    wanted: f64,
) -> Target {
    let measured = row.and_then(quotient);
    Target {
        name: name.to_owned(),
        wanted: format!("ours ÷ {over} ≥ {wanted}"),
        measured: measured.map_or_else(|| "not measured".into(), |value| format!("{value:.2}×")),
        met: measured.map(|value| value >= wanted),
    }
}

/// Ours ÷ the peer's figure is at least `wanted`.
fn ratio_target(name: &str, row: Option<&Row>, wanted: f64) -> Target {
    quotient_target(name, row, "peer", |row| row.ratio, wanted)
}

/// Ours ÷ the ceiling row's rate is at least `wanted`.
fn ceiling_target(name: &str, row: Option<&Row>, wanted: f64) -> Target {
    quotient_target(name, row, "ceiling", |row| row.of_ceiling, wanted)
}

fn find<'a>(rows: &'a [Row], prefix: &str) -> Option<&'a Row> {
    rows.iter().find(|row| row.name.starts_with(prefix))
}

pub(crate) fn targets(
    cx: &Context_,
    server_idle: Option<f64>,
    gateway_idle: Option<f64>,
    wizard: &WizardFigures,
) -> Vec<Target> {
    let mut targets = Vec::new();
    let fmt = |value: Option<f64>, unit: &str| {
        value.map_or_else(
            || "not measured".to_owned(),
            |value| format!("{} {unit}", report::number(value)),
        )
    };
    let top = cx
        .options
        .signup_clients
        .iter()
        .max()
        .copied()
        .unwrap_or(64);
    let ratios = [
        (
            format!("full signups/s ≥ peer's single-token rate ({top} clients)"),
            format!("full signups/s vs peer single tokens/s, {top} clients"),
            1.0,
        ),
        (
            format!(
                "full signups/s on the grown database ≥ peer's single-token rate ({top} clients)"
            ),
            "full signups/s on a grown database".to_owned(),
            1.0,
        ),
        (
            "auth code + PKCE flows ≥ 2× the peer's".to_owned(),
            "auth code + PKCE".to_owned(),
            2.0,
        ),
        (
            "introspection ≥ the peer's lookup-free answer".to_owned(),
            "token introspection".to_owned(),
            1.0,
        ),
        (
            "/api/users/@me/ ≥ the peer's /userinfo".to_owned(),
            "GET /api/users/@me/".to_owned(),
            1.0,
        ),
        (
            "gateway messages ≥ ½ of the peer's lookup-free introspection rate".to_owned(),
            "gateway messages/s vs peer".to_owned(),
            0.5,
        ),
    ];
    for (name, prefix, wanted) in &ratios {
        targets.push(ratio_target(name, find(&cx.rows, prefix), *wanted));
    }
    for (name, prefix, wanted) in [
        (
            "introspection ≥ 0.8 of the ceiling",
            "token introspection",
            0.8,
        ),
        (
            "/api/users/@me/ ≥ 0.8 of the ceiling",
            "GET /api/users/@me/",
            0.8,
        ),
        (
            "gateway messages ≥ 0.5 of the ceiling",
            "gateway messages/s vs peer",
            0.5,
        ),
    ] {
        targets.push(ceiling_target(name, find(&cx.rows, prefix), wanted));
    }
    // The POSTs, also against the ceiling answering the very same request.
    for (name, prefix, beside, wanted) in [
        (
            "introspection ≥ 0.8 of the ceiling for the same POST",
            "token introspection",
            "introspection",
            0.8,
        ),
        (
            "gateway messages ≥ 0.5 of the ceiling for the same POST",
            "gateway messages/s vs peer",
            "gateway messages",
            0.5,
        ),
    ] {
        let same_request = find(&cx.rows, &format!("{SAME_REQUEST_CEILING} {beside}:"));
        let row = find(&cx.rows, prefix).map(|row| {
            row.clone()
                .against_ceiling(same_request.and_then(|ceiling| ceiling.ours))
        });
        targets.push(ceiling_target(name, row.as_ref(), wanted));
    }
    // p99 per step at the top concurrency.
    for latency in cx.latencies.iter().filter(|latency| {
        latency.clients == top
            && latency.flow.contains("(ours)")
            && latency.summary.p99_ms.is_finite()
    }) {
        targets.push(Target {
            name: format!(
                "p99 of {} / {} at {top} clients",
                latency.flow, latency.step
            ),
            wanted: "< 10 ms".into(),
            measured: format!("{} ms", report::number(latency.summary.p99_ms)),
            met: Some(latency.summary.p99_ms < 10.0),
        });
    }
    for (name, prefix) in [
        (
            "provisioning-server start → listening",
            "start → listening: provisioning-server",
        ),
        (
            "llm-gateway-mock start → listening",
            "start → listening: llm-gateway-mock",
        ),
    ] {
        let value = find(&cx.rows, prefix).and_then(|row| row.ours);
        targets.push(Target {
            name: name.into(),
            wanted: "< 50 ms".into(),
            measured: fmt(value, "ms"),
            met: value.map(|value| value < 50.0),
        });
    }
    for (name, value) in [
        ("provisioning-server idle RSS", server_idle),
        ("llm-gateway-mock idle RSS", gateway_idle),
    ] {
        targets.push(Target {
            name: name.into(),
            wanted: "< 20 MB".into(),
            measured: fmt(value, "MB"),
            met: value.map(|value| value < 20.0),
        });
    }
    targets.push(Target {
        name: "wizard full run, start → exit".into(),
        wanted: "< 150 ms".into(),
        measured: format!(
            "{} (CPU {})",
            fmt(wizard.wall_ms, "ms"),
            fmt(wizard.cpu_ms, "ms")
        ),
        met: wizard.wall_ms.map(|value| value < 150.0),
    });
    targets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Better;

    #[test]
    fn a_quotient_target_reads_its_own_field_of_the_row() {
        let row = Row::new(
            "token introspection",
            "req/s",
            Some(10.0),
            Some(5.0),
            Better::Higher,
            "",
        )
        .against_ceiling(Some(20.0));
        let ratio = ratio_target("vs peer", Some(&row), 1.0);
        assert_eq!(ratio.wanted, "ours ÷ peer ≥ 1");
        assert_eq!(ratio.measured, "2.00×");
        assert_eq!(ratio.met, Some(true));
        let ceiling = ceiling_target("vs ceiling", Some(&row), 0.8);
        assert_eq!(ceiling.wanted, "ours ÷ ceiling ≥ 0.8");
        assert_eq!(ceiling.measured, "0.50×");
        assert_eq!(ceiling.met, Some(false));
        let missing = ceiling_target("vs ceiling", None, 0.8);
        assert_eq!(
            (missing.measured.as_str(), missing.met),
            ("not measured", None)
        );
    }
}
