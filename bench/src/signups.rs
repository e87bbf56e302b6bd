//! Full signups at each concurrency level against the peer's single token,
//! then the top level again once the database has grown.

use std::time::Duration;

use anyhow::Result;

use crate::context::{rate, record, round_line, Context_, MAX_FLOWS};
use crate::flows::{self, Emails};
use crate::load::{closed_loop, peak_rss_during, LoadResult};
use crate::programs::{self, Launch, Program};
use crate::report::{Better, Row};
use crate::single::max_opt;

/// The longest the database may take to grow before the grown row is
/// measured on whatever it reached (the row names the count).
const GROW_FOR_AT_MOST: Duration = Duration::from_secs(240);

/// What the signup part leaves for the rest of the run.
#[derive(Default)]
pub(crate) struct SignupFigures {
    pub(crate) server_peak: Option<f64>,
    pub(crate) peer_peak: Option<f64>,
}

/// One comparison at `clients`: ours and the peer's alternately for the
/// rounds, pooled.
struct Level {
    ours: LoadResult,
    theirs: Option<LoadResult>,
}

/// How the signup part starts a server of its own (`label` names its
/// files): [`crate::run`]'s launch, on a new database file.
pub(crate) type ServerLaunch = fn(&Context_, &str) -> Result<Launch>;

/// Every `--signup-clients` level, each on a server of its own with a
/// fresh database, then (when `--grown-accounts` is above zero) the top
/// level again on the top level's server, after enough signups that its
/// database holds that many accounts.
pub(crate) async fn signups(
    cx: &mut Context_,
    launch: ServerLaunch,
    peer: Option<&Program>,
    emails: &Emails,
) -> Result<SignupFigures> {
    let http = flows::client()?;
    let mut figures = SignupFigures::default();
    let levels = cx.options.signup_clients.clone();
    let top = levels.iter().copied().max().unwrap_or(64);
    // The top level's server and the accounts its database holds.
    let mut grown: Option<(Program, u64)> = None;
    for &clients in &levels {
        let server = programs::start(&launch(cx, &format!("signups{clients}"))?).await?;
        let level = level(
            cx,
            &http,
            &server,
            peer,
            emails,
            clients,
            "signups",
            &mut figures,
        )
        .await;
        // The top level's server stays, to be grown (a repeated top level
        // replaces it); every other stops.
        if clients == top {
            if let Some((kept, _)) = grown.replace((server, level.ours.flows)) {
                kept.stop().await;
            }
        } else {
            server.stop().await;
        }
        push_row(
            cx,
            &format!("full signups/s vs peer single tokens/s, {clients} clients"),
            &level,
            "ours: account request → token → resources on SQLite (WAL), fresh database; peer: one client_credentials JWT",
            ("signup (ours)", "client_credentials token (peer)"),
        );
    }
    let wanted = cx.options.grown_accounts;
    let (server, mut accounts) = match grown {
        Some(grown) if wanted > 0 => grown,
        Some((server, _)) => {
            server.stop().await;
            return Ok(figures);
        }
        None => return Ok(figures),
    };
    if accounts < wanted {
        let missing = wanted - accounts;
        eprintln!("bench: growing the database by {missing} signups to {wanted} accounts");
        let (http_, base, emails_) = (http.clone(), server.url.clone(), emails.clone());
        let grown = closed_loop(top, GROW_FOR_AT_MOST, missing, move |_| {
            let (http, base, email) = (http_.clone(), base.clone(), emails_.next());
            async move {
                let mut steps = Vec::new();
                flows::signup(&http, &base, &email, &mut steps).await?;
                Ok(steps)
            }
        })
        .await;
        accounts += grown.flows;
        if grown.errors > 0 {
            eprintln!(
                "bench: growing the database: {} errors (first: {})",
                grown.errors,
                grown
                    .first_error
                    .as_deref()
                    .map_or("–".to_owned(), protocol::credential::redact_secrets)
            );
        }
    }
    let level = level(
        cx,
        &http,
        &server,
        peer,
        emails,
        top,
        "signups, grown database",
        &mut figures,
    )
    .await;
    server.stop().await;
    push_row(
        cx,
        &format!(
            "full signups/s on a grown database ({} accounts) vs peer single tokens/s, {top} clients",
            thousands(accounts)
        ),
        &level,
        "the same flows once the database holds the accounts named (users, organizations, teams, tokens, keys)",
        (
            "signup, grown database (ours)",
            "client_credentials token, beside the grown database (peer)",
        ),
    );
    Ok(figures)
}

#[allow(clippy::too_many_arguments)]
async fn level(
    cx: &mut Context_,
    http: &reqwest::Client,
    server: &Program,
    peer: Option<&Program>,
    emails: &Emails,
    clients: usize,
    what: &str,
    figures: &mut SignupFigures,
) -> Level {
    let duration = Duration::from_secs(cx.options.seconds);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 1..=cx.options.rounds {
        let (http_, base, emails_) = (http.clone(), server.url.clone(), emails.clone());
        let (run, peaks) = peak_rss_during(
            &[server.pid],
            closed_loop(clients, duration, MAX_FLOWS, move |_| {
                let (http, base, email) = (http_.clone(), base.clone(), emails_.next());
                async move {
                    let mut steps = Vec::new();
                    flows::signup(&http, &base, &email, &mut steps).await?;
                    Ok(steps)
                }
            }),
        )
        .await;
        figures.server_peak = max_opt(figures.server_peak, peaks[0]);
        ours.push(run);
        if let Some(peer) = peer {
            let (http_, base) = (http.clone(), peer.url.clone());
            let (run, peaks) = peak_rss_during(
                &[peer.pid],
                closed_loop(clients, duration, MAX_FLOWS, move |_| {
                    let (http, base) = (http_.clone(), base.clone());
                    async move {
                        let mut steps = Vec::new();
                        flows::peer_token(&http, &base, &mut steps).await?;
                        Ok(steps)
                    }
                }),
            )
            .await;
            figures.peer_peak = max_opt(figures.peer_peak, peaks[0]);
            theirs.push(run);
        }
        round_line(what, clients, round, cx.options.rounds, &ours, &theirs);
    }
    Level {
        ours: LoadResult::pooled(ours),
        theirs: (!theirs.is_empty()).then(|| LoadResult::pooled(theirs)),
    }
}

fn push_row(cx: &mut Context_, name: &str, level: &Level, note: &str, flows: (&str, &str)) {
    record(cx, flows.0, &level.ours);
    if let Some(theirs) = &level.theirs {
        record(cx, flows.1, theirs);
    }
    cx.rows.push(Row::new(
        name,
        "1/s",
        rate(&level.ours),
        level.theirs.as_ref().and_then(rate),
        Better::Higher,
        note,
    ));
}

/// `30512` → `30,512`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_grouped_by_commas() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(30_512), "30,512");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
