//! The server layer's per-request cost against tower-http's `TimeoutLayer`,
//! in-process through `ServiceExt::oneshot`, on a current-thread tokio
//! runtime: each request carries `grpc-timeout: 30S`, is answered at once
//! by a handler that does nothing, and its response is dropped. The
//! overhead of a layer is its time less the bare handler's. Twice: with a
//! handler ready at once (tower-http's timer is then never registered, as
//! tokio registers a `Sleep` at its first poll), and with one pending once
//! before it answers, as one waiting on I/O is.
//!
//! `cargo bench --bench overhead` in `tower/`: criterion's figures, then
//! the overheads and their ratio from rounds that alternate the three.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cancel_token::{CancelSource, TokioDriver};
use cancel_token_tower::ServerDeadlineLayer;
use criterion::{criterion_group, Criterion};
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use tower::{Layer, Service, ServiceExt};
use tower_http::timeout::TimeoutLayer;

type Handler =
    tower::util::ServiceFn<fn(Request<()>) -> Ready<Result<Response<Empty<Bytes>>, Infallible>>>;

fn handler() -> Handler {
    fn answer(_: Request<()>) -> Ready<Result<Response<Empty<Bytes>>, Infallible>> {
        ready(Ok(Response::new(Empty::new())))
    }
    tower::service_fn(answer as fn(_) -> _)
}

/// A handler that is pending once (as one waiting on I/O is) before it
/// answers: each layer then arms what it waits with.
fn yielding(
) -> impl Service<Request<()>, Response = Response<Empty<Bytes>>, Error = Infallible> + Clone {
    tower::service_fn(|_: Request<()>| async {
        tokio::task::yield_now().await;
        Ok(Response::new(Empty::new()))
    })
}

fn request() -> Request<()> {
    let mut request = Request::new(());
    request
        .headers_mut()
        .insert("grpc-timeout", http::HeaderValue::from_static("30S"));
    request
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// `iters` requests through `service`, timed.
async fn run<S>(service: &S, iters: u64) -> Duration
where
    S: Service<Request<()>, Error = Infallible> + Clone,
{
    let start = Instant::now();
    for _ in 0..iters {
        let response = service.clone().oneshot(black_box(request())).await.unwrap();
        drop(black_box(response));
    }
    start.elapsed()
}

/// The fastest of `rounds` alternated runs of `N` requests through each of
/// the bare handler, the server layer and tower-http's, printed with the
/// overheads and their ratio.
fn compare<S, A, B>(rt: &tokio::runtime::Runtime, name: &str, bare: &S, ours: &A, theirs: &B)
where
    S: Service<Request<()>, Error = Infallible> + Clone,
    A: Service<Request<()>, Error = Infallible> + Clone,
    B: Service<Request<()>, Error = Infallible> + Clone,
{
    const N: u64 = 100_000;
    let (mut t_bare, mut t_ours, mut t_theirs) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..7 {
        t_bare = t_bare.min(rt.block_on(run(bare, N)));
        t_ours = t_ours.min(rt.block_on(run(ours, N)));
        t_theirs = t_theirs.min(rt.block_on(run(theirs, N)));
    }
    let ns = |d: Duration| d.as_secs_f64() * 1e9 / N as f64;
    let (bare, ours, theirs) = (ns(t_bare), ns(t_ours), ns(t_theirs));
    println!("\n{name}: per request, fastest of 7 alternated rounds of {N}");
    println!("  bare handler                  {bare:7.1} ns");
    println!(
        "  ServerDeadlineLayer           {ours:7.1} ns  (overhead {:6.1} ns)",
        ours - bare
    );
    println!(
        "  tower-http TimeoutLayer       {theirs:7.1} ns  (overhead {:6.1} ns)",
        theirs - bare
    );
    println!(
        "  overhead ratio, ours / tower-http's: {:.2}",
        (ours - bare) / (theirs - bare)
    );
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let _guard = rt.enter();
    let server = CancelSource::with_clock(TokioDriver::current());
    let ours = ServerDeadlineLayer::new(&server).layer(handler());
    let theirs =
        TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, Duration::from_secs(30))
            .layer(handler());
    let bare = handler();

    let mut group = c.benchmark_group("server layer, one request");
    group.bench_function("bare handler", |b| {
        b.iter_custom(|n| rt.block_on(run(&bare, n)))
    });
    group.bench_function("ServerDeadlineLayer (grpc-timeout: 30S)", |b| {
        b.iter_custom(|n| rt.block_on(run(&ours, n)))
    });
    group.bench_function("tower-http TimeoutLayer (30 s)", |b| {
        b.iter_custom(|n| rt.block_on(run(&theirs, n)))
    });
    let (bare_y, ours_y, theirs_y) = (
        yielding(),
        ServerDeadlineLayer::new(&server).layer(yielding()),
        TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, Duration::from_secs(30))
            .layer(yielding()),
    );
    group.bench_function("pending once: bare handler", |b| {
        b.iter_custom(|n| rt.block_on(run(&bare_y, n)))
    });
    group.bench_function("pending once: ServerDeadlineLayer", |b| {
        b.iter_custom(|n| rt.block_on(run(&ours_y, n)))
    });
    group.bench_function("pending once: tower-http TimeoutLayer", |b| {
        b.iter_custom(|n| rt.block_on(run(&theirs_y, n)))
    });
    group.finish();

    // The same, alternated, for the ratio of the overheads.
    compare(&rt, "handler ready at once", &bare, &ours, &theirs);
    compare(&rt, "handler pending once", &bare_y, &ours_y, &theirs_y);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
