//! Which region a key belongs to (protocol section 9, CI mode and
//! `doctor`). Without `--region` and `--base-url`, both regions' servers are
//! asked `GET /api/users/@me/` in parallel and the one that answers 200 is
//! used. With `--region`, a key refused there but valid on the other region
//! is named as such (beyond).

use protocol::credential::Credential;
use protocol::posthog::Me;

use crate::api::{self, DeadKey, Server};
use crate::client::{host_of, Answer, Http};
use crate::error::WizardError;
use crate::log::VerboseLog;
use crate::{Config, Region};

/// Where the key works.
pub struct Located {
    /// The run's config with the discovered region filled in.
    pub config: Config,
    pub server: String,
    pub me: Me,
}

pub async fn locate(
    config: &Config,
    log: &VerboseLog,
    http: &Http,
    key: &Credential,
) -> Result<Located, WizardError> {
    let path = protocol::paths::USERS_ME;
    if config.base_url.is_some() {
        let server = config.server_url();
        println!("Checking the API key with {server}…");
        let me = api::me(
            http,
            log,
            Server {
                url: &server,
                pinned: true,
            },
            key,
        )
        .await?;
        return Ok(found(config, config.region, server, me));
    }
    if let Some(region) = config.region {
        let server = config.region_server_url(region);
        println!("Checking the API key with {server}…");
        let answer = api::get_raw(http, log, &server, path, key).await?;
        if answer.status.as_u16() == 401 {
            let other = region.other();
            let other_server = config.region_server_url(other);
            let elsewhere = api::get_raw(http, log, &other_server, path, key).await;
            if matches!(&elsewhere, Ok(answer) if answer.status.is_success()) {
                log.line(format!(
                    "the key is refused in {} but valid in {}",
                    region.wire(),
                    other.wire()
                ));
                return Err(WizardError::Auth(format!(
                    "Authentication failed (401) at {path}.\nCause: this key belongs to the {} region; run with --region {}.\nVerbose log: {}",
                    other.wire(),
                    other.flag(),
                    log.path().display()
                )));
            }
        }
        let me = api::read(&answer, path, false, log)?;
        return Ok(found(config, Some(region), server, me));
    }
    let us_server = config.region_server_url(Region::Us);
    let eu_server = config.region_server_url(Region::Eu);
    println!("Looking for the API key's region ({us_server}, {eu_server})…");
    let (us, eu) = tokio::join!(
        api::get_raw(http, log, &us_server, path, key),
        api::get_raw(http, log, &eu_server, path, key)
    );
    let answers = [(Region::Us, &us_server, &us), (Region::Eu, &eu_server, &eu)];
    // A 200 names the region; failing that, a 403 does too (the key exists
    // there but lacks user:read).
    for status in [200, 403] {
        for (region, server, answer) in answers {
            if let Ok(answer) = answer {
                if answer.status.as_u16() == status {
                    let me = api::read(answer, path, false, log)?;
                    log.line(format!("the key belongs to the {} region", region.wire()));
                    println!("The key belongs to the {} region.", region.wire());
                    return Ok(found(config, Some(region), server.clone(), me));
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
    Err(api::read::<Me>(telling, path, false, log)
        .err()
        .unwrap_or_else(|| WizardError::Internal("unreachable: no region answered 200".into())))
}

fn found(config: &Config, region: Option<Region>, server: String, me: Me) -> Located {
    let mut config = config.clone();
    config.region = region.or(config.region);
    Located { config, server, me }
}
