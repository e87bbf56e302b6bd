//! The targets the report checks (ours against the peer, and absolute
//! budgets), from the rows a run gathered.

use crate::context::Context_;
use crate::report::{self, Row, Target};
use crate::wizard::WizardFigures;

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
    let mut ratio_target = |name: &str, row: Option<&Row>, wanted: f64| {
        let ratio = row.and_then(|row| row.ratio);
        targets.push(Target {
            name: name.to_owned(),
            wanted: format!("ours ÷ peer ≥ {wanted}"),
            measured: ratio.map_or_else(|| "not measured".into(), |ratio| format!("{ratio:.2}×")),
            met: ratio.map(|ratio| ratio >= wanted),
        });
    };
    let top = cx
        .options
        .signup_clients
        .iter()
        .max()
        .copied()
        .unwrap_or(64);
    ratio_target(
        &format!("full signups/s ≥ peer's single-token rate ({top} clients)"),
        find(
            &cx.rows,
            &format!("full signups/s vs peer single tokens/s, {top} clients"),
        ),
        1.0,
    );
    ratio_target(
        &format!("full signups/s on the grown database ≥ peer's single-token rate ({top} clients)"),
        find(&cx.rows, "full signups/s on a grown database"),
        1.0,
    );
    ratio_target(
        "auth code + PKCE flows ≥ 2× the peer's",
        find(&cx.rows, "auth code + PKCE"),
        2.0,
    );
    ratio_target(
        "introspection ≥ the peer's lookup-free answer",
        find(&cx.rows, "token introspection"),
        1.0,
    );
    ratio_target(
        "/api/users/@me/ ≥ the peer's /userinfo",
        find(&cx.rows, "GET /api/users/@me/"),
        1.0,
    );
    ratio_target(
        "gateway messages ≥ ½ of the peer's lookup-free introspection rate",
        find(&cx.rows, "gateway messages/s vs peer"),
        0.5,
    );
    let mut ceiling_target = |name: &str, row: Option<&Row>, wanted: f64| {
        let fraction = row.and_then(|row| row.of_ceiling);
        targets.push(Target {
            name: name.to_owned(),
            wanted: format!("ours ÷ ceiling ≥ {wanted}"),
            measured: fraction.map_or_else(
                || "not measured".into(),
                |fraction| format!("{fraction:.2}×"),
            ),
            met: fraction.map(|fraction| fraction >= wanted),
        });
    };
    ceiling_target(
        "introspection ≥ 0.8 of the ceiling",
        find(&cx.rows, "token introspection"),
        0.8,
    );
    ceiling_target(
        "/api/users/@me/ ≥ 0.8 of the ceiling",
        find(&cx.rows, "GET /api/users/@me/"),
        0.8,
    );
    ceiling_target(
        "gateway messages ≥ 0.5 of the ceiling",
        find(&cx.rows, "gateway messages/s vs peer"),
        0.5,
    );
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
