//! What the server keeps (protocol section 1): secrets only as SHA-256
//! hashes, in the database and in the journal.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use sqlx::{Column, Row};

use protocol::credential::{find_full_secrets, hash_secret};
use protocol::paths;

use crate::support::*;

/// Every table's rows as text, one line per row.
async fn dump_tables(url: &str) -> String {
    let pool = sqlx::SqlitePool::connect(url)
        .await
        .expect("the database opens");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut out = String::new();
    for table in tables {
        let rows = sqlx::query(&format!("SELECT * FROM \"{table}\""))
            .fetch_all(&pool)
            .await
            .unwrap();
        for row in rows {
            let mut fields = BTreeMap::new();
            for (index, column) in row.columns().iter().enumerate() {
                let text = match row.try_get::<Option<String>, _>(index) {
                    Ok(text) => text.unwrap_or_default(),
                    Err(_) => match row.try_get::<Option<i64>, _>(index) {
                        Ok(number) => number.map(|n| n.to_string()).unwrap_or_default(),
                        Err(_) => row
                            .try_get::<Option<Vec<u8>>, _>(index)
                            .ok()
                            .flatten()
                            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                            .unwrap_or_default(),
                    },
                };
                fields.insert(column.name().to_owned(), text);
            }
            out.push_str(&format!("{table}: {fields:?}\n"));
        }
    }
    pool.close().await;
    out
}

/// If this fails, anyone who copies the database file holds working
/// credentials for every account in it.
#[tokio::test]
async fn secrets_are_stored_only_as_hashes() {
    let server = Server::start(Options::new("ceilings").file()).await;
    let (code, verifier) = server.signup(None).await;
    let tokens = tokens_of(server.exchange(&code, verifier.as_str()).await);
    let resource = server.provision(&tokens.access).await.json();
    let access = &resource["complete"]["access_configuration"];
    let key = access["personal_api_key"].as_str().unwrap().to_owned();
    let project_key = access["api_key"].as_str().unwrap().to_owned();
    // One refresh, so rotated and live tokens are both on disk.
    let rotated = tokens_of(server.refresh(&tokens.refresh, None).await);

    let path = server.database_path.clone().unwrap();
    let url = format!("sqlite://{}?mode=ro", path.display());
    let tables = dump_tables(&url).await;
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        if let Ok(content) = std::fs::read(&file) {
            bytes.extend(content);
        }
    }
    let raw = String::from_utf8_lossy(&bytes);
    let secrets = [
        ("the access token", tokens.access.as_str()),
        ("the refresh token", tokens.refresh.as_str()),
        ("the rotated access token", rotated.access.as_str()),
        ("the rotated refresh token", rotated.refresh.as_str()),
        ("the personal API key", key.as_str()),
        ("the authorization code", code.as_str()),
    ];
    for (what, secret) in secrets {
        let random_part = match protocol::credential::CredentialKind::of(secret) {
            Some(kind) => &secret[kind.prefix().len()..],
            None => secret,
        };
        for (place, text) in [("a table", tables.as_str()), ("the file's bytes", &raw)] {
            assert!(
                !text.contains(secret),
                "{what} is stored in plain in {place}"
            );
            assert!(
                !text.contains(random_part),
                "{what}'s random part is in {place}"
            );
        }
        let hash = hash_secret(secret);
        assert!(
            tables.contains(&hash),
            "{what}'s SHA-256 is not in any table"
        );
        assert!(raw.contains(&hash), "{what}'s SHA-256 is not in the file");
    }
    assert!(find_full_secrets(&tables).is_empty(), "{tables}");
    // The project key is public by design: it is stored as it is.
    assert!(tables.contains(&project_key));
}

/// If this fails, the journal a scenario prints (and a person pastes into
/// an issue) would leak working credentials.
#[tokio::test]
async fn the_journal_holds_no_full_secret() {
    let server = Server::start(Options::new("ceilings").partner()).await;
    let tokens = server.tokens(None).await;
    let key = server.provision(&tokens.access).await.json()["complete"]["access_configuration"]
        ["personal_api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    for credential in [&tokens.access, &tokens.refresh, &key] {
        server
            .send(Call::get(paths::USERS_ME).bearer(credential))
            .await;
        server.introspect(credential).await;
        // A credential pasted into a path, where a person might put it.
        server
            .send(
                Call::get(format!("{}/{credential}", paths::RESOURCES))
                    .version()
                    .bearer(credential),
            )
            .await;
        server
            .send(Call::get(format!("/api/projects/{credential}/")).bearer(credential))
            .await;
    }
    server.refresh(&tokens.refresh, None).await;
    let answer = server
        .send(Call::get(paths::ADMIN_JOURNAL).bearer(ADMIN_TOKEN))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let text = answer.text();
    assert_eq!(find_full_secrets(&text), Vec::<String>::new(), "{text}");
    let journal: protocol::admin::Journal = serde_json::from_str(&text).unwrap();
    assert!(journal.entries.len() >= 14, "every request is journaled");
    assert!(journal
        .entries
        .iter()
        .any(|entry| entry.credential.as_deref() == Some("pha_***")));
    assert!(journal.entries.iter().all(|entry| entry.at == NOW));
}
