//! The real binary, SIGKILLed in the middle of a signup load and restarted
//! on the same database file: what it answered before dying must still
//! hold, and nothing half-made may be left.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sqlx::Row;
use tokio::task::JoinSet;

use super::live::{signup, Client, DatabaseFile, Process, Signup};
use super::size;

/// Signup loops running at once against the binary.
const LOADERS: usize = 6;
/// How long a round may take to reach its kill point.
const ROUND_DEADLINE: Duration = Duration::from_secs(120);

/// If this fails, a crash (OOM kill, power cut of the container, `kill -9`)
/// loses accounts whose tokens were already handed out, or leaves a user
/// without an organization or a team that later requests trip over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_keeps_every_answered_signup_and_no_half_account() {
    let rounds = size(1, 3);
    let kill_after = size(30, 300);
    let database = DatabaseFile::new();
    let log = database.directory.path().join("server.log");
    let signups: Arc<Mutex<Vec<Signup>>> = Arc::default();
    let started = Instant::now();

    for round in 0..rounds {
        let process = Process::start(&database.url, &log).await;
        let client = Client::new(&process.base);
        let completed = Arc::new(AtomicUsize::new(0));
        let dead = Arc::new(AtomicBool::new(false));
        let mut loaders = JoinSet::new();
        for loader in 0..LOADERS {
            let (client, completed, dead, signups) = (
                client.clone(),
                Arc::clone(&completed),
                Arc::clone(&dead),
                Arc::clone(&signups),
            );
            // Each loop is bounded: it stops at the kill, or after twice
            // its share of the kill point if the kill never comes.
            loaders.spawn(async move {
                for index in 0..2 * kill_after {
                    if dead.load(Ordering::SeqCst) {
                        break;
                    }
                    let email = format!("r{round}l{loader}n{index}@example.com");
                    let outcome = signup(&client, &email).await;
                    let finished = outcome.is_complete();
                    let stopped = outcome.stopped.clone();
                    signups.lock().unwrap().push(outcome);
                    if finished {
                        completed.fetch_add(1, Ordering::SeqCst);
                    } else if !dead.load(Ordering::SeqCst) {
                        panic!("{email} stopped while the server was up: {stopped:?}");
                    }
                }
            });
        }
        let deadline = Instant::now() + ROUND_DEADLINE;
        while completed.load(Ordering::SeqCst) < kill_after {
            assert!(Instant::now() < deadline, "round {round}: the load stalled");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The flag goes up first, so a loader that sees its connection cut
        // knows why; in-flight requests are cut by the kill itself.
        dead.store(true, Ordering::SeqCst);
        process.kill().await;
        while let Some(joined) = loaders.join_next().await {
            joined.expect("a loader stopped only because the server died");
        }
    }

    let process = Process::start(&database.url, &log).await;
    let client = Client::new(&process.base);
    let signups = std::mem::take(&mut *signups.lock().unwrap());
    let cut = signups
        .iter()
        .filter(|signup| !signup.is_complete())
        .count();
    let with_token: Vec<&Signup> = signups.iter().filter(|s| s.access.is_some()).collect();
    let with_key: Vec<&Signup> = signups
        .iter()
        .filter(|s| s.personal_api_key.is_some())
        .collect();
    eprintln!(
        "{rounds} kill(s): {} signups attempted, {} tokens and {} keys handed out, {cut} cut by the kill",
        signups.len(),
        with_token.len(),
        with_key.len()
    );
    assert!(with_key.len() >= rounds * kill_after);

    for signup in &with_token {
        let access = signup.access.as_deref().unwrap();
        assert!(
            client.is_active(access).await,
            "{}: a token answered before the kill is not active after the restart",
            signup.email
        );
    }
    for signup in &with_key {
        let key = signup.personal_api_key.as_deref().unwrap();
        let (status, body) = client.me(key).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", signup.email);
        assert_eq!(body["email"], signup.email.as_str());
        assert!(client.is_active(key).await, "{}", signup.email);
    }

    // Every account is whole: as many organizations and teams as users.
    let state = client.admin_state().await;
    let issued = signups.iter().filter(|signup| signup.code_issued).count();
    assert_eq!(
        (state.organizations, state.teams),
        (state.users, state.users),
        "a half-created account survived the kill"
    );
    let users = usize::try_from(state.users).unwrap();
    assert!(
        (issued..=signups.len()).contains(&users),
        "{users} users for {issued} codes issued and {} attempts",
        signups.len()
    );
    // The restarted server still takes signups.
    let after = signup(&client, "after-restart@example.com").await;
    assert!(after.is_complete(), "{after:?}");
    process.kill().await;

    // And the file itself agrees: no user without a membership, no
    // organization without a team, no token or key without its user.
    let orphans = count_orphans(&database).await;
    assert_eq!(orphans, Vec::<(&str, i64)>::new());
    eprintln!(
        "durability: {rounds} kill(s), {} signups checked after restart, {:.2?} in all",
        with_token.len(),
        started.elapsed()
    );
}

/// Rows that point at nothing, per kind (only the non-zero ones).
async fn count_orphans(database: &DatabaseFile) -> Vec<(&'static str, i64)> {
    let url = format!("sqlite://{}?mode=ro", database.path.display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("the database opens");
    let queries = [
        (
            "users without a membership",
            "SELECT COUNT(*) FROM users u WHERE NOT EXISTS
                (SELECT 1 FROM memberships m WHERE m.user_id = u.id)",
        ),
        (
            "organizations without a team",
            "SELECT COUNT(*) FROM organizations o WHERE NOT EXISTS
                (SELECT 1 FROM teams t WHERE t.organization_id = o.id)",
        ),
        (
            "organizations without a member",
            "SELECT COUNT(*) FROM organizations o WHERE NOT EXISTS
                (SELECT 1 FROM memberships m WHERE m.organization_id = o.id)",
        ),
        (
            "access tokens without a user",
            "SELECT COUNT(*) FROM access_tokens a WHERE NOT EXISTS
                (SELECT 1 FROM users u WHERE u.id = a.user_id)",
        ),
        (
            "personal API keys without a user",
            "SELECT COUNT(*) FROM personal_api_keys k WHERE NOT EXISTS
                (SELECT 1 FROM users u WHERE u.id = k.user_id)",
        ),
    ];
    let mut found = Vec::new();
    for (what, query) in queries {
        let count: i64 = sqlx::query(query)
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|error| panic!("{what}: {error}"))
            .get(0);
        if count != 0 {
            found.push((what, count));
        }
    }
    pool.close().await;
    found
}
