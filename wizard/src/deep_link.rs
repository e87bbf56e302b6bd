//! The dashboard link at the end of a signup or login run (protocol
//! section 4): `POST /api/agentic/provisioning/deep_links` with the run's
//! `pha_`. The link signs the person in once, within 10 minutes. Its token
//! is a bearer secret: it goes to stdout for the person and never into the
//! verbose log. A refused or failed call costs only the link: today's
//! server refuses every public client (the wizard applications among them,
//! protocol section 8), so a run against it ends without one.

use protocol::credential::Credential;
use protocol::provisioning::{DeepLinkAnswer, DeepLinkRequest};
use protocol::{paths, API_VERSION, API_VERSION_HEADER};

use crate::session::Session;

/// The purpose that opens the project's dashboard.
pub const PURPOSE_DASHBOARD: &str = "dashboard";

/// Asks the run's server for a dashboard link; `None` (logged) when it
/// cannot.
pub async fn dashboard(session: &Session, token: &Credential) -> Option<DeepLinkAnswer> {
    let log = &session.log;
    let url = format!("{}{}", session.config.server_url(), paths::DEEP_LINKS);
    let builder = session
        .client()
        .post(&url)
        .header(API_VERSION_HEADER, API_VERSION)
        .bearer_auth(token.expose())
        .json(&DeepLinkRequest {
            purpose: Some(PURPOSE_DASHBOARD.into()),
            path: None,
        });
    let answer = match session.send("dashboard deep link", &url, builder).await {
        Ok(answer) => answer,
        Err(error) => {
            log.line(format!("no dashboard link: {error}"));
            return None;
        }
    };
    if !answer.status.is_success() {
        log.line(format!(
            "no dashboard link: the server answered {}: {}",
            answer.status,
            answer.message()
        ));
        return None;
    }
    match answer.json::<DeepLinkAnswer>("the deep link endpoint") {
        Ok(link) if link.url.starts_with("http://") || link.url.starts_with("https://") => {
            log.line(format!(
                "dashboard link issued (single-use, expires at {})",
                link.expires_at
            ));
            Some(link)
        }
        Ok(_) => {
            log.line("no dashboard link: the answer's url is not an http(s) URL");
            None
        }
        Err(error) => {
            log.line(format!("no dashboard link: {error}"));
            None
        }
    }
}
