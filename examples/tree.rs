//! A tree of tasks under one root: a server, its requests, their workers.
//! One request is cancelled on its own (with a cause); then the server shuts
//! down and the cancellation reaches every task still running.
//!
//! Run with `cargo run --example tree`.

use std::time::Duration;

use cancel_token::{CancelSource, CancelToken};

#[derive(Debug)]
struct ClientGone;
impl std::fmt::Display for ClientGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("client disconnected")
    }
}
impl std::error::Error for ClientGone {}

#[derive(Debug)]
struct Shutdown;
impl std::fmt::Display for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("server shutting down")
    }
}
impl std::error::Error for Shutdown {}

/// A worker that runs until its token is cancelled, then reports why.
async fn worker(name: String, token: CancelToken) -> String {
    let work = tokio::time::sleep(Duration::from_secs(3600));
    match token.run_until_cancelled(work).await {
        Ok(()) => format!("{name}: finished"),
        Err(reason) => match token.cause() {
            Some(cause) => format!("{name}: {reason} ({cause})"),
            None => format!("{name}: {reason}"),
        },
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let server = CancelSource::new();
    let mut requests = Vec::new();
    let mut tasks = Vec::new();
    for r in 0..2 {
        let request = server.token().child();
        for w in 0..2 {
            let token = request.token().child();
            let name = format!("server/request-{r}/worker-{w}");
            tasks.push(tokio::spawn(async move {
                // The worker owns its source: when it returns, its token is
                // cancelled and unlinked (Go's `defer cancel()`).
                let line = worker(name, token.token()).await;
                drop(token);
                line
            }));
        }
        requests.push(request);
    }
    tokio::task::yield_now().await;

    println!("tree: server -> 2 requests -> 2 workers each");
    println!("request-0's client goes away:");
    requests[0].cancel_with(&ClientGone);
    for t in tasks.drain(..2) {
        println!("  {}", t.await.unwrap());
    }

    println!("the server shuts down:");
    server.cancel_with(&Shutdown);
    for t in tasks {
        println!("  {}", t.await.unwrap());
    }
    assert!(requests.iter().all(|r| r.is_cancelled()));
}
