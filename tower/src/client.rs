//! The client layer: an outgoing request's token becomes its `grpc-timeout`,
//! and its cancel drops the call.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use cancel_token::{grpc_timeout, CancelToken, Reason};
use http::{HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use tower_layer::Layer;
use tower_service::Service;

use crate::expired::{code, is_grpc, respond, GRPC_TIMEOUT};
use crate::watch::{poll_cancelled, poll_cancelled_boxed, BoxedWaiter, Waiter};

/// A [`Layer`] for outgoing calls: it reads the [`CancelToken`] in the
/// request's extensions (the one the server layer gave the handler, or any
/// other) and
///
/// - writes `grpc-timeout` with the token's [`remaining`](CancelToken::remaining)
///   time (keeping a smaller value the request already has);
/// - fails at once, without sending, if the token is cancelled or its
///   budget is spent;
/// - drops the call when the token is cancelled while it runs, headers or
///   body (hyper's HTTP/2 client then resets the stream with `RST_STREAM`).
///
/// A call dropped so, or never sent, reports `DEADLINE_EXCEEDED` when the
/// token's reason is a deadline and `CANCELLED` otherwise, as gRPC asks of
/// clients: a gRPC request (`content-type: application/grpc...`) gets a
/// trailers-only response with that `grpc-status` and the cause as
/// `grpc-message`, so that a gRPC client above (tonic's) reports the
/// status; another request fails with [`CallError::DeadlineExceeded`] or
/// [`CallError::Cancelled`]. A body cut short fails with those errors.
///
/// A request without a token passes through untouched.
///
/// ```
/// use std::time::Duration;
/// use cancel_token::{CancelSource, ManualDriver};
/// use cancel_token_tower::ClientDeadlineLayer;
/// use tower::{Layer, ServiceExt};
///
/// # futures_executor::block_on(async {
/// let upstream = tower::service_fn(|req: http::Request<String>| async move {
///     let sent = req.headers()["grpc-timeout"].to_str().unwrap().to_owned();
///     Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(bytes::Bytes::from(sent))))
/// });
/// let client = ClientDeadlineLayer::new().layer(upstream);
/// let driver = ManualDriver::new();
/// let root = CancelSource::with_clock(driver.clone());
/// let request = root.child_with_timeout(Duration::from_millis(250));
/// let mut call = http::Request::new(String::new());
/// call.extensions_mut().insert(request.token());
/// let response = client.oneshot(call).await.unwrap();
/// # let _ = response;
/// # });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientDeadlineLayer {
    _private: (),
}

impl ClientDeadlineLayer {
    /// The layer.
    pub fn new() -> Self {
        ClientDeadlineLayer::default()
    }
}

impl<S> Layer<S> for ClientDeadlineLayer {
    type Service = ClientDeadline<S>;

    fn layer(&self, inner: S) -> ClientDeadline<S> {
        ClientDeadline { inner }
    }
}

/// The service of [`ClientDeadlineLayer`].
#[derive(Clone, Debug)]
pub struct ClientDeadline<S> {
    inner: S,
}

/// Why a call through [`ClientDeadline`] failed.
#[non_exhaustive]
#[derive(Debug)]
pub enum CallError<E> {
    /// The token's deadline passed, before the call or during it: gRPC's
    /// `DEADLINE_EXCEEDED`. Holds the message of the token's cause.
    DeadlineExceeded(Option<String>),
    /// The token was cancelled otherwise (the caller's own caller went
    /// away, the server shuts down): gRPC's `CANCELLED`.
    Cancelled(Option<String>),
    /// The inner service's error.
    Service(E),
}

impl<E> CallError<E> {
    /// The error of a cancelled `token`.
    fn of(token: &CancelToken, reason: Reason) -> Self {
        Self::from_parts(reason, token.cause().map(|c| c.to_string()))
    }

    /// The message of the error, without its prefix.
    fn message(&self) -> Option<String> {
        let (reason, cause) = match self {
            CallError::DeadlineExceeded(cause) => (Reason::DeadlineExceeded, cause),
            CallError::Cancelled(cause) => (Reason::Cancelled, cause),
            CallError::Service(_) => return None,
        };
        Some(match cause {
            Some(cause) => format!("{reason}: {cause}"),
            None => reason.to_string(),
        })
    }

    /// The error for `reason` with the message of its cause.
    fn from_parts(reason: Reason, cause: Option<String>) -> Self {
        match reason {
            Reason::DeadlineExceeded => CallError::DeadlineExceeded(cause),
            _ => CallError::Cancelled(cause),
        }
    }

    /// The gRPC status code a client reports: 4 (`DEADLINE_EXCEEDED`) or 1
    /// (`CANCELLED`); `None` for the inner service's error.
    ///
    /// ```
    /// let e = cancel_token_tower::CallError::<()>::DeadlineExceeded(None);
    /// assert_eq!(e.grpc_code(), Some(4));
    /// ```
    pub fn grpc_code(&self) -> Option<u8> {
        match self {
            CallError::DeadlineExceeded(_) => Some(code::DEADLINE_EXCEEDED),
            CallError::Cancelled(_) => Some(code::CANCELLED),
            CallError::Service(_) => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.message()) {
            (CallError::Service(e), _) => e.fmt(f),
            (_, message) => write!(f, "call dropped: {}", message.unwrap_or_default()),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for CallError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Service(e) => Some(e),
            _ => None,
        }
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for ClientDeadline<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = Response<CallBody<ResB>>;
    type Error = CallError<S::Error>;
    type Future = CallFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(CallError::Service)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let Some(token) = req.extensions().get::<CancelToken>().cloned() else {
            return CallFuture::new(Some(self.inner.call(req)), None, false, None);
        };
        let grpc = is_grpc(req.headers());
        if let Some(reason) = token.reason() {
            let cause = token.cause().map(|c| c.to_string());
            return CallFuture::new(None, None, grpc, Some((reason, cause)));
        }
        if let Some(left) = token.remaining() {
            if left.is_zero() {
                // Spent, and its timer not fired yet.
                let cause = token.cause().map(|c| c.to_string());
                return CallFuture::new(None, None, grpc, Some((Reason::DeadlineExceeded, cause)));
            }
            let headers = req.headers_mut();
            let sent = headers
                .get(GRPC_TIMEOUT)
                .and_then(|v| grpc_timeout::decode(v.as_bytes()).ok());
            if sent.is_none_or(|sent| left < sent) {
                let value = grpc_timeout::encode(left);
                let value = HeaderValue::from_bytes(value.as_bytes()).expect("digits and a unit");
                headers.insert(GRPC_TIMEOUT, value);
            }
        }
        CallFuture::new(Some(self.inner.call(req)), Some(token), grpc, None)
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ClientDeadline`]: the inner call, dropped
    /// when the request's token is cancelled.
    pub struct CallFuture<F> {
        #[pin]
        inner: Option<F>,
        token: Option<CancelToken>,
        #[pin]
        cancelled: Waiter,
        // A call that fails before it is sent: the reason and the cause's
        // message.
        early: Option<(Reason, Option<String>)>,
        grpc: bool,
    }
}

impl<F> CallFuture<F> {
    fn new(
        inner: Option<F>,
        token: Option<CancelToken>,
        grpc: bool,
        early: Option<(Reason, Option<String>)>,
    ) -> Self {
        CallFuture {
            inner,
            token,
            cancelled: None,
            early,
            grpc,
        }
    }
}

impl<F, B, E> Future for CallFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<CallBody<B>>, CallError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some((reason, cause)) = this.early.take() {
            return Poll::Ready(dropped(*this.grpc, CallError::from_parts(reason, cause)));
        }
        let inner = this
            .inner
            .as_mut()
            .as_pin_mut()
            .expect("polled after completion");
        let Some(token) = this.token.as_ref() else {
            return inner.poll(cx).map(|r| {
                r.map(|r| r.map(|b| CallBody::new(b, None)))
                    .map_err(CallError::Service)
            });
        };
        if token.reason().is_none() {
            if let Poll::Ready(result) = inner.poll(cx) {
                this.inner.set(None);
                this.cancelled.set(None);
                let token = this.token.take();
                return Poll::Ready(
                    result
                        .map(|r| r.map(|b| CallBody::new(b, token)))
                        .map_err(CallError::Service),
                );
            }
        }
        let reason = match poll_cancelled(this.cancelled.as_mut(), token, cx) {
            Poll::Ready(reason) => reason,
            Poll::Pending => return Poll::Pending,
        };
        // Dropping the call resets its HTTP/2 stream.
        this.inner.set(None);
        Poll::Ready(dropped(*this.grpc, CallError::of(token, reason)))
    }
}

/// The outcome of a call the layer dropped or never sent: for gRPC, a
/// trailers-only response with the status; otherwise, `error`.
fn dropped<B, E>(grpc: bool, error: CallError<E>) -> Result<Response<CallBody<B>>, CallError<E>> {
    match (grpc, error.grpc_code(), error.message()) {
        (true, Some(code), Some(message)) => {
            let (head, _) = respond(true, code, http::StatusCode::OK, &message);
            Ok(head.map(|()| CallBody::empty()))
        }
        _ => Err(error),
    }
}

pin_project_lite::pin_project! {
    /// The response body of a call through [`ClientDeadline`]: it fails with
    /// [`CallError`] if the request's token is cancelled before it ends,
    /// and is dropped then (resetting the stream).
    pub struct CallBody<B> {
        #[pin]
        inner: Option<B>,
        token: Option<CancelToken>,
        cancelled: BoxedWaiter,
    }
}

impl<B> CallBody<B> {
    /// A body with nothing in it.
    fn empty() -> Self {
        CallBody {
            inner: None,
            token: None,
            cancelled: None,
        }
    }

    fn new(body: B, token: Option<CancelToken>) -> Self {
        CallBody {
            inner: Some(body),
            token,
            cancelled: None,
        }
    }
}

impl<B: Body> Body for CallBody<B> {
    type Data = B::Data;
    type Error = CallError<B::Error>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, Self::Error>>> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        let Some(token) = this.token.as_ref() else {
            return inner.poll_frame(cx).map_err(CallError::Service);
        };
        if token.reason().is_none() {
            if let Poll::Ready(frame) = inner.poll_frame(cx) {
                return Poll::Ready(frame.map(|f| f.map_err(CallError::Service)));
            }
        }
        let reason = match poll_cancelled_boxed(this.cancelled, token, cx) {
            Poll::Ready(reason) => reason,
            Poll::Pending => return Poll::Pending,
        };
        this.inner.set(None);
        Poll::Ready(Some(Err(CallError::of(token, reason))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl<F> fmt::Debug for CallFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallFuture")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl<B> fmt::Debug for CallBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallBody")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}
