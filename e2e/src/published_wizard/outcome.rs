//! How far one published-wizard run got, read from the server's and the
//! gateway's journals (never from what the wizard printed).
//!
//! Each request the published wizard makes on its signup path belongs to a
//! [`Stage`]; the stages are ordered as the wizard walks them. A run's
//! [`Outcome`] is the furthest stage any journal entry reached, with the
//! status that stage answered: `project 200` means the project was read and
//! the run went no further (its answer did not satisfy the client),
//! `gateway token 404` that the mint endpoint is missing, `gateway model 401`
//! that the gateway was reached and refused the credential.

use std::fmt;
use std::str::FromStr;

use protocol::admin::JournalEntry;

/// One step of the published wizard's headless signup, in the order it
/// takes them. The derived order is that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// `POST /api/agentic/provisioning/account_requests`.
    AccountRequest,
    /// `POST /api/agentic/oauth/token`.
    Token,
    /// `POST /api/agentic/provisioning/resources` (or its read-back).
    Resources,
    /// `GET /api/projects/{id}/` (read before the user).
    Project,
    /// `GET /api/users/@me/`.
    UsersMe,
    /// `POST /api/wizard/gateway_token/` (2.73.0 and later).
    GatewayToken,
    /// The gateway's `GET /readyz` (2.74.1 and later).
    GatewayReady,
    /// Claude Code's `HEAD` of its base URL before its first message.
    GatewayProbe,
    /// A model call: `…/v1/messages` or `…/v1/responses`.
    GatewayModel,
}

/// Every stage, in order.
pub const STAGES: [Stage; 9] = [
    Stage::AccountRequest,
    Stage::Token,
    Stage::Resources,
    Stage::Project,
    Stage::UsersMe,
    Stage::GatewayToken,
    Stage::GatewayReady,
    Stage::GatewayProbe,
    Stage::GatewayModel,
];

/// Which program's journal an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Server,
    Gateway,
}

/// How far a run got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not one request of the signup path reached our stack.
    NoRequest,
    /// The furthest stage reached and the status it answered.
    Reached { stage: Stage, status: u16 },
}

impl Stage {
    /// The label used in expected.toml and the table.
    pub fn label(self) -> &'static str {
        match self {
            Stage::AccountRequest => "account request",
            Stage::Token => "token",
            Stage::Resources => "resources",
            Stage::UsersMe => "users/@me",
            Stage::Project => "project",
            Stage::GatewayToken => "gateway token",
            Stage::GatewayReady => "gateway readyz",
            Stage::GatewayProbe => "gateway probe",
            Stage::GatewayModel => "gateway model",
        }
    }

    /// The stage a journal entry belongs to, if any: the admin routes and
    /// the calls off the signup path (deep links, integrations) have none.
    pub fn of(side: Side, entry: &JournalEntry) -> Option<Stage> {
        let path = entry.path.trim_end_matches('/');
        let method = entry.method.as_str();
        if path.starts_with("/_admin") {
            return None;
        }
        match side {
            Side::Server => match (method, path) {
                ("POST", "/api/agentic/provisioning/account_requests") => {
                    Some(Stage::AccountRequest)
                }
                ("POST", "/api/agentic/oauth/token") => Some(Stage::Token),
                ("POST", "/api/agentic/provisioning/resources") => Some(Stage::Resources),
                ("GET", _) if path.starts_with("/api/agentic/provisioning/resources/") => {
                    Some(Stage::Resources)
                }
                ("GET", "/api/users/@me") => Some(Stage::UsersMe),
                ("GET", _) if is_project_path(path) => Some(Stage::Project),
                ("POST", "/api/wizard/gateway_token") => Some(Stage::GatewayToken),
                _ => None,
            },
            Side::Gateway => {
                if path.ends_with("/v1/messages")
                    || path.ends_with("/v1/responses")
                    || path.ends_with("/v1/chat/completions")
                {
                    Some(Stage::GatewayModel)
                } else if method == "GET" && path == "/readyz" {
                    Some(Stage::GatewayReady)
                } else if method == "HEAD" {
                    Some(Stage::GatewayProbe)
                } else {
                    None
                }
            }
        }
    }
}

/// `/api/projects/<digits>`, and nothing below it.
fn is_project_path(path: &str) -> bool {
    path.strip_prefix("/api/projects/")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|byte| byte.is_ascii_digit()))
}

impl fmt::Display for Stage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.label())
    }
}

impl FromStr for Stage {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        STAGES
            .into_iter()
            .find(|stage| stage.label() == text)
            .ok_or_else(|| {
                let labels: Vec<&str> = STAGES.iter().map(|stage| stage.label()).collect();
                format!("unknown stage {text:?} (one of: {})", labels.join(", "))
            })
    }
}

impl Outcome {
    /// Whether nothing further can happen in this run that would change
    /// its outcome: the gateway answered a model call.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Outcome::Reached {
                stage: Stage::GatewayModel,
                ..
            }
        )
    }

    /// A sentence for a person reading the table.
    pub fn gloss(self) -> String {
        match self {
            Outcome::NoRequest => "no request reached our stack".to_owned(),
            Outcome::Reached {
                stage: Stage::GatewayModel,
                status,
            } if (200..300).contains(&status) => "gateway reached and let in".to_owned(),
            Outcome::Reached {
                stage: Stage::GatewayModel,
                status: 401,
            } => "gateway reached and refused (401)".to_owned(),
            Outcome::Reached { stage, status } if (200..300).contains(&status) => {
                format!("stopped after {stage} (answered {status})")
            }
            Outcome::Reached { stage, status } => format!("stopped at {stage} ({status})"),
        }
    }
}

/// The text form, also expected.toml's: `none` or `<stage> <status>`.
impl fmt::Display for Outcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::NoRequest => formatter.write_str("none"),
            Outcome::Reached { stage, status } => write!(formatter, "{stage} {status}"),
        }
    }
}

impl FromStr for Outcome {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "none" {
            return Ok(Outcome::NoRequest);
        }
        let (stage, status) = text
            .rsplit_once(' ')
            .ok_or_else(|| format!("outcome {text:?} is neither `none` nor `<stage> <status>`"))?;
        let status: u16 = status
            .parse()
            .map_err(|_| format!("outcome {text:?}: {status:?} is not an HTTP status"))?;
        Ok(Outcome::Reached {
            stage: stage.parse()?,
            status,
        })
    }
}

/// The run's outcome: the furthest stage any entry reached; its status is
/// the first success of that stage if there was one (a retried call that
/// ended well counts as answered), else the last answer.
pub fn classify(server: &[JournalEntry], gateway: &[JournalEntry]) -> Outcome {
    let tagged = server
        .iter()
        .filter_map(|entry| Some((Stage::of(Side::Server, entry)?, entry.status)))
        .chain(
            gateway
                .iter()
                .filter_map(|entry| Some((Stage::of(Side::Gateway, entry)?, entry.status))),
        );
    let mut furthest: Option<(Stage, Vec<u16>)> = None;
    for (stage, status) in tagged {
        match &mut furthest {
            Some((best, statuses)) if *best == stage => statuses.push(status),
            Some((best, _)) if *best > stage => {}
            _ => furthest = Some((stage, vec![status])),
        }
    }
    match furthest {
        None => Outcome::NoRequest,
        Some((stage, statuses)) => {
            let status = statuses
                .iter()
                .copied()
                .find(|status| (200..300).contains(status))
                .or_else(|| statuses.last().copied())
                .unwrap_or_default();
            Outcome::Reached { stage, status }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, path: &str, status: u16) -> JournalEntry {
        JournalEntry {
            at: 0,
            request_id: String::new(),
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            credential: None,
            verdict: None,
            reason: None,
        }
    }

    /// The server's journal of a signup that got as far as the user.
    fn signup_to_user() -> Vec<JournalEntry> {
        vec![
            entry("POST", "/api/agentic/provisioning/account_requests", 200),
            entry("POST", "/api/agentic/oauth/token", 200),
            entry("POST", "/api/agentic/provisioning/resources", 200),
            entry("GET", "/api/projects/1/", 200),
            entry("GET", "/api/users/@me/", 200),
        ]
    }

    #[test]
    fn the_outcome_is_the_furthest_stage_and_its_answer() {
        let with = |more: Vec<JournalEntry>| {
            let mut entries = signup_to_user();
            entries.extend(more);
            entries
        };
        // (what a reviewer would call the case, server journal, gateway journal, outcome)
        let cases: Vec<(&str, Vec<JournalEntry>, Vec<JournalEntry>, &str)> = vec![
            ("nothing reached us", vec![], vec![], "none"),
            (
                "only the admin routes were called",
                vec![entry("GET", "/_admin/journal", 200)],
                vec![entry("GET", "/_admin/journal", 200)],
                "none",
            ),
            (
                "the account request was refused",
                vec![entry(
                    "POST",
                    "/api/agentic/provisioning/account_requests",
                    400,
                )],
                vec![],
                "account request 400",
            ),
            (
                "a scopeless code refused at the exchange",
                vec![
                    entry("POST", "/api/agentic/provisioning/account_requests", 200),
                    entry("POST", "/api/agentic/oauth/token", 400),
                ],
                vec![],
                "token 400",
            ),
            (
                "the project answer did not parse (no request after it)",
                signup_to_user()[..4].to_vec(),
                vec![],
                "project 200",
            ),
            (
                "the user answer did not parse",
                signup_to_user(),
                vec![],
                "users/@me 200",
            ),
            (
                "the mint endpoint is missing (2.74.1 and later stop)",
                with(vec![entry("POST", "/api/wizard/gateway_token/", 404)]),
                vec![],
                "gateway token 404",
            ),
            (
                "2.73.0 falls back to the derived gateway after a 404 and is refused",
                with(vec![entry("POST", "/api/wizard/gateway_token/", 404)]),
                vec![
                    entry("HEAD", "/wizard", 404),
                    entry("POST", "/wizard/v1/messages", 401),
                ],
                "gateway model 401",
            ),
            (
                "minted, but the gateway is not ready",
                with(vec![entry("POST", "/api/wizard/gateway_token/", 201)]),
                vec![
                    entry("GET", "/readyz", 404),
                    entry("GET", "/readyz", 404),
                    entry("GET", "/readyz", 404),
                ],
                "gateway readyz 404",
            ),
            (
                "Claude Code probed but never sent a message",
                signup_to_user(),
                vec![entry("HEAD", "/wizard", 404)],
                "gateway probe 404",
            ),
            (
                "the pi harness was let in",
                with(vec![entry("POST", "/api/wizard/gateway_token/", 201)]),
                vec![
                    entry("GET", "/readyz", 200),
                    entry("POST", "/v1/responses", 200),
                ],
                "gateway model 200",
            ),
            (
                "a retried model call that ended well counts as let in",
                signup_to_user(),
                vec![
                    entry("POST", "/wizard/v1/messages", 529),
                    entry("POST", "/wizard/v1/messages", 200),
                    entry("POST", "/wizard/v1/messages", 401),
                ],
                "gateway model 200",
            ),
            (
                "calls off the signup path do not count",
                vec![
                    entry("POST", "/api/agentic/provisioning/account_requests", 200),
                    entry("GET", "/api/projects/1/integrations/", 404),
                    entry("POST", "/api/agentic/provisioning/deep_links", 201),
                ],
                vec![entry("GET", "/_liveness", 200)],
                "account request 200",
            ),
            (
                "a retried stage keeps the last failure",
                vec![
                    entry("POST", "/api/agentic/provisioning/account_requests", 503),
                    entry("POST", "/api/agentic/provisioning/account_requests", 429),
                ],
                vec![],
                "account request 429",
            ),
        ];
        for (case, server, gateway, expected) in cases {
            let outcome = classify(&server, &gateway);
            assert_eq!(outcome.to_string(), expected, "{case}");
            assert_eq!(
                expected.parse::<Outcome>(),
                Ok(outcome),
                "{case}: round trip"
            );
        }
    }

    /// Journals recorded by the lane (admin routes left out), in
    /// fixtures/published-wizard/journals/: the outcome each run had.
    #[test]
    fn recorded_runs_classify_as_they_were_observed() {
        let dir = crate::binaries::workspace_root().join("fixtures/published-wizard/journals");
        let cases = [
            // The April 2026 bug through the published client: the legacy
            // personal key has no scopes; the API lets a scopeless key in,
            // the gateway does not.
            ("2.62.0-legacy-removed", "gateway model 401"),
            // The derived gateway lets the personal key in, scopes sent or not.
            ("2.37.0-ceilings-removed", "gateway model 200"),
            // No mint in that era (404): 2.73.0 falls back to /wizard.
            ("2.73.0-ceilings-kept", "gateway model 200"),
            // 2.77.0 reads the refusal (403) and has no fallback.
            ("2.77.0-ceilings-kept", "gateway token 403"),
            // Today's era mints no personal key: headless signup stops there.
            ("2.62.0-current-kept", "resources 200"),
            // With the key, today's mint refuses it as a bearer (401).
            ("2.77.0-current-key-gate-on-kept", "gateway token 401"),
        ];
        for (cell, expected) in cases {
            let path = dir.join(format!("{cell}.json"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let recorded: serde_json::Value = serde_json::from_str(&text).unwrap();
            let journal = |side: &str| -> Vec<JournalEntry> {
                serde_json::from_value::<protocol::admin::Journal>(recorded[side].clone())
                    .unwrap_or_else(|error| panic!("{cell} {side}: {error}"))
                    .entries
            };
            let outcome = classify(&journal("server"), &journal("gateway"));
            assert_eq!(outcome.to_string(), expected, "{cell}");
        }
    }

    #[test]
    fn only_a_model_call_ends_a_run_early() {
        let finals: Vec<(Outcome, bool)> = vec![
            (Outcome::NoRequest, false),
            ("project 200".parse().unwrap(), false),
            ("gateway probe 404".parse().unwrap(), false),
            ("gateway model 401".parse().unwrap(), true),
            ("gateway model 200".parse().unwrap(), true),
        ];
        for (outcome, is_final) in finals {
            assert_eq!(outcome.is_final(), is_final, "{outcome}");
        }
    }

    #[test]
    fn glosses_name_the_gateway_verdicts() {
        let cases = [
            ("gateway model 401", "gateway reached and refused (401)"),
            ("gateway model 200", "gateway reached and let in"),
            ("project 200", "stopped after project (answered 200)"),
            ("gateway token 404", "stopped at gateway token (404)"),
            ("none", "no request reached our stack"),
        ];
        for (outcome, gloss) in cases {
            assert_eq!(outcome.parse::<Outcome>().unwrap().gloss(), gloss);
        }
    }

    #[test]
    fn malformed_outcomes_are_refused_with_the_reason() {
        let cases = [
            ("project", "neither"),
            ("project two-hundred", "not an HTTP status"),
            ("projects 200", "unknown stage"),
        ];
        for (text, reason) in cases {
            let error = text.parse::<Outcome>().unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
