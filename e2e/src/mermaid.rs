//! A scenario's HTTP exchange as a Mermaid `sequenceDiagram`, built from
//! the two admin journals (credentials already masked there).
//!
//! The gateway passes its caller's request id to introspection, so a
//! server entry whose id matches a gateway entry is the gateway asking
//! the server about a credential, drawn inside that gateway call; every
//! other server entry is the wizard's (or a scenario step's) own request.

use protocol::admin::{Journal, JournalEntry};

/// Arrows beyond this many are summarised in one note, so a long scenario
/// keeps a readable report.
pub const MAX_EXCHANGES: usize = 40;

/// The diagram's text (without the Markdown fence).
pub fn sequence_diagram(server: Option<&Journal>, gateway: Option<&Journal>) -> String {
    let empty = Journal {
        entries: Vec::new(),
    };
    let server = server.unwrap_or(&empty);
    let gateway = gateway.unwrap_or(&empty);
    let mut lines = vec![
        "sequenceDiagram".to_owned(),
        "    participant W as wizard / steps".to_owned(),
        "    participant S as provisioning-server".to_owned(),
        "    participant G as llm-gateway-mock".to_owned(),
    ];
    let introspection = |id: &str| -> Vec<&JournalEntry> {
        server
            .entries
            .iter()
            .filter(|entry| entry.request_id == id)
            .collect()
    };
    // Both journals are in arrival order; merge them by time, server first
    // on a tie (the wizard provisions before it calls the gateway).
    let direct: Vec<&JournalEntry> = server
        .entries
        .iter()
        .filter(|entry| {
            !gateway
                .entries
                .iter()
                .any(|call| call.request_id == entry.request_id)
        })
        .collect();
    let mut merged: Vec<(i64, usize, &JournalEntry, bool)> = Vec::new();
    for (index, entry) in direct.iter().enumerate() {
        merged.push((entry.at, index, entry, false));
    }
    for (index, entry) in gateway.entries.iter().enumerate() {
        merged.push((entry.at, direct.len() + index, entry, true));
    }
    merged.sort_by_key(|(at, order, _, to_gateway)| (*at, *to_gateway, *order));
    if merged.is_empty() {
        lines.push("    Note over W,G: no request reached the server or the gateway".to_owned());
    }
    for (count, (_, _, entry, to_gateway)) in merged.iter().enumerate() {
        if count == MAX_EXCHANGES {
            lines.push(format!(
                "    Note over W,G: {} more request(s), see the journals",
                merged.len() - MAX_EXCHANGES
            ));
            break;
        }
        let target = if *to_gateway { "G" } else { "S" };
        lines.push(format!("    W->>{target}: {}", request_label(entry)));
        if *to_gateway {
            for call in introspection(&entry.request_id) {
                lines.push(format!("    G->>S: {}", request_label(call)));
                lines.push(format!("    S-->>G: {}", answer_label(call)));
            }
        }
        lines.push(format!("    {target}-->>W: {}", answer_label(entry)));
    }
    lines.join("\n")
}

/// `POST /path [pha_***]`.
fn request_label(entry: &JournalEntry) -> String {
    let credential = entry
        .credential
        .as_deref()
        .map(|credential| format!(" [{credential}]"))
        .unwrap_or_default();
    escape(&format!("{} {}{credential}", entry.method, entry.path))
}

/// `401 insufficient_scope (reason)`.
fn answer_label(entry: &JournalEntry) -> String {
    let mut text = entry.status.to_string();
    for extra in [&entry.verdict, &entry.reason].into_iter().flatten() {
        text.push(' ');
        text.push_str(extra);
    }
    escape(&text)
}

/// Mermaid ends a message at `;` and reads `#…;` as an entity; both are
/// written as entities.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '\n' => out.push(' '),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        at: i64,
        id: &str,
        method: &str,
        path: &str,
        status: u16,
        credential: Option<&str>,
        verdict: Option<&str>,
    ) -> JournalEntry {
        JournalEntry {
            at,
            request_id: id.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            credential: credential.map(str::to_owned),
            verdict: verdict.map(str::to_owned),
            reason: None,
        }
    }

    #[test]
    fn introspection_is_drawn_inside_the_gateway_call_it_served() {
        let server = Journal {
            entries: vec![
                entry(
                    10,
                    "a",
                    "POST",
                    "/api/agentic/provisioning/account_requests",
                    200,
                    None,
                    None,
                ),
                entry(10, "b", "POST", "/api/agentic/oauth/token", 200, None, None),
                entry(
                    11,
                    "g1",
                    "POST",
                    "/oauth/introspect",
                    200,
                    Some("pha_***"),
                    Some("inactive"),
                ),
            ],
        };
        let gateway = Journal {
            entries: vec![entry(
                11,
                "g1",
                "POST",
                "/wizard/v1/messages",
                401,
                Some("pha_***"),
                Some("insufficient_scope"),
            )],
        };
        insta::assert_snapshot!(sequence_diagram(Some(&server), Some(&gateway)), @r"
        sequenceDiagram
            participant W as wizard / steps
            participant S as provisioning-server
            participant G as llm-gateway-mock
            W->>S: POST /api/agentic/provisioning/account_requests
            S-->>W: 200
            W->>S: POST /api/agentic/oauth/token
            S-->>W: 200
            W->>G: POST /wizard/v1/messages [pha_***]
            G->>S: POST /oauth/introspect [pha_***]
            S-->>G: 200 inactive
            G-->>W: 401 insufficient_scope
        ");
    }

    #[test]
    fn nothing_seen_is_said_and_long_exchanges_are_cut() {
        assert!(sequence_diagram(None, None).contains("no request reached"));
        let many = Journal {
            entries: (0..MAX_EXCHANGES + 3)
                .map(|index| entry(0, &index.to_string(), "GET", "/a#b;c", 200, None, None))
                .collect(),
        };
        let text = sequence_diagram(Some(&many), None);
        assert!(text.contains("3 more request(s)"));
        assert!(text.contains("GET /a#35;b#59;c"));
    }
}
