//! `bench-ceiling`: the fastest answer this machine gives on our transport.
//!
//! One route, `/ceiling`, answering a fixed small JSON body (to a POST,
//! once its body is read), served by the same runtime (`#[tokio::main]`,
//! every core), the same accept loop and the same HTTP/1 settings
//! (`protocol::serve`) as our two servers, and nothing else: no database,
//! no journal, no middleware. `just bench` measures it with the same wrk
//! settings in the same run, so each lookup can be read as a fraction of
//! what the machine can do at all; a POST is also sent as the very request
//! it is compared with.

use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use axum::Router;

/// The answer: about the size of a small lookup's.
const BODY: &str = r#"{"active":true,"scope":"user:read","client_id":"ceiling"}"#;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let answer = || ([(header::CONTENT_TYPE, "application/json")], BODY);
    let app = Router::new().route(
        "/ceiling",
        get(move || async move { answer() }).post(move |body: Bytes| async move {
            drop(body);
            answer()
        }),
    );
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("bench-ceiling: cannot bind 127.0.0.1:0: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match protocol::serve::announce_and_serve(listener, app, protocol::serve::Limits::DEFAULT).await
    {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-ceiling: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
