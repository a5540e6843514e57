//! What moving over from tokio-util costs per call: the `CancelFutureExt`
//! combinator against tokio-util's `FutureExt`, and the bridges to a
//! `CancellationToken` against what a tokio-util user writes without one; then
//! a table.
//!
//! Run with `cargo bench --bench migrate` in `benches/` (its own workspace).

mod support;

use support::{mean_ns, ratio_cells, show};

use std::future::{ready, Future};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use cancel_token::{CancelFutureExt, CancelSource};
use tokio_util::future::FutureExt as _;
use tokio_util::sync::CancellationToken;

/// Polls `fut` once with a waker that does nothing; it must be ready.
fn poll_ready<F: Future>(fut: F) -> F::Output {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("the work is ready"),
    }
}

fn main() {
    let started = SystemTime::now();
    let mut criterion = support::criterion();

    // A ready future raced against a live token, made and polled to the end.
    let source = CancelSource::new();
    let token = source.token();
    let theirs = CancellationToken::new();
    let mut group = criterion.benchmark_group("combinator");
    group.bench_function("cancel-token", |b| {
        b.iter(|| poll_ready(ready(black_box(1)).until_cancelled(&token)))
    });
    group.bench_function("tokio-util", |b| {
        b.iter(|| poll_ready(ready(black_box(1)).with_cancellation_token(&theirs)))
    });
    group.finish();

    // A request's token handed to code that takes a tokio-util token: made,
    // cancelled and dropped. Against tokio-util alone: a child token.
    let mut group = criterion.benchmark_group("into_tokio_util");
    group.bench_function("cancel-token", |b| {
        b.iter(|| {
            let request = source.child();
            let legacy = request.to_cancellation_token();
            request.cancel();
            black_box(legacy.is_cancelled())
        })
    });
    group.bench_function("child-only", |b| {
        b.iter(|| {
            let request = source.child();
            request.cancel();
            black_box(request.is_cancelled())
        })
    });
    group.bench_function("tokio-util", |b| {
        b.iter(|| {
            let request = theirs.child_token();
            request.cancel();
            black_box(request.is_cancelled())
        })
    });
    group.finish();

    // A child that also follows a tokio-util token, made and dropped (its
    // task ends), on a current-thread runtime. Against tokio-util alone: a
    // child token.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = criterion.benchmark_group("from_tokio_util");
    group.bench_function("cancel-token", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    drop(black_box(token.child_following(&theirs)));
                    // Lets the task see the child go and end.
                    tokio::task::yield_now().await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("tokio-util", |b| {
        b.iter(|| drop(black_box(theirs.child_token())))
    });
    group.finish();
    criterion.final_summary();
    print_table(started);
}

fn print_table(started: SystemTime) {
    let mean = |group: &str, function: &str| mean_ns(group, function, started);
    println!("\nworkload | ns | against | ns | ratio");
    println!("---|---|---|---|---");
    let rows = [
        (
            "until_cancelled on a ready future",
            "combinator",
            "cancel-token",
            "tokio-util FutureExt",
            "tokio-util",
        ),
        (
            "child + to_cancellation_token + cancel",
            "into_tokio_util",
            "cancel-token",
            "tokio-util child_token + cancel",
            "tokio-util",
        ),
        (
            "child + to_cancellation_token + cancel",
            "into_tokio_util",
            "cancel-token",
            "our child + cancel alone",
            "child-only",
        ),
        (
            "child_following + drop (its task ends)",
            "from_tokio_util",
            "cancel-token",
            "tokio-util child_token + drop",
            "tokio-util",
        ),
    ];
    for (what, group, ours, against, theirs) in rows {
        let (o, t) = (mean(group, ours), mean(group, theirs));
        let (ratio, _) = ratio_cells(o, t, None);
        println!("{what} | {} | {against} | {} | {ratio}", show(o), show(t));
    }
}
