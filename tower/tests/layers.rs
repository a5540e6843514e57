//! The layers in-process, through `ServiceExt::oneshot`, on tokio's paused
//! clock: each row of the README's behaviour table.

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cancel_token::{CancelSource, CancelToken, ManualDriver, Reason, TokioDriver};
use cancel_token_tower::{
    CallError, ClientDeadlineLayer, DetachLayer, Expired, RequestToken, ServerDeadlineLayer,
};
use http::{Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use tokio::sync::{mpsc, oneshot};
use tower::{Layer, ServiceExt};

use support::{status_of, BOUND};

type Body = Full<Bytes>;

/// A handler that sends its token out, then answers after `delay`.
fn handler(
    delay: Duration,
    tokens: mpsc::UnboundedSender<CancelToken>,
) -> impl tower::Service<Request<()>, Response = Response<Body>, Error = Infallible, Future: Send> + Clone
{
    tower::service_fn(move |req: Request<()>| {
        let token = req.extensions().get::<CancelToken>().cloned();
        let _ = tokens.send(token.expect("the server layer's token"));
        async move {
            tokio::time::sleep(delay).await;
            Ok(Response::new(Full::new(Bytes::from_static(b"done"))))
        }
    })
}

fn grpc(timeout: Option<&str>) -> Request<()> {
    let mut b = Request::builder().header("content-type", "application/grpc");
    if let Some(t) = timeout {
        b = b.header("grpc-timeout", t);
    }
    b.body(()).unwrap()
}

fn plain(timeout: Option<&str>) -> Request<()> {
    let mut b = Request::builder();
    if let Some(t) = timeout {
        b = b.header("grpc-timeout", t);
    }
    b.body(()).unwrap()
}

fn server() -> CancelSource {
    CancelSource::with_clock(TokioDriver::current())
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(BOUND, f).await.expect("bounded")
}

#[tokio::test(start_paused = true)]
async fn the_header_sets_the_budget_capped_by_the_server_maximum() {
    let server = server();
    let (tx, mut tokens) = mpsc::unbounded_channel();
    let layer = ServerDeadlineLayer::new(&server).max_timeout(Duration::from_secs(2));
    let service = layer.layer(handler(Duration::ZERO, tx));
    for (header, budget) in [
        (Some("300m"), Duration::from_millis(300)),
        (Some("1500000u"), Duration::from_millis(1500)),
        (Some("5S"), Duration::from_secs(2)), // capped
        (None, Duration::from_secs(2)),       // the server's maximum
    ] {
        let response = bounded(service.clone().oneshot(grpc(header)))
            .await
            .unwrap();
        let token = tokens.recv().await.unwrap();
        assert_eq!(token.remaining(), Some(budget), "{header:?}");
        // The request is over once its body is: so is its token.
        assert!(!token.is_cancelled());
        drop(response);
        assert_eq!(token.reason(), Some(Reason::Cancelled));
    }
}

#[tokio::test(start_paused = true)]
async fn without_header_or_maximum_a_request_has_no_deadline() {
    let server = server();
    let (tx, mut tokens) = mpsc::unbounded_channel();
    let service = ServerDeadlineLayer::new(&server).layer(handler(Duration::ZERO, tx));
    let response = bounded(service.oneshot(plain(None))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let token = tokens.recv().await.unwrap();
    assert_eq!(token.remaining(), None);
    // The server's token reaches it.
    server.cancel();
    assert_eq!(token.reason(), Some(Reason::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn a_malformed_header_is_refused_without_calling_the_handler() {
    let server = server();
    let (tx, mut tokens) = mpsc::unbounded_channel();
    let service = ServerDeadlineLayer::new(&server).layer(handler(Duration::ZERO, tx));

    let response = bounded(service.clone().oneshot(grpc(Some("1s"))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (code, message) = status_of(response).await;
    assert_eq!(code.as_deref(), Some("13"));
    assert_eq!(
        message.as_deref(),
        Some("malformed grpc-timeout: unit 's' is not one of H M S m u n")
    );

    let response = bounded(service.oneshot(plain(Some("-1S")))).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        text,
        "malformed grpc-timeout: byte '-' where a digit belongs\n"
    );
    assert!(tokens.try_recv().is_err(), "the handler was called");
}

#[tokio::test(start_paused = true)]
async fn at_expiry_grpc_gets_deadline_exceeded_and_http_504() {
    let server = server();
    let (tx, mut tokens) = mpsc::unbounded_channel();
    let layer = ServerDeadlineLayer::new(&server).max_timeout(Duration::from_secs(1));
    let service = layer.layer(handler(Duration::from_secs(60), tx));

    let started = tokio::time::Instant::now();
    let response = bounded(service.clone().oneshot(grpc(Some("300m"))))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!((300..=301).contains(&waited.as_millis()), "{waited:?}");
    let token = tokens.recv().await.unwrap();
    assert_eq!(token.reason(), Some(Reason::DeadlineExceeded));
    let expired = response.extensions().get::<Expired>().unwrap().clone();
    assert_eq!(expired.budget, Some(Duration::from_millis(300)));
    let (code, message) = status_of(response).await;
    assert_eq!(code.as_deref(), Some("4"));
    assert_eq!(
        message.as_deref(),
        Some("deadline exceeded: the caller's grpc-timeout passed (budget 300ms)")
    );

    // Plain HTTP, at the server's maximum.
    let response = bounded(service.clone().oneshot(plain(None))).await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    let text = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        text,
        "deadline exceeded: the server's maximum time for a request passed (budget 1s)\n"
    );

    // The status is configurable.
    let layer = ServerDeadlineLayer::new(&server)
        .max_timeout(Duration::from_secs(1))
        .expired_status(StatusCode::SERVICE_UNAVAILABLE);
    let (tx, _tokens) = mpsc::unbounded_channel();
    let response = bounded(
        layer
            .layer(handler(Duration::from_secs(60), tx))
            .oneshot(plain(None)),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(start_paused = true)]
async fn a_spent_budget_answers_at_once_without_the_handler() {
    let server = server();
    let (tx, mut tokens) = mpsc::unbounded_channel();
    let service = ServerDeadlineLayer::new(&server).layer(handler(Duration::ZERO, tx));
    let response = bounded(service.oneshot(grpc(Some("0n")))).await.unwrap();
    assert_eq!(status_of(response).await.0.as_deref(), Some("4"));
    assert!(tokens.try_recv().is_err(), "the handler was called");
}

#[tokio::test(start_paused = true)]
async fn the_server_shutting_down_answers_cancelled() {
    let server = server();
    let (tx, mut tokens) = mpsc::unbounded_channel();
    let service = ServerDeadlineLayer::new(&server).layer(handler(Duration::from_secs(60), tx));
    let call = tokio::spawn(service.oneshot(grpc(Some("10S"))));
    let token = bounded(tokens.recv()).await.unwrap();
    server.cancel();
    let response = bounded(call).await.unwrap().unwrap();
    assert_eq!(status_of(response).await.0.as_deref(), Some("1"));
    assert_eq!(token.reason(), Some(Reason::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_response_future_cancels_work_spawned_with_the_token() {
    let server = server();
    let (tx, mut tokens) = mpsc::unbounded_channel();
    let service = ServerDeadlineLayer::new(&server).layer(handler(Duration::from_secs(60), tx));
    let mut call = Box::pin(service.oneshot(grpc(Some("10S"))));
    assert!(futures_poll(&mut call).is_none());
    let token = tokens.recv().await.unwrap();
    let (done, spawned) = oneshot::channel();
    tokio::spawn(async move { done.send(token.cancelled().await) });
    drop(call); // the client went away
    assert_eq!(bounded(spawned).await.unwrap(), Reason::Cancelled);
}

/// Polls `f` once.
fn futures_poll<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::Pin::new(f).poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

type Chunk = Result<Frame<Bytes>, Infallible>;
type Chunks = futures_channel::mpsc::UnboundedReceiver<Chunk>;

/// A handler that streams what the test sends, and hands out its token.
fn streaming(
    tokens: mpsc::UnboundedSender<(CancelToken, futures_channel::mpsc::UnboundedSender<Chunk>)>,
) -> impl tower::Service<
    Request<()>,
    Response = Response<StreamBody<Chunks>>,
    Error = Infallible,
    Future: Send,
> + Clone {
    tower::service_fn(move |req: Request<()>| {
        let token = req.extensions().get::<CancelToken>().cloned().unwrap();
        let (chunks, rx) = futures_channel::mpsc::unbounded();
        let _ = tokens.send((token, chunks));
        async move { Ok(Response::new(StreamBody::new(rx))) }
    })
}

#[tokio::test(start_paused = true)]
async fn the_body_keeps_the_token_until_it_ends_or_is_dropped() {
    let server = server();
    let (tx, mut handed) = mpsc::unbounded_channel();
    let service = ServerDeadlineLayer::new(&server).layer(streaming(tx));

    // Ends: the token is cancelled once the body is done.
    let response = bounded(service.clone().oneshot(plain(None))).await.unwrap();
    let (token, chunks) = handed.recv().await.unwrap();
    let mut body = Box::pin(response.into_body());
    chunks
        .unbounded_send(Ok(Frame::data(Bytes::from_static(b"a"))))
        .unwrap();
    assert!(bounded(body.frame()).await.unwrap().is_ok());
    assert!(!token.is_cancelled(), "cancelled while streaming");
    drop(chunks);
    assert!(bounded(body.frame()).await.is_none());
    assert_eq!(token.reason(), Some(Reason::Cancelled));

    // Dropped mid-stream (the client went away).
    let response = bounded(service.oneshot(plain(None))).await.unwrap();
    let (token, _chunks) = handed.recv().await.unwrap();
    drop(response);
    assert_eq!(token.reason(), Some(Reason::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn expiry_mid_stream_ends_grpc_with_trailers_and_fails_http() {
    let server = server();
    let (tx, mut handed) = mpsc::unbounded_channel();
    let service = ServerDeadlineLayer::new(&server).layer(streaming(tx));

    let response = bounded(service.clone().oneshot(grpc(Some("100m"))))
        .await
        .unwrap();
    let (_token, _chunks) = handed.recv().await.unwrap();
    let (code, message) = status_of(response).await; // waits out the 100 ms
    assert_eq!(code.as_deref(), Some("4"));
    assert!(message
        .unwrap()
        .starts_with("deadline exceeded: the caller's grpc-timeout passed"));

    let response = bounded(service.oneshot(plain(Some("100m")))).await.unwrap();
    let (_token, _chunks) = handed.recv().await.unwrap();
    let error = bounded(response.into_body().collect()).await.err().unwrap();
    assert!(error.is::<Expired>(), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_detached_route_gets_a_token_no_request_cancel_reaches() {
    let server = server();
    let (tx, mut tokens) = mpsc::unbounded_channel();
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = requests.clone();
    let route = DetachLayer::new().layer(tower::service_fn(move |req: Request<()>| {
        let _ = tx.send(req.extensions().get::<CancelToken>().cloned().unwrap());
        seen.lock()
            .unwrap()
            .push(req.extensions().get::<RequestToken>().cloned().unwrap());
        async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::new()))) }
    }));
    let service = ServerDeadlineLayer::new(&server).layer(route);
    let response = bounded(service.oneshot(grpc(Some("100m")))).await.unwrap();
    drop(response);
    let job = tokens.recv().await.unwrap();
    let request = requests.lock().unwrap().pop().unwrap();
    assert_eq!(request.0.reason(), Some(Reason::Cancelled));
    assert!(!job.is_cancelled());
    assert_eq!(job.remaining(), None);
    // Its own timeouts run on the server's (paused) clock.
    let audit = job.child_with_timeout(Duration::from_secs(5));
    let started = tokio::time::Instant::now();
    assert_eq!(bounded(audit.cancelled()).await, Reason::DeadlineExceeded);
    assert!(started.elapsed() >= Duration::from_secs(5));
}

// ---- the client layer ----

/// An upstream that records the `grpc-timeout` it was sent and counts its
/// calls, answering after `delay`.
fn upstream(
    delay: Duration,
    calls: Arc<AtomicUsize>,
    dropped: mpsc::UnboundedSender<()>,
) -> impl tower::Service<Request<()>, Response = Response<Body>, Error = Infallible, Future: Send> + Clone
{
    struct OnDrop(mpsc::UnboundedSender<()>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
    tower::service_fn(move |req: Request<()>| {
        calls.fetch_add(1, Ordering::Relaxed);
        let sent = req
            .headers()
            .get("grpc-timeout")
            .map(|v| v.as_bytes().to_vec());
        let guard = OnDrop(dropped.clone());
        async move {
            tokio::time::sleep(delay).await;
            std::mem::forget(guard);
            Ok(Response::new(Full::new(Bytes::from(
                sent.unwrap_or_default(),
            ))))
        }
    })
}

fn call_with(token: &CancelToken) -> Request<()> {
    let mut req = Request::new(());
    req.extensions_mut().insert(token.clone());
    req
}

#[tokio::test(start_paused = true)]
async fn the_client_writes_the_remaining_time() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (dropped, _) = mpsc::unbounded_channel();
    let client = ClientDeadlineLayer::new().layer(upstream(Duration::ZERO, calls.clone(), dropped));
    let root = server();
    let request = root.child_with_timeout(Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(120)).await;
    let response = bounded(client.clone().oneshot(call_with(&request)))
        .await
        .unwrap();
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "180000u"
    );

    // A smaller value already on the request is kept; a larger one is not.
    for (set, sent) in [("50m", "50m"), ("10S", "180000u")] {
        let mut req = call_with(&request);
        req.headers_mut()
            .insert("grpc-timeout", set.parse().unwrap());
        let response = bounded(client.clone().oneshot(req)).await.unwrap();
        assert_eq!(
            response.into_body().collect().await.unwrap().to_bytes(),
            sent
        );
    }

    // No token, no header; a token without a deadline, no header either.
    let response = bounded(client.clone().oneshot(Request::new(())))
        .await
        .unwrap();
    assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "");
    let response = bounded(client.oneshot(call_with(&root))).await.unwrap();
    assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "");
    assert_eq!(calls.load(Ordering::Relaxed), 5);
}

#[tokio::test(start_paused = true)]
async fn the_client_fails_fast_when_the_budget_is_spent() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (dropped, _) = mpsc::unbounded_channel();
    let client = ClientDeadlineLayer::new().layer(upstream(Duration::ZERO, calls.clone(), dropped));

    // Cancelled by its deadline, with the deadline's cause.
    let root = server();
    let spent = root.child_with_timeout_cause(
        Duration::from_millis(10),
        &cancel_token_tower::CallerDeadline,
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    // Spent, before its timer has fired: no cause yet.
    assert_eq!(spent.remaining(), Some(Duration::ZERO));
    let error = bounded(client.clone().oneshot(call_with(&spent)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CallError::DeadlineExceeded(None)),
        "{error}"
    );
    // Fired: with its cause.
    bounded(spent.cancelled()).await;
    let error = bounded(client.clone().oneshot(call_with(&spent)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CallError::DeadlineExceeded(Some(c)) if c == "the caller's grpc-timeout passed")
    );
    assert_eq!(error.grpc_code(), Some(4));
    assert_eq!(
        error.to_string(),
        "call dropped: deadline exceeded: the caller's grpc-timeout passed"
    );

    // Cancelled otherwise.
    let root = CancelSource::with_clock(ManualDriver::new());
    let cancelled = root.child();
    cancelled.cancel();
    let error = bounded(client.oneshot(call_with(&cancelled)))
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::Cancelled(None)));
    assert_eq!(error.grpc_code(), Some(1));
    assert_eq!(calls.load(Ordering::Relaxed), 0, "a call was sent");
}

#[tokio::test(start_paused = true)]
async fn the_client_drops_the_call_when_the_token_is_cancelled() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (dropped, mut drops) = mpsc::unbounded_channel();
    let client =
        ClientDeadlineLayer::new().layer(upstream(Duration::from_secs(60), calls, dropped));
    let root = server();

    let request = root.child_with_timeout(Duration::from_millis(200));
    let started = tokio::time::Instant::now();
    let error = bounded(client.clone().oneshot(call_with(&request)))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!((200..=201).contains(&waited.as_millis()), "{waited:?}");
    assert!(
        matches!(error, CallError::DeadlineExceeded(None)),
        "{error}"
    );
    assert_eq!(
        bounded(drops.recv()).await,
        Some(()),
        "the call was not dropped"
    );

    // A gRPC call reports the status as gRPC does: in a response.
    let request = root.child_with_timeout_cause(
        Duration::from_millis(200),
        &cancel_token_tower::CallerDeadline,
    );
    let mut call = call_with(&request);
    call.headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    let response = bounded(client.clone().oneshot(call)).await.unwrap();
    assert_eq!(
        status_of(response).await,
        (
            Some("4".into()),
            Some("deadline exceeded: the caller's grpc-timeout passed".into())
        )
    );
    assert_eq!(
        bounded(drops.recv()).await,
        Some(()),
        "the call was not dropped"
    );

    let request = root.child();
    let call = tokio::spawn(client.oneshot(call_with(&request)));
    tokio::time::sleep(Duration::from_millis(5)).await;
    request.cancel();
    let error = bounded(call).await.unwrap().unwrap_err();
    assert!(matches!(error, CallError::Cancelled(None)), "{error}");
    assert_eq!(
        bounded(drops.recv()).await,
        Some(()),
        "the call was not dropped"
    );
}

/// The bodies stay `Unpin` when the ones they wrap are, so that
/// `BodyExt::frame` reads them without a pin (their waiter is boxed, made
/// only when the body is pending).
#[test]
fn the_bodies_are_unpin_when_theirs_are() {
    fn unpin<T: Unpin>() {}
    unpin::<cancel_token_tower::DeadlineBody<Full<Bytes>>>();
    unpin::<cancel_token_tower::CallBody<Full<Bytes>>>();
}
