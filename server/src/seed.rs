//! Seed files: the embedded defaults (`fixtures/seeds/default.toml`) and any
//! `--seed FILE`. A seed registers OAuth applications (partners and resource
//! servers); later issues extend it with users, teams and keys.

use serde::Deserialize;

use protocol::random::{OsRandom, RandomSource};

use crate::clock::Clock;
use crate::db::{Application, AuthMethod, Db, RateLimits};
use crate::policy::ScopePolicy;

pub mod accounts;

/// The embedded defaults, loaded at every start.
pub const DEFAULT_SEED: &str = include_str!("../../fixtures/seeds/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub partners: Vec<PartnerSeed>,
    #[serde(default)]
    pub resource_servers: Vec<ResourceServerSeed>,
    #[serde(default)]
    pub organizations: Vec<accounts::OrganizationSeed>,
    #[serde(default)]
    pub users: Vec<accounts::UserSeed>,
    #[serde(default)]
    pub teams: Vec<accounts::TeamSeed>,
    #[serde(default)]
    pub personal_api_keys: Vec<accounts::PersonalApiKeySeed>,
    #[serde(default)]
    pub health_issues: Vec<accounts::HealthIssueSeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerSeed {
    pub client_id: String,
    pub label: String,
    pub auth_method: PartnerAuthMethod,
    /// `wizard` (the wizard's login list), `orchestrator` (the list of 18),
    /// or absent when `ceiling_scopes` lists them.
    #[serde(default)]
    pub ceiling: Option<NamedCeiling>,
    #[serde(default)]
    pub ceiling_scopes: Option<Vec<String>>,
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// HMAC signing secrets, at most two (rotation).
    #[serde(default)]
    pub signing_secrets: Vec<String>,
    #[serde(default = "active_by_default")]
    pub active: bool,
    /// Per hour; an absent kind (or table) is unlimited.
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// Redirect URIs the partner registered, added to any it has; today's
    /// consent sends the code to the first (in sorted order).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

fn active_by_default() -> bool {
    true
}

/// How a seeded partner authenticates (`basic` is a resource server's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerAuthMethod {
    Hmac,
    Pkce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamedCeiling {
    Wizard,
    Orchestrator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    CanCreateAccounts,
    CanProvisionResources,
    CanIssueDeepLinks,
    SkipExistingUserConsent,
    /// The per-application gate on a personal API key with each resource,
    /// in eras that gate it (today's: off for the wizard applications).
    IssuesPersonalApiKey,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceServerSeed {
    pub client_id: String,
    pub label: String,
    pub secret: String,
}

impl Seed {
    /// Parses a seed, naming `origin` in any error.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Seed> {
        let seed: Seed = toml::from_str(text)
            .map_err(|error| anyhow::anyhow!("seed {origin} is invalid: {error}"))?;
        for partner in &seed.partners {
            partner
                .application()
                .map_err(|error| anyhow::anyhow!("seed {origin}: {error}"))?;
        }
        seed.accounts()
            .check()
            .map_err(|error| anyhow::anyhow!("seed {origin}: {error:#}"))?;
        Ok(seed)
    }

    /// [`Seed::apply_at`] on the system clock, with OS randomness: for
    /// tools and tests that seed a database without a running server.
    pub async fn apply(&self, db: &Db, policy: &ScopePolicy) -> anyhow::Result<()> {
        self.apply_at(db, policy, Clock::system().now(), &OsRandom)
            .await
    }

    /// Registers everything in the seed; a partner's named ceiling is the
    /// era's (`policy`). New rows are created at `now` (the server's clock)
    /// and new ids and project keys drawn from `random` (its random source).
    pub async fn apply_at(
        &self,
        db: &Db,
        policy: &ScopePolicy,
        now: i64,
        random: &dyn RandomSource,
    ) -> anyhow::Result<()> {
        for partner in &self.partners {
            db.upsert_application(&partner.application_in(policy)?)
                .await?;
            for uri in &partner.redirect_uris {
                db.register_redirect_uri(&partner.client_id, uri).await?;
            }
        }
        for server in &self.resource_servers {
            db.upsert_application(&server.application()).await?;
        }
        self.accounts().apply(db, now, random).await?;
        Ok(())
    }

    fn accounts(&self) -> accounts::Accounts<'_> {
        accounts::Accounts {
            organizations: &self.organizations,
            users: &self.users,
            teams: &self.teams,
            personal_api_keys: &self.personal_api_keys,
            health_issues: &self.health_issues,
        }
    }
}

impl NamedCeiling {
    pub fn as_str(self) -> &'static str {
        match self {
            NamedCeiling::Wizard => "wizard",
            NamedCeiling::Orchestrator => "orchestrator",
        }
    }
}

impl PartnerSeed {
    /// The application as the era `policy` sees it: a named ceiling is the
    /// era's list for that name.
    fn application_in(&self, policy: &ScopePolicy) -> anyhow::Result<Application> {
        self.application_with(|name| {
            policy
                .named_ceiling(name.as_str())
                .map(<[String]>::to_vec)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "partner {}: era {} has no ceiling named {}",
                        self.client_id,
                        policy.name,
                        name.as_str()
                    )
                })
        })
    }

    /// The application with the named ceilings of today's contract, to
    /// check a seed before any era is chosen.
    fn application(&self) -> anyhow::Result<Application> {
        self.application_with(|name| {
            Ok(match name {
                NamedCeiling::Wizard => to_strings(&protocol::scope::WIZARD_APPLICATION_CEILING),
                NamedCeiling::Orchestrator => to_strings(&protocol::scope::ORCHESTRATOR_CEILING),
            })
        })
    }

    fn application_with(
        &self,
        named: impl Fn(NamedCeiling) -> anyhow::Result<Vec<String>>,
    ) -> anyhow::Result<Application> {
        let ceiling: Vec<String> = match (&self.ceiling, &self.ceiling_scopes) {
            (Some(name), None) => named(*name)?,
            (None, Some(scopes)) => scopes.clone(),
            _ => anyhow::bail!(
                "partner {}: give exactly one of `ceiling` (wizard | orchestrator) or `ceiling_scopes`",
                self.client_id
            ),
        };
        for scope in ceiling
            .iter()
            .filter(|scope| *scope != crate::policy::DEFAULT_CEILING)
        {
            protocol::scope::Scope::parse(scope)
                .map_err(|error| anyhow::anyhow!("partner {}: {error}", self.client_id))?;
        }
        let secrets = match self.auth_method {
            PartnerAuthMethod::Hmac
                if self.signing_secrets.is_empty() || self.signing_secrets.len() > 2 =>
            {
                anyhow::bail!(
                    "partner {}: an hmac partner needs one or two signing_secrets",
                    self.client_id
                )
            }
            PartnerAuthMethod::Pkce if !self.signing_secrets.is_empty() => {
                anyhow::bail!(
                    "partner {}: a pkce partner is public and has no signing_secrets",
                    self.client_id
                )
            }
            _ => self.signing_secrets.clone(),
        };
        for (kind, limit) in [
            ("account_requests", self.rate_limits.account_requests),
            ("token_exchanges", self.rate_limits.token_exchanges),
            ("resource_creates", self.rate_limits.resource_creates),
            ("token_refreshes", self.rate_limits.token_refreshes),
        ] {
            if limit.is_some_and(|limit| limit < 0) {
                anyhow::bail!(
                    "partner {}: rate_limits.{kind} must not be negative",
                    self.client_id
                );
            }
        }
        let has = |capability| self.capabilities.contains(&capability);
        Ok(Application {
            client_id: self.client_id.clone(),
            label: self.label.clone(),
            kind: "partner".into(),
            auth_method: match self.auth_method {
                PartnerAuthMethod::Hmac => AuthMethod::Hmac,
                PartnerAuthMethod::Pkce => AuthMethod::Pkce,
            },
            secrets,
            active: self.active,
            can_create_accounts: has(Capability::CanCreateAccounts),
            can_provision_resources: has(Capability::CanProvisionResources),
            can_issue_deep_links: has(Capability::CanIssueDeepLinks),
            issues_personal_api_key: has(Capability::IssuesPersonalApiKey),
            skip_existing_user_consent: has(Capability::SkipExistingUserConsent),
            scope_ceiling: ceiling.join(" "),
            rate_limits: self.rate_limits,
        })
    }
}

impl ResourceServerSeed {
    fn application(&self) -> Application {
        Application {
            client_id: self.client_id.clone(),
            label: self.label.clone(),
            kind: "resource_server".into(),
            auth_method: AuthMethod::Basic,
            secrets: vec![protocol::credential::hash_secret(&self.secret)],
            active: true,
            can_create_accounts: false,
            can_provision_resources: false,
            can_issue_deep_links: false,
            issues_personal_api_key: false,
            skip_existing_user_consent: false,
            scope_ceiling: String::new(),
            rate_limits: RateLimits::default(),
        }
    }
}

fn to_strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|scope| (*scope).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_seed_registers_the_four_wizard_applications_and_the_gateway() {
        let seed = Seed::parse(DEFAULT_SEED, "default").unwrap();
        let ids: Vec<&str> = seed.partners.iter().map(|p| p.client_id.as_str()).collect();
        assert_eq!(ids, protocol::oauth::WIZARD_CLIENT_IDS);
        assert_eq!(
            seed.resource_servers[0].client_id,
            protocol::oauth::DEV_INTROSPECTION_CLIENT_ID
        );
        assert_eq!(
            seed.resource_servers[0].secret,
            protocol::oauth::DEV_INTROSPECTION_CLIENT_SECRET
        );
        for partner in &seed.partners {
            let application = partner.application().unwrap();
            assert!(
                !application.skip_existing_user_consent,
                "public clients must not skip consent"
            );
            assert!(application
                .ceiling()
                .contains(&"llm_gateway:read".to_owned()));
        }
    }

    #[test]
    fn bad_seeds_name_the_problem() {
        let cases = [
            ("[[partners]]\nclient_id='x'\nlabel='x'\nauth_method='pkce'\nceiling='wizard'\nsurprise=1", "surprise"),
            ("[[partners]]\nclient_id='x'\nlabel='x'\nauth_method='hmac'\nceiling='orchestrator'", "signing_secrets"),
            ("[[partners]]\nclient_id='x'\nlabel='x'\nauth_method='pkce'", "exactly one of"),
            ("[[partners]]\nclient_id='x'\nlabel='x'\nauth_method='pkce'\nceiling_scopes=['introspection']", "introspection"),
        ];
        for (text, needle) in cases {
            let error = Seed::parse(text, "test").unwrap_err().to_string();
            assert!(error.contains(needle), "{needle}: {error}");
        }
    }

    /// Seeded rows are created on the server's clock and draw their ids and
    /// keys from its random source, so a test's fixed clock and seeded
    /// randomness reach them (and two servers seeded alike agree).
    #[tokio::test]
    async fn seeding_uses_the_clock_and_random_source_it_is_given() {
        use protocol::random::SeededRandom;
        const SEED: &str = "[[organizations]]\nname='O'\n[[users]]\nemail='a@example.com'\nmemberships=[{organization='O'}]\n[[teams]]\norganization='O'\nname='T'\nid=7\n";
        let seed = Seed::parse(SEED, "test").expect("parses");
        let policy = ScopePolicy::load("current").expect("profile");
        let mut seen = Vec::new();
        for _ in 0..2 {
            let db = Db::connect("sqlite::memory:").await.expect("opens");
            seed.apply_at(&db, &policy, 1_234, &SeededRandom::new(7))
                .await
                .expect("applies");
            let user = db.user_by_email("a@example.com").await.expect("reads");
            let user = user.expect("seeded user");
            assert_eq!(user.created_at, 1_234);
            let team = db.team(7).await.expect("reads").expect("seeded team");
            seen.push((user.uuid, team.organization_id, team.api_token));
        }
        assert_eq!(seen[0], seen[1]);
    }
}
