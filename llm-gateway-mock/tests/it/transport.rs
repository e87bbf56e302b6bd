//! The accept loop's bounds (issue 14, class 7): a client that never
//! finishes its request head is cut off, and connections beyond the cap
//! wait for a free one instead of being served without limit. Each wait is
//! bounded; none is a sleep standing in for a readiness signal.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::Gateway;

/// Longer than any answer on loopback, shorter than a test's patience.
const BOUND: Duration = Duration::from_secs(10);

fn address(gateway: &Gateway) -> String {
    gateway.base.trim_start_matches("http://").to_owned()
}

async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut answer = Vec::new();
    timeout(BOUND, stream.read_to_end(&mut answer))
        .await
        .expect("the gateway answers or closes within the bound")
        .expect("reading the answer");
    answer
}

const READYZ: &[u8] = b"GET /readyz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn a_half_sent_request_head_is_cut_off() {
    let gateway = Gateway::start_with(|config| {
        config.limits.header_read_timeout = Duration::from_millis(300);
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(address(&gateway)).await.unwrap();
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: gateway\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    for stream in &mut slow {
        // Closed without an answer, or with hyper's 408; never left open.
        let answer = read_to_end(stream).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }
    // Whole requests are still served.
    let mut whole = TcpStream::connect(address(&gateway)).await.unwrap();
    whole.write_all(READYZ).await.unwrap();
    let answer = read_to_end(&mut whole).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let gateway = Gateway::start_with(|config| {
        config.limits.max_connections = 2;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(address(&gateway)).await.unwrap();
        // A whole request on a kept-alive connection: once it is answered
        // the connection surely holds its place.
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: gateway\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = [0u8; 12];
        timeout(BOUND, stream.read_exact(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buffer, b"HTTP/1.1 200");
        held.push(stream);
    }
    let mut third = TcpStream::connect(address(&gateway)).await.unwrap();
    third.write_all(READYZ).await.unwrap();
    let mut first_byte = [0u8; 1];
    let waited = timeout(Duration::from_millis(300), third.read(&mut first_byte)).await;
    assert!(
        waited.is_err(),
        "the third connection was served beyond the cap"
    );
    drop(held.remove(0));
    let answer = read_to_end(&mut third).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
