//! The real binary's accept loop (issue 14, class 7): a client that never
//! finishes its request head is cut off after `--header-read-timeout`, and
//! connections beyond `--max-connections` wait for a free one. Each wait
//! is bounded; none stands in for a readiness signal.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::live::{DatabaseFile, Process};

/// Longer than any answer on loopback, shorter than a test's patience.
const BOUND: Duration = Duration::from_secs(10);

const HEALTH: &[u8] = b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: server\r\nConnection: close\r\n\r\n";

async fn read_to_end(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    timeout(BOUND, stream.read_to_end(&mut answer))
        .await
        .expect("the server answers or closes within the bound")
        .expect("reading the answer");
    String::from_utf8_lossy(&answer).into_owned()
}

async fn start(flags: &[&str]) -> (Process, String, DatabaseFile) {
    let database = DatabaseFile::new();
    let log = database.directory.path().join("server.log");
    let process = Process::start_with(&database.url, &log, flags).await;
    let address = process.base.trim_start_matches("http://").to_owned();
    (process, address, database)
}

#[tokio::test]
async fn half_sent_request_heads_are_cut_off() {
    let (_process, address, _database) = start(&["--header-read-timeout", "1"]).await;
    let mut slow = Vec::new();
    for _ in 0..super::size(50, 500) {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"POST /api/agentic/provisioning/account_requests HTTP/1.1\r\nHost: server\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    for stream in &mut slow {
        // Closed without an answer, or with hyper's 408; never left open.
        let answer = read_to_end(stream).await;
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    let mut whole = TcpStream::connect(&address).await.unwrap();
    whole.write_all(HEALTH).await.unwrap();
    let answer = read_to_end(&mut whole).await;
    assert!(
        !answer.is_empty() && !answer.starts_with("HTTP/1.1 5"),
        "{answer}"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let (_process, address, _database) = start(&["--max-connections", "2"]).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        // A whole request on a kept-alive connection: once it is answered
        // the connection surely holds its place.
        stream
            .write_all(
                b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: server\r\n\r\n",
            )
            .await
            .unwrap();
        let mut first = [0u8; 9];
        timeout(BOUND, stream.read_exact(&mut first))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&first, b"HTTP/1.1 ");
        held.push(stream);
    }
    let mut third = TcpStream::connect(&address).await.unwrap();
    third.write_all(HEALTH).await.unwrap();
    let mut byte = [0u8; 1];
    let waited = timeout(Duration::from_millis(300), third.read(&mut byte)).await;
    assert!(
        waited.is_err(),
        "the third connection was served beyond the cap"
    );
    drop(held.remove(0));
    let answer = read_to_end(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
}

/// One answer on a kept-alive connection: its head and its
/// `Content-Length` bytes of body.
async fn read_answer(stream: &mut TcpStream) -> (String, String) {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        let read = timeout(BOUND, stream.read(&mut byte))
            .await
            .expect("the head within the bound")
            .expect("reading the head");
        assert_eq!(read, 1, "closed before the head's end: {bytes:?}");
        bytes.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&bytes).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("a Content-Length");
    let mut body = vec![0u8; length];
    timeout(BOUND, stream.read_exact(&mut body))
        .await
        .expect("the body within the bound")
        .expect("reading the body");
    (head, String::from_utf8_lossy(&body).into_owned())
}

/// Every request with a body is answered, on one kept-alive connection,
/// whether its body came with its head or after it: the transport's
/// re-polling of a connection that wakes itself (`protocol::serve`'s
/// `PollAgain`) loses no wake-up.
#[tokio::test]
async fn bodies_in_pieces_on_one_connection_are_each_answered() {
    let (_process, address, _database) = start(&[]).await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let body = "token=pha_nothing_live";
    let head = format!(
        "POST /oauth/introspect HTTP/1.1\r\nHost: server\r\n\
         Authorization: Basic bGxtLWdhdGV3YXk6bGxtLWdhdGV3YXktZGV2LXNlY3JldA==\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    for split in [body.len(), 0, 6, 10, body.len() - 1] {
        // The head and the body's first `split` bytes, then the rest once
        // the server has had them.
        stream
            .write_all(format!("{head}{}", &body[..split]).as_bytes())
            .await
            .unwrap();
        stream.flush().await.unwrap();
        tokio::task::yield_now().await;
        stream.write_all(&body.as_bytes()[split..]).await.unwrap();
        let (head, answer) = read_answer(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "split {split}: {head}");
        assert_eq!(answer, r#"{"active":false}"#, "split {split}");
    }
}
