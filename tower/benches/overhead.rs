//! The server layer's per-request cost against tower-http's `TimeoutLayer`,
//! in-process through `ServiceExt::oneshot`, on a current-thread tokio
//! runtime: each request carries `grpc-timeout: 30S`, is answered at once
//! by a handler that does nothing, and its response is dropped. The
//! overhead of a layer is its time less the bare handler's. Twice: with a
//! handler ready at once, and with one pending once before it answers, as
//! one waiting on I/O is. tower-http's future polls its `Sleep` before the
//! handler, so its timer is in tokio's wheel from the first poll either way.
//!
//! `cargo bench --bench overhead` in `tower/`: criterion's figures, then
//! the overheads and their ratios from rounds that alternate the four (the
//! bare handler, the two layers and the floor).

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

/// The floor of the server layer: what reading a request's deadline,
/// arming it and handing its token over cannot avoid, timed alone around
/// the same handler. The two header reads the layer must make
/// (`content-type`, to answer gRPC in kind, and `grpc-timeout`, decoded),
/// one read of the clock (a deadline is counted from the request's
/// arrival), one insert into the request's `http::Extensions` (whose first
/// insert allocates the map), and eight atomic read-modify-writes (a node's
/// link and arming take and release its parent's lock and the wheel's, and
/// its drop takes them again). No allocation for the node: the layer's
/// timed child is made in the server token's spare node.
#[derive(Clone)]
struct Floor<S>(S, std::sync::Arc<std::sync::atomic::AtomicUsize>);

/// The header the layer reads, made once, as the layer's is.
const GRPC_TIMEOUT: http::HeaderName =
    http::HeaderName::from_static(cancel_token::grpc_timeout::HEADER);

/// What the floor puts in the extensions: a token-sized value (the layer's
/// is a `CancelToken`, one pointer), read by nothing.
#[derive(Clone)]
struct TokenSized(#[allow(dead_code)] usize);

impl<S: Service<Request<()>>> Service<Request<()>> for Floor<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<()>) -> S::Future {
        let headers = request.headers();
        let grpc = headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        let budget = headers
            .get(GRPC_TIMEOUT)
            .map(|v| cancel_token::grpc_timeout::decode(v.as_bytes()));
        let now = tokio::time::Instant::now();
        black_box((grpc, budget, now));
        for _ in 0..8 {
            self.1.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        request.extensions_mut().insert(TokenSized(black_box(0)));
        self.0.call(request)
    }
}

fn floor<S>(inner: S) -> Floor<S> {
    Floor(inner, Default::default())
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

/// The fastest of 7 alternated runs of `N` requests through each of the
/// bare handler, the server layer, tower-http's and the floor, printed with
/// the overheads and their ratios.
fn compare<S, A, B, F>(
    rt: &tokio::runtime::Runtime,
    name: &str,
    (bare, ours, theirs, floor): (&S, &A, &B, &F),
) where
    S: Service<Request<()>, Error = Infallible> + Clone,
    A: Service<Request<()>, Error = Infallible> + Clone,
    B: Service<Request<()>, Error = Infallible> + Clone,
    F: Service<Request<()>, Error = Infallible> + Clone,
{
    const N: u64 = 100_000;
    let mut t = [Duration::MAX; 4];
    for _ in 0..7 {
        t[0] = t[0].min(rt.block_on(run(bare, N)));
        t[1] = t[1].min(rt.block_on(run(ours, N)));
        t[2] = t[2].min(rt.block_on(run(theirs, N)));
        t[3] = t[3].min(rt.block_on(run(floor, N)));
    }
    let ns = |d: Duration| d.as_secs_f64() * 1e9 / N as f64;
    let (bare, ours, theirs, floor) = (ns(t[0]), ns(t[1]), ns(t[2]), ns(t[3]));
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
        "  floor                         {floor:7.1} ns  (overhead {:6.1} ns)",
        floor - bare
    );
    println!(
        "  overhead ratio, ours / tower-http's: {:.2}; ours / floor: {:.2}; floor / tower-http's: {:.2}",
        (ours - bare) / (theirs - bare),
        (ours - bare) / (floor - bare),
        (floor - bare) / (theirs - bare),
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
    let (floor_r, floor_y) = (floor(handler()), floor(yielding()));
    compare(
        &rt,
        "handler ready at once",
        (&bare, &ours, &theirs, &floor_r),
    );
    compare(
        &rt,
        "handler pending once",
        (&bare_y, &ours_y, &theirs_y, &floor_y),
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
