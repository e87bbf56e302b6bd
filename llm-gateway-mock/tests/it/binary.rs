//! The real binary, as the e2e harness starts it: one `listening on` line
//! on stdout, and a bad agent script is a startup error naming the file.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::closed_url;

const BINARY: &str = env!("CARGO_BIN_EXE_llm-gateway-mock");

#[tokio::test]
async fn prints_one_listening_line_with_the_real_port() {
    let mut child = Command::new(BINARY)
        .args([
            "--bind",
            "127.0.0.1:0",
            "--introspection-url",
            &closed_url().await,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .unwrap()
        .unwrap();
    let address = line
        .strip_prefix("listening on http://127.0.0.1:")
        .expect(&line);
    let port: u16 = address.parse().expect(&line);
    assert_ne!(port, 0);
    let live = reqwest::get(format!("http://127.0.0.1:{port}/_liveness"))
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_bad_agent_script_stops_startup_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("gateway-bad-script-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("flask.toml"), "framework = [").unwrap();
    let output = Command::new(BINARY)
        .args(["--bind", "127.0.0.1:0", "--agent-dir"])
        .arg(&dir)
        .output()
        .await
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!output.status.success());
    assert!(
        output.stdout.is_empty(),
        "no listening line for a gateway that cannot start"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("flask.toml"), "{stderr}");
}

#[tokio::test]
async fn a_malformed_introspection_url_is_refused_at_start() {
    let output = Command::new(BINARY)
        .args(["--bind", "127.0.0.1:0", "--introspection-url", "not a url"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no listening line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("introspection URL \"not a url\""),
        "{stderr}"
    );
}
