//! Injected faults (protocol section 10): what real networks and LLM
//! providers do to the wizard — latency, 429/500/529 answers, connections
//! dropped before or during the body, streams cut midway — set by `--fault`
//! flags or `POST /_admin/faults`, and drawn from a seeded generator so a
//! faulty run replays exactly.

use std::sync::Mutex;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::admin::{Fault, FaultRule, FaultSettings};
use protocol::gateway::{AnthropicError, AnthropicErrorBody};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The live fault settings. Counts go down as faults fire.
pub struct Faults {
    state: Mutex<State>,
    /// Requests the `hold` fault holds now.
    held: std::sync::atomic::AtomicU32,
    /// Bumped by every release; held requests wait for it to change.
    releases: tokio::sync::watch::Sender<u64>,
}

/// The longest a `hold` lasts without a release: a scenario that forgets
/// to release still ends.
pub const MAX_HOLD: Duration = Duration::from_secs(60);

struct State {
    settings: FaultSettings,
    random: StdRng,
}

/// What one request meets, in order: a wait, then at most one way to fail.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Drawn {
    pub delay: Option<Duration>,
    /// Wait for a release (the `hold` fault) before answering.
    pub hold: bool,
    pub failure: Option<Fault>,
}

impl Drawn {
    /// A short description for the journal and logs.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(delay) = self.delay {
            parts.push(format!("latency {} ms", delay.as_millis()));
        }
        if self.hold {
            parts.push("hold".into());
        }
        match &self.failure {
            Some(Fault::Status { status, .. }) => parts.push(format!("status {status}")),
            Some(Fault::Drop) => parts.push("drop".into()),
            Some(Fault::Truncate) => parts.push("truncate".into()),
            Some(Fault::CutStream) => parts.push("cut_stream".into()),
            Some(Fault::Latency { .. } | Fault::Hold) | None => {}
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

impl Faults {
    pub fn new(settings: FaultSettings) -> Faults {
        Faults {
            state: Mutex::new(State {
                random: StdRng::seed_from_u64(settings.seed),
                settings,
            }),
            held: Default::default(),
            releases: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Waits, counted in [`Faults::held`], until the next release (or
    /// [`MAX_HOLD`]).
    pub async fn hold(&self) {
        use std::sync::atomic::Ordering;
        let mut releases = self.releases.subscribe();
        releases.mark_unchanged();
        self.held.fetch_add(1, Ordering::SeqCst);
        let _ = tokio::time::timeout(MAX_HOLD, releases.changed()).await;
        self.held.fetch_sub(1, Ordering::SeqCst);
    }

    /// How many requests are held now.
    pub fn held(&self) -> u32 {
        self.held.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Lets every held request go on; answers how many there were.
    pub fn release(&self) -> u32 {
        let held = self.held();
        self.releases.send_modify(|generation| *generation += 1);
        held
    }

    /// Replaces every rule and reseeds the generator.
    pub fn replace(&self, settings: FaultSettings) {
        *self.lock() = State {
            random: StdRng::seed_from_u64(settings.seed),
            settings,
        };
    }

    /// The current settings, with the remaining counts.
    pub fn settings(&self) -> FaultSettings {
        self.lock().settings.clone()
    }

    /// Decides what the next request on `route` meets, using up counts.
    pub fn draw(&self, route: &str) -> Drawn {
        let mut state = self.lock();
        let State { settings, random } = &mut *state;
        let mut drawn = Drawn::default();
        for rule in settings.rules.iter_mut().filter(|rule| rule.route == route) {
            if rule.count == Some(0) {
                continue;
            }
            if let Some(after) = rule.after.as_mut().filter(|after| **after > 0) {
                *after -= 1;
                continue;
            }
            if let Some(probability) = rule.probability {
                if !random.gen_bool(probability.clamp(0.0, 1.0)) {
                    continue;
                }
            }
            let fires = match &rule.fault {
                Fault::Hold => {
                    drawn.hold = true;
                    true
                }
                Fault::Latency { min_ms, max_ms } => {
                    let (low, high) = (*min_ms.min(max_ms), *min_ms.max(max_ms));
                    let wait = random.gen_range(low..=high);
                    drawn.delay =
                        Some(drawn.delay.unwrap_or_default() + Duration::from_millis(wait));
                    true
                }
                // The first failing rule wins; later ones keep their counts.
                failure if drawn.failure.is_none() => {
                    drawn.failure = Some(failure.clone());
                    true
                }
                _ => false,
            };
            if fires {
                if let Some(count) = rule.count.as_mut() {
                    *count -= 1;
                }
            }
        }
        settings.rules.retain(|rule| rule.count != Some(0));
        drawn
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Checks settings from the admin route or flags: known routes, real
/// statuses, probabilities within 0..=1.
pub fn validate(settings: &FaultSettings) -> Result<(), String> {
    for (index, rule) in settings.rules.iter().enumerate() {
        let name = format!("rule {index}");
        if !matches!(rule.route.as_str(), "messages" | "readyz") {
            return Err(format!(
                "{name}: route must be messages or readyz, not {:?}",
                rule.route
            ));
        }
        if let Some(probability) = rule.probability {
            if !(0.0..=1.0).contains(&probability) || probability.is_nan() {
                return Err(format!("{name}: probability must be between 0 and 1"));
            }
        }
        if let Fault::Status { status, .. } = rule.fault {
            if !(400..=599).contains(&status) {
                return Err(format!(
                    "{name}: status must be an error status (400-599), not {status}"
                ));
            }
        }
    }
    Ok(())
}

/// Parses one `--fault` flag: a fault and optional settings, comma
/// separated: `status=529,count=2`, `status=429,retry_after=1`,
/// `status=401,after=1` (from the second request on), `hold,count=1`,
/// `latency=50..200`, `latency=100`, `drop,probability=0.5`, `truncate`,
/// `cut_stream`, `route=readyz`.
pub fn parse_flag(text: &str) -> Result<FaultRule, String> {
    let mut fault = None;
    let mut rule = FaultRule {
        route: "messages".into(),
        fault: Fault::Drop,
        count: None,
        after: None,
        probability: None,
    };
    let mut retry_after = None;
    for part in text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let (key, value) = match part.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (part, None),
        };
        let number = |value: Option<&str>| -> Result<u64, String> {
            value
                .ok_or_else(|| format!("{key} needs a value"))?
                .parse()
                .map_err(|_| format!("{key}={} is not a number", value.unwrap_or_default()))
        };
        match key {
            "status" => {
                let status =
                    u16::try_from(number(value)?).map_err(|_| "status is too large".to_owned())?;
                fault = Some(Fault::Status {
                    status,
                    retry_after_seconds: None,
                });
            }
            "latency" => {
                let value = value.ok_or("latency needs a value in ms, or a range like 50..200")?;
                let (low, high) = match value.split_once("..") {
                    Some((low, high)) => (number(Some(low))?, number(Some(high))?),
                    None => (number(Some(value))?, number(Some(value))?),
                };
                fault = Some(Fault::Latency {
                    min_ms: low,
                    max_ms: high,
                });
            }
            "drop" => fault = Some(Fault::Drop),
            "truncate" => fault = Some(Fault::Truncate),
            "cut_stream" => fault = Some(Fault::CutStream),
            "hold" => fault = Some(Fault::Hold),
            "retry_after" => retry_after = Some(number(value)?),
            "count" => {
                rule.count = Some(
                    u32::try_from(number(value)?).map_err(|_| "count is too large".to_owned())?,
                )
            }
            "after" => {
                rule.after = Some(
                    u32::try_from(number(value)?).map_err(|_| "after is too large".to_owned())?,
                )
            }
            "probability" => {
                rule.probability = Some(
                    value
                        .ok_or("probability needs a value")?
                        .parse()
                        .map_err(|_| "probability must be a number between 0 and 1".to_owned())?,
                )
            }
            "route" => rule.route = value.ok_or("route needs a value")?.to_owned(),
            other => return Err(format!("unknown fault setting {other:?} in {text:?}")),
        }
    }
    rule.fault = match (fault, retry_after) {
        (Some(Fault::Status { status, .. }), retry_after) => Fault::Status {
            status,
            retry_after_seconds: retry_after,
        },
        (Some(_), Some(_)) => return Err("retry_after goes with status=…".into()),
        (Some(fault), None) => fault,
        (None, _) => {
            return Err(format!(
                "{text:?} names no fault (status, latency, drop, truncate, cut_stream, hold)"
            ))
        }
    };
    let settings = FaultSettings {
        seed: 0,
        rules: vec![rule.clone()],
    };
    validate(&settings)?;
    Ok(rule)
}

/// The answer a status fault gives: Anthropic's error body, with
/// `Retry-After` when set (or always, for 429).
pub fn status_response(status: u16, retry_after_seconds: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (kind, message) = match status.as_u16() {
        401 => (
            "authentication_error",
            "Invalid bearer token (injected fault)",
        ),
        403 => ("permission_error", "Permission denied (injected fault)"),
        429 => ("rate_limit_error", "Rate limited (injected fault)"),
        529 => ("overloaded_error", "Overloaded (injected fault)"),
        500..=599 => ("api_error", "Internal server error (injected fault)"),
        _ => ("invalid_request_error", "Injected fault"),
    };
    let body = AnthropicError {
        kind: "error".into(),
        error: AnthropicErrorBody {
            kind: kind.into(),
            message: message.into(),
        },
    };
    let mut response = (status, Json(body)).into_response();
    let retry_after =
        retry_after_seconds.or((status == StatusCode::TOO_MANY_REQUESTS).then_some(1));
    if let Some(seconds) = retry_after {
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// A 200 whose body stops after `keep` bytes and then fails, so the
/// client sees the connection break; with no bytes to keep the connection
/// closes before any answer (a dropped connection).
pub fn broken_body(content_type: &'static str, body: Vec<u8>, keep: usize) -> Response {
    use futures_util::StreamExt;
    let head = Bytes::from(body[..keep.min(body.len())].to_vec());
    let broken = || std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "injected fault");
    let body = if head.is_empty() {
        // Nothing to send: the connection closes before the headers leave.
        Body::from_stream(futures_util::stream::once(async move {
            Err::<Bytes, _>(broken())
        }))
    } else {
        // Let the headers and the first part leave before the connection
        // breaks, as a proxy dying mid-answer would.
        let head = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) });
        let break_off = futures_util::stream::once(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err::<Bytes, _>(broken())
        });
        Body::from_stream(head.chain(break_off))
    };
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(fault: Fault, count: Option<u32>, probability: Option<f64>) -> FaultRule {
        FaultRule {
            route: "messages".into(),
            fault,
            count,
            after: None,
            probability,
        }
    }

    /// If this fails, a fault meant for a later turn of the agent fires
    /// on the first (or never), and a "writes nothing after staging"
    /// scenario tests the first turn again.
    #[test]
    fn after_lets_the_first_requests_through_then_applies() {
        let faults = Faults::new(FaultSettings {
            seed: 0,
            rules: vec![parse_flag("status=401,after=2").unwrap()],
        });
        let fired: Vec<bool> = (0..4)
            .map(|_| faults.draw("messages").failure.is_some())
            .collect();
        assert_eq!(fired, [false, false, true, true]);
        assert_eq!(faults.settings().rules[0].after, Some(0));
        assert!(faults.draw("readyz").failure.is_none());
        let once = Faults::new(FaultSettings {
            seed: 0,
            rules: vec![parse_flag("drop,after=1,count=1").unwrap()],
        });
        let fired: Vec<bool> = (0..3)
            .map(|_| once.draw("messages").failure.is_some())
            .collect();
        assert_eq!(fired, [false, true, false]);
    }

    #[test]
    fn flag_table() {
        let cases: &[(&str, Result<FaultRule, &str>)] = &[
            (
                "status=529,count=2",
                Ok(rule(
                    Fault::Status {
                        status: 529,
                        retry_after_seconds: None,
                    },
                    Some(2),
                    None,
                )),
            ),
            (
                "status=429,retry_after=3",
                Ok(rule(
                    Fault::Status {
                        status: 429,
                        retry_after_seconds: Some(3),
                    },
                    None,
                    None,
                )),
            ),
            (
                "latency=50..200",
                Ok(rule(
                    Fault::Latency {
                        min_ms: 50,
                        max_ms: 200,
                    },
                    None,
                    None,
                )),
            ),
            (
                "latency=100",
                Ok(rule(
                    Fault::Latency {
                        min_ms: 100,
                        max_ms: 100,
                    },
                    None,
                    None,
                )),
            ),
            (
                "drop,probability=0.5",
                Ok(rule(Fault::Drop, None, Some(0.5))),
            ),
            ("truncate", Ok(rule(Fault::Truncate, None, None))),
            (
                "cut_stream,count=1",
                Ok(rule(Fault::CutStream, Some(1), None)),
            ),
            ("", Err("names no fault")),
            ("status=200", Err("error status")),
            ("drop,probability=2", Err("between 0 and 1")),
            ("drop,route=elsewhere", Err("route must be")),
            ("explode", Err("unknown fault setting")),
            ("drop,retry_after=1", Err("goes with status")),
            ("latency=a..b", Err("not a number")),
        ];
        for (flag, expected) in cases {
            match (parse_flag(flag), expected) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "{flag}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{flag}: {got}"),
                (got, want) => panic!("{flag}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn counts_run_out_and_rules_disappear() {
        let faults = Faults::new(FaultSettings {
            seed: 1,
            rules: vec![rule(
                Fault::Status {
                    status: 529,
                    retry_after_seconds: None,
                },
                Some(2),
                None,
            )],
        });
        assert!(faults.draw("messages").failure.is_some());
        assert_eq!(faults.settings().rules[0].count, Some(1));
        assert!(
            faults.draw("readyz").failure.is_none(),
            "another route is not affected"
        );
        assert!(faults.draw("messages").failure.is_some());
        assert!(faults.draw("messages").failure.is_none());
        assert!(faults.settings().rules.is_empty());
    }

    #[test]
    fn probability_is_reproducible_from_the_seed() {
        let pattern = |seed| {
            let faults = Faults::new(FaultSettings {
                seed,
                rules: vec![rule(Fault::Drop, None, Some(0.5))],
            });
            (0..32)
                .map(|_| faults.draw("messages").failure.is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(pattern(7), pattern(7));
        assert_ne!(pattern(7), pattern(8));
        let fired = pattern(7).into_iter().filter(|fired| *fired).count();
        assert!((6..=26).contains(&fired), "about half of 32 fire: {fired}");
    }

    #[test]
    fn latency_adds_up_and_the_first_failure_wins() {
        let faults = Faults::new(FaultSettings {
            seed: 3,
            rules: vec![
                rule(
                    Fault::Latency {
                        min_ms: 5,
                        max_ms: 5,
                    },
                    None,
                    None,
                ),
                rule(Fault::Truncate, Some(1), None),
                rule(Fault::Drop, Some(1), None),
            ],
        });
        let drawn = faults.draw("messages");
        assert_eq!(drawn.delay, Some(Duration::from_millis(5)));
        assert_eq!(drawn.failure, Some(Fault::Truncate));
        assert_eq!(drawn.describe().unwrap(), "latency 5 ms, truncate");
        // The drop rule kept its count and fires next.
        assert_eq!(faults.draw("messages").failure, Some(Fault::Drop));
    }

    #[test]
    fn a_429_always_says_when_to_retry() {
        let response = status_response(429, None);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert!(status_response(529, None)
            .headers()
            .get(header::RETRY_AFTER)
            .is_none());
        assert_eq!(
            status_response(529, Some(2)).headers()[header::RETRY_AFTER],
            "2"
        );
    }
}
