//! What every handler shares, built once from the [`Config`].

use std::sync::Arc;

use anyhow::Context;
use protocol::random::{OsRandom, RandomSource};

use crate::agent::Scripts;
use crate::auth::Policy;
use crate::config::Config;
use crate::faults;
use crate::gateway_tokens::{self, GatewayTokens};
use crate::introspection::IntrospectionClient;
use crate::journal::RequestJournal;

/// What every handler shares: [`Shared`] behind one `Arc`, so the clone
/// each extractor makes is one reference count (as the server's state).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct Shared {
    pub policy: Arc<Policy>,
    pub introspection: Arc<IntrospectionClient>,
    pub scripts: Arc<Scripts>,
    pub journal: RequestJournal,
    /// The live view's masked headers and bodies, once it asked.
    pub details: Arc<protocol::masking::KeptDetails>,
    pub admin_token: Option<Arc<str>>,
    /// Source of generated request ids.
    pub random: Arc<dyn RandomSource>,
    /// Injected faults.
    pub faults: Arc<faults::Faults>,
    /// The gateway tokens (`phe_`) minted here.
    pub gateway_tokens: Arc<GatewayTokens>,
    /// The time, in unix seconds (the system clock; tests fix it).
    pub now: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl AppState {
    /// Builds the state; a bad agent script is an error naming its file.
    pub fn from_config(config: &Config) -> anyhow::Result<AppState> {
        let scripts = match &config.agent_dir {
            Some(dir) => Scripts::from_dir(dir)?,
            None => Scripts::embedded()?,
        };
        let introspection = IntrospectionClient::new(
            config.introspection_url.clone(),
            config.introspection_client_id.clone(),
            config.introspection_client_secret.clone(),
        )
        .context("cannot build the introspection client")?;
        Ok(AppState(Arc::new(Shared {
            policy: Arc::new(Policy {
                region: config.region,
                wizard_client_ids: config.wizard_client_ids.clone(),
            }),
            introspection: Arc::new(introspection),
            scripts: Arc::new(scripts),
            journal: RequestJournal::default(),
            details: Arc::default(),
            admin_token: config.admin_token.as_deref().map(Arc::from),
            random: Arc::new(OsRandom),
            faults: {
                faults::validate(&config.faults)
                    .map_err(|error| anyhow::anyhow!("--fault: {error}"))?;
                Arc::new(faults::Faults::new(config.faults.clone()))
            },
            gateway_tokens: Arc::new(GatewayTokens::new(&config.mint_key)),
            now: Arc::new(gateway_tokens::unix_now),
        })))
    }
}
