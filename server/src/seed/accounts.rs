//! Seeded accounts: `[[organizations]]`, `[[users]]`, `[[teams]]`,
//! `[[personal_api_keys]]` and `[[health_issues]]`. Checked whole at parse
//! time (every error names the file and the entry), applied as upserts so a
//! restart on the same database neither fails nor duplicates.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context as _};
use serde::Deserialize;

use protocol::credential::{hash_secret, Credential, CredentialKind};
use protocol::random::RandomSource;

use crate::db::health_issues::HealthIssueRow;
use crate::db::seeds::{SeededKey, SeededTeam};
use crate::db::Db;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationSeed {
    pub name: String,
    /// A fixed UUID; absent: found again by name, else a random one.
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSeed {
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    /// For the interactive sign-in; stored as an Argon2id hash.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub memberships: Vec<MembershipSeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipSeed {
    /// An organization's `name` in the same seed.
    pub organization: String,
    /// Unix seconds; absent: the list's order (0, 1, 2… seconds), so the
    /// first listed is the oldest.
    #[serde(default)]
    pub joined_at: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSeed {
    pub organization: String,
    pub name: String,
    #[serde(default)]
    pub is_demo: bool,
    #[serde(default)]
    pub id: Option<i64>,
    /// A fixed `phc_` project key; absent: a random one (kept on restart).
    #[serde(default)]
    pub api_token: Option<String>,
}

/// A team named by its `id` or its `name` (unique in the seed).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TeamRef {
    Id(i64),
    Name(String),
}

impl std::fmt::Display for TeamRef {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TeamRef::Id(id) => write!(formatter, "{id}"),
            TeamRef::Name(name) => write!(formatter, "{name:?}"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalApiKeySeed {
    /// A user's email in the same seed.
    pub user: String,
    pub team: TeamRef,
    /// The full plaintext `phx_…` to accept; stored only as its SHA-256.
    /// Seeds use obviously fake values: it must contain `fake`.
    pub key: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub revoked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueStatus {
    Active,
    Resolved,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthIssueSeed {
    pub team: TeamRef,
    pub kind: String,
    pub severity: Severity,
    pub status: IssueStatus,
    #[serde(default)]
    pub dismissed: bool,
    /// RFC 3339.
    pub created_at: String,
}

/// The account part of a seed.
#[derive(Debug, Clone, Default)]
pub struct Accounts<'a> {
    pub organizations: &'a [OrganizationSeed],
    pub users: &'a [UserSeed],
    pub teams: &'a [TeamSeed],
    pub personal_api_keys: &'a [PersonalApiKeySeed],
    pub health_issues: &'a [HealthIssueSeed],
}

fn rfc3339(text: &str) -> anyhow::Result<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.timestamp())
        .map_err(|_| anyhow!("{text:?} is not an RFC 3339 date-time"))
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        })
}

impl Accounts<'_> {
    /// Checks every entry and every reference between entries.
    pub fn check(&self) -> anyhow::Result<()> {
        let mut organizations = BTreeMap::new();
        for (index, organization) in self.organizations.iter().enumerate() {
            let entry = format!("organizations[{index}] ({:?})", organization.name);
            if organization.name.trim().is_empty() {
                bail!("{entry}: name is empty");
            }
            if let Some(id) = &organization.id {
                if !is_uuid(id) {
                    bail!("{entry}: id {id:?} is not a UUID");
                }
            }
            if organizations
                .insert(organization.name.as_str(), ())
                .is_some()
            {
                bail!("{entry}: another organization has this name");
            }
        }
        let mut users: BTreeMap<String, &UserSeed> = BTreeMap::new();
        for (index, user) in self.users.iter().enumerate() {
            let entry = format!("users[{index}] ({:?})", user.email);
            let email = crate::fields::parse_email(&user.email)
                .map_err(|error| anyhow!("{entry}: {error}"))?;
            if user.password.as_deref().is_some_and(str::is_empty) {
                bail!("{entry}: password is empty");
            }
            for membership in &user.memberships {
                if !organizations.contains_key(membership.organization.as_str()) {
                    bail!(
                        "{entry}: membership names organization {:?}, which this seed does not define",
                        membership.organization
                    );
                }
            }
            if users.insert(email, user).is_some() {
                bail!("{entry}: another user has this email");
            }
        }
        let mut team_names: BTreeMap<&str, usize> = BTreeMap::new();
        let mut team_ids = BTreeMap::new();
        for (index, team) in self.teams.iter().enumerate() {
            let entry = format!("teams[{index}] ({:?})", team.name);
            if team.name.trim().is_empty() {
                bail!("{entry}: name is empty");
            }
            if !organizations.contains_key(team.organization.as_str()) {
                bail!(
                    "{entry}: organization {:?} is not defined in this seed",
                    team.organization
                );
            }
            if let Some(id) = team.id {
                if id <= 0 {
                    bail!("{entry}: id must be a positive integer");
                }
                if team_ids.insert(id, ()).is_some() {
                    bail!("{entry}: another team has id {id}");
                }
            }
            if let Some(token) = &team.api_token {
                if Credential::parse(token).map(|key| key.kind()).ok()
                    != Some(CredentialKind::ProjectApiKey)
                {
                    bail!("{entry}: api_token must be a phc_ project key");
                }
            }
            *team_names.entry(team.name.as_str()).or_default() += 1;
        }
        let find_team = |team: &TeamRef| -> anyhow::Result<&TeamSeed> {
            let found: Vec<&TeamSeed> = self
                .teams
                .iter()
                .filter(|seeded| match team {
                    TeamRef::Id(id) => seeded.id == Some(*id),
                    TeamRef::Name(name) => &seeded.name == name,
                })
                .collect();
            match found.as_slice() {
                [one] => Ok(one),
                [] => bail!("team {team} is not defined in this seed"),
                _ => bail!("team {team} names several teams; name it by id"),
            }
        };
        for (index, key) in self.personal_api_keys.iter().enumerate() {
            let entry = format!("personal_api_keys[{index}] (user {:?})", key.user);
            let parsed = Credential::parse(&key.key).ok();
            if parsed.map(|key| key.kind()) != Some(CredentialKind::PersonalApiKey) {
                bail!("{entry}: key must be a full phx_ personal API key");
            }
            if !key.key.contains("fake") {
                bail!("{entry}: key must be an obviously fake value (containing `fake`)");
            }
            for scope in &key.scopes {
                protocol::scope::Scope::parse(scope)
                    .map_err(|error| anyhow!("{entry}: {error}"))?;
            }
            if let Some(expires_at) = &key.expires_at {
                rfc3339(expires_at).with_context(|| format!("{entry}: expires_at"))?;
            }
            let email = canonical(&key.user);
            let user = users.get(&email).ok_or_else(|| {
                anyhow!("{entry}: user {:?} is not defined in this seed", key.user)
            })?;
            let team = find_team(&key.team).map_err(|error| anyhow!("{entry}: {error}"))?;
            if !user
                .memberships
                .iter()
                .any(|membership| membership.organization == team.organization)
            {
                bail!(
                    "{entry}: {:?} is not a member of {:?}, the organization of team {}",
                    key.user,
                    team.organization,
                    key.team
                );
            }
        }
        for (index, issue) in self.health_issues.iter().enumerate() {
            let entry = format!("health_issues[{index}] ({:?})", issue.kind);
            if issue.kind.trim().is_empty() {
                bail!("{entry}: kind is empty");
            }
            find_team(&issue.team).map_err(|error| anyhow!("{entry}: {error}"))?;
            rfc3339(&issue.created_at).with_context(|| format!("{entry}: created_at"))?;
        }
        Ok(())
    }

    /// Creates or updates everything (after [`Accounts::check`]); new rows
    /// are created at `now`, new ids and keys drawn from `random`.
    pub async fn apply(&self, db: &Db, now: i64, random: &dyn RandomSource) -> anyhow::Result<()> {
        let mut organizations: BTreeMap<&str, String> = BTreeMap::new();
        for organization in self.organizations {
            let id = db
                .upsert_seeded_organization(
                    organization.id.as_deref(),
                    &organization.name,
                    &random.uuid(),
                    now,
                )
                .await?;
            organizations.insert(organization.name.as_str(), id);
        }
        let mut users: BTreeMap<String, i64> = BTreeMap::new();
        for user in self.users {
            let email = canonical(&user.email);
            let (id, stored) = db
                .upsert_seeded_user(&email, &user.first_name, &random.uuid(), now)
                .await?;
            if let Some(password) = &user.password {
                let current = stored
                    .as_deref()
                    .is_some_and(|stored| crate::password::verify(password, stored));
                if !current {
                    db.set_password_hash(id, &crate::password::hash(password, random))
                        .await?;
                }
            }
            for (position, membership) in user.memberships.iter().enumerate() {
                let organization = &organizations[membership.organization.as_str()];
                let joined_at = membership.joined_at.unwrap_or(position as i64);
                db.upsert_membership(id, organization, joined_at).await?;
            }
            users.insert(email, id);
        }
        let mut teams: Vec<i64> = Vec::new();
        for team in self.teams {
            let id = db
                .upsert_seeded_team(&SeededTeam {
                    id: team.id,
                    organization_id: organizations[team.organization.as_str()].clone(),
                    name: team.name.clone(),
                    is_demo: team.is_demo,
                    api_token: team.api_token.clone(),
                    generated_api_token: Credential::generate(
                        CredentialKind::ProjectApiKey,
                        random,
                    )
                    .expose()
                    .to_owned(),
                    now,
                })
                .await?;
            teams.push(id);
        }
        let team_id = |team: &TeamRef| -> i64 {
            let position = self
                .teams
                .iter()
                .position(|seeded| match team {
                    TeamRef::Id(id) => seeded.id == Some(*id),
                    TeamRef::Name(name) => &seeded.name == name,
                })
                .expect("checked at parse time");
            teams[position]
        };
        for key in self.personal_api_keys {
            let credential = Credential::parse(&key.key)?;
            let expires_at = key.expires_at.as_deref().map(rfc3339).transpose()?;
            db.upsert_seeded_key(&SeededKey {
                key_hash: credential.hash(),
                masked: credential.masked(),
                user_id: users[&canonical(&key.user)],
                team_id: team_id(&key.team),
                scopes: key.scopes.join(" "),
                expires_at,
                // A revoked seed key counts as revoked since the epoch, so it
                // stays revoked whatever the clock says.
                revoked_at: key.revoked.then_some(0),
                now,
            })
            .await?;
        }
        for issue in self.health_issues {
            let team_id = team_id(&issue.team);
            let created_at = rfc3339(&issue.created_at)?;
            db.upsert_health_issue(&HealthIssueRow {
                id: health_issue_id(team_id, &issue.kind, created_at),
                team_id,
                kind: issue.kind.clone(),
                severity: match issue.severity {
                    Severity::Critical => "critical",
                    Severity::Warning => "warning",
                    Severity::Info => "info",
                }
                .into(),
                status: match issue.status {
                    IssueStatus::Active => "active",
                    IssueStatus::Resolved => "resolved",
                }
                .into(),
                dismissed: issue.dismissed,
                created_at,
            })
            .await?;
        }
        Ok(())
    }
}

/// A seeded address in its canonical form; validation has already refused
/// any that has none, so this only folds case.
fn canonical(email: &str) -> String {
    protocol::email::Email::parse(email)
        .map(protocol::email::Email::into_string)
        .unwrap_or_else(|_| email.trim().to_ascii_lowercase())
}

/// A stable id for a seeded issue (the same entry gets the same id on every
/// start), in UUID form.
fn health_issue_id(team_id: i64, kind: &str, created_at: i64) -> String {
    let hash = hash_secret(&format!("health_issue/{team_id}/{kind}/{created_at}"));
    uuid::Uuid::try_parse(&hash[..32])
        .expect("a SHA-256 in hex starts with 32 hex digits")
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use crate::seed::Seed;

    const BASE: &str = "[[organizations]]\nname='O'\n[[users]]\nemail='a@example.com'\nmemberships=[{organization='O'}]\n[[teams]]\norganization='O'\nname='T'\nid=7\n";

    #[test]
    fn bad_account_seeds_name_the_file_and_the_entry() {
        fn check(extra: &str, needles: &[&str]) {
            let text = format!("{BASE}{extra}");
            let error = Seed::parse(&text, "file.toml").unwrap_err().to_string();
            assert!(error.contains("file.toml"), "{error}");
            for needle in needles {
                assert!(error.contains(needle), "{needle}: {error}");
            }
        }
        check(
            "[[organizations]]\nname='O'",
            &["organizations[1]", "another organization"],
        );
        check(
            "[[organizations]]\nname='P'\nid='nope'",
            &["organizations[1]", "not a UUID"],
        );
        check("[[users]]\nemail='bad'", &["users[1]", "valid email"]);
        check(
            "[[users]]\nemail='b@example.com'\nmemberships=[{organization='X'}]",
            &["users[1]", "\"X\""],
        );
        check(
            "[[teams]]\norganization='X'\nname='U'",
            &["teams[1]", "\"X\""],
        );
        check(
            "[[teams]]\norganization='O'\nname='U'\napi_token='phx_nope_fake'",
            &["teams[1]", "phc_"],
        );
        check("[[personal_api_keys]]\nuser='a@example.com'\nteam=7\nkey='phx_real_looking_0000000000'", &["personal_api_keys[0]", "fake"]);
        check(
            "[[personal_api_keys]]\nuser='a@example.com'\nteam=7\nkey='phc_fake'",
            &["personal_api_keys[0]", "phx_"],
        );
        check(
            "[[personal_api_keys]]\nuser='z@example.com'\nteam=7\nkey='phx_fake_0000000000'",
            &["personal_api_keys[0]", "z@example.com"],
        );
        check(
            "[[personal_api_keys]]\nuser='a@example.com'\nteam='Nope'\nkey='phx_fake_0000000000'",
            &["personal_api_keys[0]", "Nope"],
        );
        check("[[personal_api_keys]]\nuser='a@example.com'\nteam=7\nkey='phx_fake_0000000000'\nexpires_at='soon'", &["personal_api_keys[0]", "expires_at"]);
        check("[[health_issues]]\nteam=7\nkind='k'\nseverity='fatal'\nstatus='active'\ncreated_at='2026-01-01T00:00:00Z'", &["fatal"]);
        check("[[health_issues]]\nteam=8\nkind='k'\nseverity='info'\nstatus='active'\ncreated_at='2026-01-01T00:00:00Z'", &["health_issues[0]", "team 8"]);
        check(
            "[[users]]\nemail='c@example.com'\nsurprise=1",
            &["surprise"],
        );
        check("[[partners]]\nclient_id='x'\nlabel='x'\nauth_method='pkce'\nceiling='wizard'\nrate_limits={account_requests=-1}", &["rate_limits.account_requests"]);
        check("[[partners]]\nclient_id='x'\nlabel='x'\nauth_method='pkce'\nceiling='wizard'\nrate_limits={logins=1}", &["logins"]);
        assert!(Seed::parse(BASE, "file.toml").is_ok());
    }
}
