//! The server layer: each request runs under a child of the server's token,
//! with the smaller of its `grpc-timeout` and the server's maximum.

use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use core::time::Duration;
use std::sync::Arc;

use cancel_token::{grpc_timeout, CancelSource, CancelToken, Reason};
use http::{Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::DeadlineBody;
use crate::expired::{code, is_grpc, respond, Expired, GRPC_TIMEOUT};
use crate::watch::{poll_cancelled, Waiter};

/// The cause of a request's expiry at the deadline its caller sent
/// (`grpc-timeout`).
///
/// ```
/// assert_eq!(cancel_token_tower::CallerDeadline.to_string(), "the caller's grpc-timeout passed");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CallerDeadline;

impl core::fmt::Display for CallerDeadline {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the caller's grpc-timeout passed")
    }
}

impl std::error::Error for CallerDeadline {}

/// The cause of a request's expiry at the server's maximum
/// ([`ServerDeadlineLayer::max_timeout`]).
///
/// ```
/// assert_eq!(cancel_token_tower::ServerLimit.to_string(), "the server's maximum time for a request passed");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ServerLimit;

impl core::fmt::Display for ServerLimit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the server's maximum time for a request passed")
    }
}

impl std::error::Error for ServerLimit {}

/// What every request of one server shares.
#[derive(Clone, Debug)]
struct Config {
    server: CancelToken,
    max: Option<Duration>,
    expired_status: StatusCode,
}

/// A [`Layer`] giving each request a [`CancelToken`] in its extensions: a
/// child of the server's token, on the server's clock, cancelled when the
/// request's budget is spent, when the server's token is cancelled, and when
/// the client goes away (hyper drops the response future, or the body
/// mid-stream). On expiry the layer answers for the handler: gRPC requests
/// with `grpc-status: 4` (`DEADLINE_EXCEEDED`), others with
/// [`expired_status`](Self::expired_status) (504 by default); see the
/// README's "Across services" for the whole table.
///
/// ```
/// use std::time::Duration;
/// use cancel_token::{CancelSource, CancelToken, TokioDriver};
/// use cancel_token_tower::ServerDeadlineLayer;
/// use tower_layer::Layer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = CancelSource::with_clock(TokioDriver::current());
/// let layer = ServerDeadlineLayer::new(&server).max_timeout(Duration::from_secs(30));
/// let handler = tower::service_fn(|req: http::Request<String>| async move {
///     let token = req.extensions().get::<CancelToken>().unwrap();
///     let left = token.remaining().unwrap(); // the caller's budget, or 30 s
///     Ok::<_, std::convert::Infallible>(http::Response::new(format!("{} ms left", left.as_millis())))
/// });
/// let service = layer.layer(handler);
/// # let _ = service;
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ServerDeadlineLayer {
    config: Arc<Config>,
}

impl ServerDeadlineLayer {
    /// A layer whose requests are children of `server` (bind its root with
    /// `CancelSource::with_clock(TokioDriver::current())` so that requests
    /// follow the runtime's clock); cancelling `server` ends them all.
    pub fn new(server: &CancelToken) -> Self {
        ServerDeadlineLayer {
            config: Arc::new(Config {
                server: server.clone(),
                max: None,
                expired_status: StatusCode::GATEWAY_TIMEOUT,
            }),
        }
    }

    /// The longest a request may run, whatever its `grpc-timeout` says, and
    /// the budget of a request that sends none.
    pub fn max_timeout(self, max: Duration) -> Self {
        self.with(|c| c.max = Some(max))
    }

    /// The status of a plain HTTP request whose deadline passed (504
    /// Gateway Timeout by default); gRPC requests get `grpc-status: 4`.
    pub fn expired_status(self, status: StatusCode) -> Self {
        self.with(|c| c.expired_status = status)
    }

    fn with(self, f: impl FnOnce(&mut Config)) -> Self {
        let mut config = Arc::unwrap_or_clone(self.config);
        f(&mut config);
        ServerDeadlineLayer {
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for ServerDeadlineLayer {
    type Service = ServerDeadline<S>;

    fn layer(&self, inner: S) -> ServerDeadline<S> {
        ServerDeadline {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service of [`ServerDeadlineLayer`].
#[derive(Clone, Debug)]
pub struct ServerDeadline<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for ServerDeadline<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = Response<DeadlineBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let grpc = is_grpc(req.headers());
        let config = &self.config;
        let header = match req.headers().get(GRPC_TIMEOUT) {
            None => None,
            Some(v) => match grpc_timeout::decode(v.as_bytes()) {
                Ok(d) => Some(d),
                Err(e) => {
                    let status = StatusCode::BAD_REQUEST;
                    let (head, body) = respond(grpc, code::INTERNAL, status, &e.to_string());
                    return ResponseFuture::ready(head, body);
                }
            },
        };
        let (budget, source) = match (header, config.max) {
            (Some(h), Some(m)) if m < h => (Some(m), timed(&config.server, m, &ServerLimit)),
            (Some(h), _) => (Some(h), timed(&config.server, h, &CallerDeadline)),
            (None, Some(m)) => (Some(m), timed(&config.server, m, &ServerLimit)),
            (None, None) => (None, config.server.child()),
        };
        let token = source.token();
        if let Some(reason) = token.reason() {
            // Spent before it started (`grpc-timeout: 0n`, a cancelled
            // server): the handler is not called.
            let (head, body) = ResponseFuture::<S::Future>::expired(
                config.expired_status,
                grpc,
                &token,
                reason,
                budget,
            );
            return ResponseFuture::ready(head, body);
        }
        req.extensions_mut().insert(token);
        let inner = self.inner.call(req);
        ResponseFuture::running(inner, source, grpc, budget, config.expired_status)
    }
}

/// A child of `server` expiring after `d` with `cause`.
fn timed(server: &CancelToken, d: Duration, cause: impl Into<cancel_token::Cause>) -> CancelSource {
    server.child_with_timeout_cause(d, cause)
}

pin_project_lite::pin_project! {
    /// The response future of [`ServerDeadline`]: the handler's, raced
    /// against the request's token. It owns the request's source, so
    /// dropping it (hyper does when the client goes away) cancels the
    /// token; once the handler answers, the source moves into the body.
    pub struct ResponseFuture<F> {
        // Before `inner`, so that it is dropped first: the handler's work
        // sees its token cancelled before its future goes.
        source: Option<CancelSource>,
        #[pin]
        inner: Option<F>,
        // Made at the first pending poll: a handler that answers at once
        // registers no waiter.
        #[pin]
        cancelled: Waiter,
        // The layer's own answer.
        ready: Option<Box<(Response<()>, Option<bytes::Bytes>)>>,
        grpc: bool,
        budget: Option<Duration>,
        expired_status: StatusCode,
    }
}

impl<F> ResponseFuture<F> {
    fn running(
        inner: F,
        source: CancelSource,
        grpc: bool,
        budget: Option<Duration>,
        expired_status: StatusCode,
    ) -> Self {
        ResponseFuture {
            source: Some(source),
            inner: Some(inner),
            cancelled: None,
            ready: None,
            grpc,
            budget,
            expired_status,
        }
    }

    fn ready(head: Response<()>, body: Option<bytes::Bytes>) -> Self {
        ResponseFuture {
            source: None,
            inner: None,
            cancelled: None,
            ready: Some(Box::new((head, body))),
            grpc: false,
            budget: None,
            expired_status: StatusCode::OK,
        }
    }

    fn expired(
        status: StatusCode,
        grpc: bool,
        token: &CancelToken,
        reason: Reason,
        budget: Option<Duration>,
    ) -> (Response<()>, Option<bytes::Bytes>) {
        let expired = Expired::of(token, reason, budget);
        let status = match reason {
            Reason::DeadlineExceeded => status,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        let (mut head, body) = respond(grpc, expired.grpc_code(), status, &expired.to_string());
        head.extensions_mut().insert(expired);
        (head, body)
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<DeadlineBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(ready) = this.ready.take() {
            let (head, body) = *ready;
            return Poll::Ready(Ok(head.map(|()| DeadlineBody::full(body))));
        }
        let token: &CancelToken = this.source.as_deref().expect("polled after completion");
        let reason = match token.reason() {
            Some(reason) => reason,
            None => {
                let inner = this
                    .inner
                    .as_mut()
                    .as_pin_mut()
                    .expect("polled after completion");
                if let Poll::Ready(result) = inner.poll(cx) {
                    this.inner.set(None);
                    this.cancelled.set(None);
                    let source = this.source.take().expect("polled after completion");
                    let grpc = *this.grpc;
                    return Poll::Ready(
                        result.map(|r| r.map(|body| DeadlineBody::watched(body, source, grpc))),
                    );
                }
                ready!(poll_cancelled(this.cancelled.as_mut(), token, cx))
            }
        };
        // The handler's future goes first, then the source (its token is
        // already cancelled).
        this.inner.set(None);
        this.cancelled.set(None);
        let source = this.source.take().expect("polled after completion");
        let (head, body) = Self::expired(
            *this.expired_status,
            *this.grpc,
            &source,
            reason,
            *this.budget,
        );
        Poll::Ready(Ok(head.map(|()| DeadlineBody::full(body))))
    }
}

impl<F> core::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("source", &self.source)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}
