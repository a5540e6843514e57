//! The server layer's response body: the handler's, which keeps the
//! request's source until it ends, or the layer's own text.

use core::pin::Pin;
use core::task::{Context, Poll};

use bytes::Bytes;
use cancel_token::CancelSource;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

use crate::expired::{put_status, Expired};
use crate::watch::{poll_cancelled_boxed, BoxedWaiter};
use crate::BoxError;

pin_project_lite::pin_project! {
    /// The body of a response through [`ServerDeadline`](crate::ServerDeadline).
    ///
    /// A handler's body keeps the request's source: the request's token
    /// stays uncancelled while the body streams, and is cancelled when the
    /// body ends or is dropped (hyper drops it when the client goes away
    /// mid-stream). If the token is cancelled mid-stream (its deadline), a
    /// gRPC body ends with trailers `grpc-status: 4`, and another body
    /// fails with an [`Expired`] error, which makes hyper reset the stream.
    pub struct DeadlineBody<B> {
        // Dropped first: the token is cancelled before the body goes.
        source: Option<CancelSource>,
        #[pin]
        inner: Option<B>,
        cancelled: BoxedWaiter,
        // The layer's own text.
        data: Option<Bytes>,
        grpc: bool,
    }
}

impl<B> DeadlineBody<B> {
    /// A handler's `body`, kept with the request's `source`.
    pub(crate) fn watched(body: B, source: CancelSource, grpc: bool) -> Self {
        DeadlineBody {
            inner: Some(body),
            source: Some(source),
            cancelled: None,
            data: None,
            grpc,
        }
    }

    /// The layer's own body: `data`, or nothing.
    pub(crate) fn full(data: Option<Bytes>) -> Self {
        DeadlineBody {
            inner: None,
            source: None,
            cancelled: None,
            data,
            grpc: false,
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(this.data.take().map(|data| Ok(Frame::data(data))));
        };
        let reason = match this.source.as_deref().and_then(|t| t.reason()) {
            Some(reason) => reason,
            None => match inner.poll_frame(cx) {
                Poll::Ready(None) => {
                    // The body is done: so is the request.
                    this.inner.set(None);
                    *this.cancelled = None;
                    *this.source = None;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(frame)) => return Poll::Ready(Some(frame.map_err(Into::into))),
                Poll::Pending => {
                    let token = this
                        .source
                        .as_deref()
                        .expect("a watched body keeps its source");
                    match poll_cancelled_boxed(this.cancelled, token, cx) {
                        Poll::Ready(reason) => reason,
                        Poll::Pending => return Poll::Pending,
                    }
                }
            },
        };
        let source = this.source.take().expect("a watched body keeps its source");
        let expired = Expired::of(&source, reason, None);
        this.inner.set(None);
        *this.cancelled = None;
        if *this.grpc {
            let mut trailers = HeaderMap::new();
            put_status(&mut trailers, expired.grpc_code(), &expired.to_string());
            Poll::Ready(Some(Ok(Frame::trailers(trailers))))
        } else {
            Poll::Ready(Some(Err(Box::new(expired))))
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Some(inner) => inner.is_end_stream(),
            None => self.data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.inner, &self.data) {
            (Some(inner), _) => inner.size_hint(),
            (None, Some(data)) => SizeHint::with_exact(data.len() as u64),
            (None, None) => SizeHint::with_exact(0),
        }
    }
}

impl<B> core::fmt::Debug for DeadlineBody<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeadlineBody")
            .field("source", &self.source)
            .field("grpc", &self.grpc)
            .finish_non_exhaustive()
    }
}
