//! Which region a key belongs to (protocol section 9, CI mode and
//! `doctor`). Without `--region` and `--base-url`, both regions' servers are
//! asked `GET /api/users/@me/` in parallel and the one that answers 200 is
//! used. With `--region`, a key refused there but valid on the other region
//! is named as such (beyond).

use protocol::credential::Credential;
use protocol::posthog::Me;

use crate::api::{self, DeadKey};
use crate::client::{host_of, Answer};
use crate::config::Region;
use crate::error::WizardError;
use crate::session::Session;

/// Where the key works.
pub struct Located {
    /// The region the run uses from here on: the discovered one, else the
    /// flag's (`None` when `--base-url` pinned the server without a region).
    pub region: Option<Region>,
    /// The server that answered for the key.
    pub server: String,
    /// The key's user, with their current project.
    pub me: Me,
}

impl Located {
    /// Makes the located region the session's, so the steps after it (the
    /// gateway above all) go to that region.
    pub fn settle(&self, session: &mut Session) {
        session.config.region = self.region;
    }
}

/// Finds the server that knows `key`, saying on stdout where it looks.
pub async fn locate(session: &Session, key: &Credential) -> Result<Located, WizardError> {
    let config = &session.config;
    let log = &session.log;
    let path = protocol::paths::USERS_ME;
    if config.pinned() {
        let server = config.server_url();
        session
            .output
            .line(format!("Checking the API key with {server}…"));
        let me = api::me(session, &server, key).await?;
        return Ok(Located {
            region: config.region,
            server,
            me,
        });
    }
    if let Some(region) = config.region {
        let server = config.region_server_url(region);
        session
            .output
            .line(format!("Checking the API key with {server}…"));
        let answer = api::get_raw(session, &server, path, key).await?;
        if answer.status.as_u16() == 401 {
            let other = region.other();
            let other_server = config.region_server_url(other);
            let elsewhere = api::get_raw(session, &other_server, path, key).await;
            if matches!(&elsewhere, Ok(answer) if answer.status.is_success()) {
                log.line(format!(
                    "the key is refused in {} but valid in {}",
                    region.upper(),
                    other.upper()
                ));
                return Err(WizardError::Auth(format!(
                    "Authentication failed (401) at {path}.\nCause: this key belongs to the {} region; run with --region {}.\nVerbose log: {}",
                    other.upper(),
                    other.as_str(),
                    log.path().display()
                )));
            }
        }
        let me = api::read(session, &answer, path)?;
        return Ok(Located {
            region: Some(region),
            server,
            me,
        });
    }
    let us_server = config.region_server_url(Region::Us);
    let eu_server = config.region_server_url(Region::Eu);
    session.output.line(format!(
        "Looking for the API key's region ({us_server}, {eu_server})…"
    ));
    let (us, eu) = tokio::join!(
        api::get_raw(session, &us_server, path, key),
        api::get_raw(session, &eu_server, path, key)
    );
    let answers = [(Region::Us, &us_server, &us), (Region::Eu, &eu_server, &eu)];
    // A 200 names the region; failing that, a 403 does too (the key exists
    // there but lacks user:read).
    for status in [200, 403] {
        for (region, server, answer) in answers {
            if let Ok(answer) = answer {
                if answer.status.as_u16() == status {
                    let me = api::read(session, answer, path)?;
                    log.line(format!("the key belongs to the {} region", region.upper()));
                    session
                        .output
                        .line(format!("The key belongs to the {} region.", region.upper()));
                    return Ok(Located {
                        region: Some(region),
                        server: server.clone(),
                        me,
                    });
                }
            }
        }
    }
    let arrived: Vec<&Answer> = answers
        .iter()
        .filter_map(|(_, _, answer)| answer.as_ref().ok())
        .collect();
    if arrived.is_empty() {
        return Err(WizardError::Network(format!(
            "Neither region's server answered: could not reach {} (US) or {} (EU). Is the stack running? Pin one with --base-url or --region.",
            host_of(&us_server),
            host_of(&eu_server)
        )));
    }
    let all_unknown = arrived.iter().all(|answer| {
        answer.status.as_u16() == 401
            && DeadKey::from_detail(&answer.message()) == Some(DeadKey::Unknown)
    });
    if all_unknown && arrived.len() == 2 {
        return Err(WizardError::Auth(format!(
            "Authentication failed (401) at {path}.\nCause: neither the US nor the EU server knows this key: it was mistyped or deleted. Check --api-key, or create a new personal API key (phx_).\nThe API said: {}\nVerbose log: {}",
            arrived[0].message(),
            log.path().display()
        )));
    }
    // Prefer the answer that names a cause other than "unknown": a revoked
    // or expired key is known to that region.
    let telling = arrived
        .iter()
        .find(|answer| {
            matches!(
                DeadKey::from_detail(&answer.message()),
                Some(DeadKey::Expired | DeadKey::Revoked)
            )
        })
        .unwrap_or(&arrived[0]);
    Err(api::read::<Me>(session, telling, path)
        .err()
        .unwrap_or_else(|| WizardError::Internal("unreachable: no region answered 200".into())))
}
