//! A route whose work outlives its request.

use core::task::{Context, Poll};

use cancel_token::CancelToken;
use http::Request;
use tower_layer::Layer;
use tower_service::Service;

/// A [`Layer`] for one route, inside [`ServerDeadlineLayer`](crate::ServerDeadlineLayer):
/// its handler's [`CancelToken`] is [`detached`](CancelToken::detached)
/// from the request (Go's `context.WithoutCancel`). Work it spawns with
/// that token outlives the request (an audit write, a cache fill): neither
/// the client's disconnect nor the request's deadline reaches it, and its
/// own timeouts (`token.child_with_timeout(d)`) run on the server's clock.
/// The server layer still answers the client at the request's deadline,
/// and drops the handler's own future then; the token of the request
/// itself is in the extensions as [`RequestToken`].
///
/// ```
/// use cancel_token::{CancelSource, CancelToken, ManualDriver};
/// use cancel_token_tower::{DetachLayer, RequestToken, ServerDeadlineLayer};
/// use tower::{Layer, ServiceExt};
///
/// # futures_executor::block_on(async {
/// let server = CancelSource::with_clock(ManualDriver::new());
/// let (jobs, mut started) = futures_channel::mpsc::unbounded();
/// let handler = tower::service_fn(move |req: http::Request<()>| {
///     let job = req.extensions().get::<CancelToken>().unwrap().clone();
///     jobs.unbounded_send(job).unwrap(); // as if spawned with it
///     async { Ok::<_, std::convert::Infallible>(http::Response::new(String::new())) }
/// });
/// let route = ServerDeadlineLayer::new(&server).layer(DetachLayer::new().layer(handler));
/// route.oneshot(http::Request::new(())).await.unwrap();
/// // The request is over (its token cancelled); the job's token is not.
/// assert!(!started.try_next().unwrap().unwrap().is_cancelled());
/// # });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct DetachLayer {
    _private: (),
}

impl DetachLayer {
    /// The layer.
    pub fn new() -> Self {
        DetachLayer::default()
    }
}

/// The request's own token, beside the detached one a [`DetachLayer`]
/// route gets as its [`CancelToken`].
#[derive(Clone, Debug)]
pub struct RequestToken(pub CancelToken);

impl<S> Layer<S> for DetachLayer {
    type Service = Detach<S>;

    fn layer(&self, inner: S) -> Detach<S> {
        Detach { inner }
    }
}

/// The service of [`DetachLayer`].
#[derive(Clone, Debug)]
pub struct Detach<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Detach<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        let extensions = req.extensions_mut();
        if let Some(request) = extensions.remove::<CancelToken>() {
            extensions.insert(request.detached());
            extensions.insert(RequestToken(request));
        }
        self.inner.call(req)
    }
}
