//! Teams (`teams`, with their organization and the user's membership):
//! reading a user's live teams, oldest membership first, and the teams a
//! partner adds to an existing organization. The join a user's teams are
//! read with ([`teams_of!`]) is shared with the queries that read a
//! credential or a code together with its user's teams.

use sqlx::FromRow;

use super::handle::{arguments, Db};
use super::named::named;

/// A team with its organization, as listed in `available_teams`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub api_token: String,
    pub is_demo: bool,
    pub organization_id: String,
    pub organization_name: String,
    /// When the user joined the team's organization (for "oldest membership").
    pub joined_at: i64,
    /// The service it is provisioned for (`analytics` unless moved).
    pub service_id: String,
}

#[cfg(test)]
impl Team {
    /// A team for the unit tests of rules that choose among teams.
    pub fn for_test(id: i64, organization: &str, is_demo: bool) -> Team {
        Team {
            id,
            name: format!("team {id}"),
            api_token: format!("phc_{id}"),
            is_demo,
            organization_id: organization.into(),
            organization_name: organization.into(),
            joined_at: 0,
            service_id: "analytics".into(),
        }
    }
}

/// The columns of a team that [`teams_of!`] joins, decoded by
/// [`JoinedTeam`].
macro_rules! team_columns {
    () => {
        "t.id AS member_team_id, t.name AS team_name, t.api_token, t.is_demo,
         o.id AS organization_id, o.name AS organization_name, m.joined_at, t.service_id"
    };
}
pub(super) use team_columns;

/// Joins the live teams of the user in column `$user`, oldest membership
/// first with `ORDER BY m.joined_at, t.id` (one row per team; the team
/// columns are NULL for a user without any).
macro_rules! teams_of {
    ($user:literal) => {
        concat!(
            " LEFT JOIN memberships m ON m.user_id = ",
            $user,
            " LEFT JOIN organizations o ON o.id = m.organization_id
              LEFT JOIN teams t ON t.organization_id = o.id AND t.removed_at IS NULL"
        )
    };
}
pub(super) use teams_of;

/// A team as a row with [`team_columns!`] carries it.
#[derive(Debug, FromRow)]
pub(super) struct JoinedTeam {
    member_team_id: Option<i64>,
    team_name: Option<String>,
    api_token: Option<String>,
    is_demo: Option<bool>,
    organization_id: Option<String>,
    organization_name: Option<String>,
    joined_at: Option<i64>,
    service_id: Option<String>,
}

/// Rows that all carry the same head (a credential, a code) and one team
/// each, as the `teams_of!` join gives them: the first head and the teams in
/// order. `None` without rows.
pub(super) fn head_and_teams<H>(
    mut rows: impl Iterator<Item = (H, JoinedTeam)>,
) -> Option<(H, Vec<Team>)> {
    let (head, first) = rows.next()?;
    let teams = std::iter::once(first)
        .chain(rows.map(|(_, team)| team))
        .filter_map(JoinedTeam::team)
        .collect();
    Some((head, teams))
}

impl JoinedTeam {
    /// `None` for the all-NULL row of a user without teams.
    fn team(self) -> Option<Team> {
        Some(Team {
            id: self.member_team_id?,
            name: self.team_name?,
            api_token: self.api_token?,
            is_demo: self.is_demo?,
            organization_id: self.organization_id?,
            organization_name: self.organization_name?,
            joined_at: self.joined_at?,
            service_id: self.service_id?,
        })
    }
}

/// A new non-demo team in an existing organization.
const INSERT_TEAM: &str = "INSERT INTO teams (organization_id, name, api_token, is_demo, region,
    created_at) VALUES (:organization_id, :name, :api_token, 0, :region, :now) RETURNING id";

impl Db {
    /// Every live team of every organization the user belongs to, oldest
    /// membership first.
    pub async fn teams_of_user(&self, user_id: i64) -> sqlx::Result<Vec<Team>> {
        let rows: Vec<JoinedTeam> = sqlx::query_as(concat!(
            "SELECT ",
            team_columns!(),
            " FROM users c",
            teams_of!("c.id"),
            " WHERE c.id = ? ORDER BY m.joined_at, t.id"
        ))
        .bind(user_id)
        .fetch_all(&mut *self.reader.get().await?)
        .await?;
        Ok(rows.into_iter().filter_map(JoinedTeam::team).collect())
    }

    pub async fn team(&self, team_id: i64) -> sqlx::Result<Option<Team>> {
        sqlx::query_as(
            "SELECT t.id, t.name, t.api_token, t.is_demo, o.id AS organization_id,
                    o.name AS organization_name, o.created_at AS joined_at, t.service_id
             FROM teams t JOIN organizations o ON o.id = t.organization_id
             WHERE t.id = ? AND t.removed_at IS NULL",
        )
        .bind(team_id)
        .fetch_optional(&mut *self.reader.get().await?)
        .await
    }

    /// Moves a live team to `service_id`; `false` if it is gone.
    pub async fn set_team_service(&self, team_id: i64, service_id: &str) -> sqlx::Result<bool> {
        let service_id = service_id.to_owned();
        self.write(move |connection| {
            let service_id = service_id.clone();
            Box::pin(async move {
                let moved = sqlx::query(
                    "UPDATE teams SET service_id = ? WHERE id = ? AND removed_at IS NULL",
                )
                .bind(service_id)
                .bind(team_id)
                .execute(connection)
                .await?
                .rows_affected();
                Ok(moved == 1)
            })
        })
        .await
    }

    pub async fn rename_team(&self, team_id: i64, name: &str) -> sqlx::Result<()> {
        self.execute(
            "UPDATE teams SET name = ? WHERE id = ?",
            arguments![name.to_owned(), team_id],
        )
        .await
        .map(drop)
    }

    /// The team dedicated to a partner's `project_id`, created (in
    /// `organization_id`, named `name`) the first time it is asked for, in
    /// one write so two requests never make two.
    #[allow(clippy::too_many_arguments)]
    pub async fn project_team(
        &self,
        client_id: &str,
        project_id: &str,
        organization_id: &str,
        name: &str,
        api_token: &str,
        region: &str,
        now: i64,
    ) -> sqlx::Result<i64> {
        let (client_id, project_id) = (client_id.to_owned(), project_id.to_owned());
        let insert = named!(
            INSERT_TEAM,
            organization_id = organization_id.to_owned(),
            name = name.to_owned(),
            api_token = api_token.to_owned(),
            region = region.to_owned(),
            now = now,
        );
        self.write(move |connection| {
            let (client_id, project_id) = (client_id.clone(), project_id.clone());
            let insert = insert.clone();
            Box::pin(async move {
                let existing: Option<i64> = sqlx::query_scalar(
                    "SELECT team_id FROM project_teams WHERE client_id = ? AND project_id = ?",
                )
                .bind(&client_id)
                .bind(&project_id)
                .fetch_optional(&mut *connection)
                .await?;
                if let Some(team_id) = existing {
                    return Ok(team_id);
                }
                let team_id: i64 = insert.query_scalar().fetch_one(&mut *connection).await?;
                sqlx::query(
                    "INSERT INTO project_teams (client_id, project_id, team_id) VALUES (?, ?, ?)",
                )
                .bind(client_id)
                .bind(project_id)
                .bind(team_id)
                .execute(&mut *connection)
                .await?;
                Ok(team_id)
            })
        })
        .await
    }

    /// A new non-demo team in an existing organization; its id.
    pub async fn create_team(
        &self,
        organization_id: &str,
        name: &str,
        api_token: &str,
        region: &str,
        now: i64,
    ) -> sqlx::Result<i64> {
        let insert = named!(
            INSERT_TEAM,
            organization_id = organization_id.to_owned(),
            name = name.to_owned(),
            api_token = api_token.to_owned(),
            region = region.to_owned(),
            now = now,
        );
        self.write(move |connection| {
            let insert = insert.clone();
            Box::pin(async move { insert.query_scalar().fetch_one(connection).await })
        })
        .await
    }
}
