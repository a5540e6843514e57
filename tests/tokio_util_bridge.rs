//! Bridges to tokio-util's `CancellationToken`: both directions, drop orders,
//! bridges made after either side was cancelled.
#![cfg(feature = "tokio-util")]

use std::sync::Arc;
use std::time::Duration;

use cancel_token::{CancelSource, CancelToken, Reason};
use tokio_util::sync::CancellationToken;

/// Lets every ready task run.
async fn run_others() {
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
}

#[test]
fn into_tokio_util_follows_a_cancel_and_a_drop() {
    let root = CancelSource::new();
    let request = root.child();
    let legacy = request.to_cancellation_token();
    let legacy_child = legacy.child_token();
    assert!(!legacy.is_cancelled());
    root.cancel();
    assert!(legacy.is_cancelled() && legacy_child.is_cancelled());

    let request = CancelSource::new();
    let legacy = request.to_cancellation_token();
    drop(request);
    assert!(legacy.is_cancelled(), "dropping the source cancels it");
}

#[test]
fn into_tokio_util_after_the_token_was_cancelled() {
    let request = CancelSource::new();
    request.cancel();
    assert!(request.to_cancellation_token().is_cancelled());
    assert!(!CancelToken::never().to_cancellation_token().is_cancelled());
}

#[test]
fn into_tokio_util_does_not_cancel_back_and_lets_go_of_the_node() {
    let request = CancelSource::new();
    let token = request.token();
    let legacy = request.to_cancellation_token();
    legacy.cancel();
    assert!(!request.is_cancelled(), "a CancelToken only observes");
    drop(legacy);
    // The callback still holds the node; cancelling runs it and lets go.
    request.cancel();
    drop(request);
    assert_eq!(token.reason(), Some(Reason::Cancelled));
}

/// The token cancelled on another thread while the bridge is made: the
/// bridge is cancelled either way, and its callback is removed exactly once
/// (a leak or a double removal would show under Miri).
#[test]
fn into_tokio_util_made_while_another_thread_cancels() {
    let rounds = if cfg!(miri) { 20 } else { 2_000 };
    for _ in 0..rounds {
        let request = Arc::new(CancelSource::new());
        let canceller = {
            let request = request.clone();
            std::thread::spawn(move || request.cancel())
        };
        let legacy = request.to_cancellation_token();
        canceller.join().unwrap();
        assert!(legacy.is_cancelled());
    }
}

#[tokio::test]
async fn from_tokio_util_cancels_the_child_not_the_parent() {
    let server = CancelSource::new();
    let legacy = CancellationToken::new();
    let request = server.child_following(&legacy);
    run_others().await;
    assert!(!request.is_cancelled());
    legacy.cancel();
    assert_eq!(request.cancelled().await, Reason::Cancelled);
    assert!(!server.is_cancelled());
}

#[tokio::test]
async fn from_tokio_util_follows_its_parent_too() {
    let server = CancelSource::new();
    let legacy = CancellationToken::new();
    let request = server.child_following(&legacy);
    server.cancel();
    assert!(request.is_cancelled());
    assert!(!legacy.is_cancelled(), "theirs is not touched");
}

#[tokio::test]
async fn from_tokio_util_after_theirs_was_cancelled() {
    let server = CancelSource::new();
    let legacy = CancellationToken::new();
    legacy.cancel();
    let request = server.child_following(&legacy);
    assert!(request.is_cancelled(), "cancelled as it is made");
}

#[tokio::test(flavor = "current_thread")]
async fn from_tokio_util_task_ends_with_the_child() {
    let server = CancelSource::new();
    let legacy = CancellationToken::new();
    let metrics = tokio::runtime::Handle::current().metrics();
    for _ in 0..10 {
        let request = server.child_following(&legacy);
        run_others().await;
        assert_eq!(metrics.num_alive_tasks(), 1);
        drop(request);
        run_others().await;
        assert_eq!(metrics.num_alive_tasks(), 0, "the task ends with the child");
    }
    // And when theirs is cancelled first.
    let request = server.child_following(&legacy);
    legacy.cancel();
    tokio::time::timeout(Duration::from_secs(10), request.cancelled())
        .await
        .unwrap();
    run_others().await;
    assert_eq!(metrics.num_alive_tasks(), 0);
}
