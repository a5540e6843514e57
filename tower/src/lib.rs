//! Tower layers that carry a [`cancel_token`] deadline across services, as
//! gRPC's `grpc-timeout` header.
//!
//! - [`ServerDeadlineLayer`]: each request runs under a child of the
//!   server's token, on the server's clock, expiring at the smaller of its
//!   `grpc-timeout` and the server's maximum; the [`CancelToken`] is in the
//!   request's extensions. The client going away cancels it; at its
//!   deadline the layer answers `DEADLINE_EXCEEDED` (gRPC) or 504 (HTTP).
//! - [`ClientDeadlineLayer`]: an outgoing request's token becomes its
//!   `grpc-timeout`; a spent budget fails the call before it is sent, and a
//!   cancel while it runs drops it (an HTTP/2 `RST_STREAM`).
//! - [`DetachLayer`]: a route whose work outlives the request (Go's
//!   `context.WithoutCancel`).
//!
//! A handler that calls on passes its own token along, and the next hop's
//! budget is what is left of this one's:
//!
//! ```
//! use std::time::Duration;
//! use cancel_token::{CancelSource, CancelToken, ManualDriver};
//! use cancel_token_tower::{ClientDeadlineLayer, ServerDeadlineLayer};
//! use http_body_util::BodyExt;
//! use tower::{Layer, ServiceExt};
//!
//! # futures_executor::block_on(async {
//! // The next hop: echoes the grpc-timeout it was sent.
//! let next = tower::service_fn(|req: http::Request<()>| async move {
//!     let sent = req.headers()["grpc-timeout"].to_str().unwrap().to_owned();
//!     Ok::<_, std::convert::Infallible>(http::Response::new(sent))
//! });
//! let next = ClientDeadlineLayer::new().layer(next);
//! let handler = tower::service_fn(move |req: http::Request<()>| {
//!     let mut call = http::Request::new(());
//!     call.extensions_mut().insert(req.extensions().get::<CancelToken>().unwrap().clone());
//!     next.clone().oneshot(call)
//! });
//! let clock = ManualDriver::new();
//! let server = CancelSource::with_clock(clock.clone());
//! let service = ServerDeadlineLayer::new(&server).layer(handler);
//! let request = http::Request::builder().header("grpc-timeout", "300m").body(()).unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! let sent = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(sent, "300000u"); // all of it: the clock has not moved
//! # });
//! ```
#![deny(missing_docs)]

mod body;
mod client;
mod detach;
mod expired;
mod server;
mod watch;

pub use body::DeadlineBody;
pub use client::{CallBody, CallError, CallFuture, ClientDeadline, ClientDeadlineLayer};
pub use detach::{Detach, DetachLayer, RequestToken};
pub use expired::Expired;
pub use server::{
    CallerDeadline, ResponseFuture, ServerDeadline, ServerDeadlineLayer, ServerLimit,
};

#[doc(no_inline)]
pub use cancel_token::CancelToken;

/// The error type of the server layer's body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
