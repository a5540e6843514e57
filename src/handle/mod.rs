//! The handles users hold: tokens, sources and the futures that wait.
//!
//! [`CancelToken`](token::CancelToken) and [`TokenRef`](token_ref::TokenRef)
//! observe, in every tier; [`CancelSource`](source::CancelSource) cancels,
//! with an allocator. This layer may use `driver` (the `std` fallback clock,
//! `ThreadDriver::global`), `time`, `node`, `wheel`, `util` and `sync`. Its
//! files are peers that use each other's public types.

pub(crate) mod cancelled;
#[cfg(feature = "alloc")]
pub(crate) mod clock;
#[cfg(feature = "alloc")]
pub(crate) mod deadline;
#[cfg(feature = "alloc")]
pub(crate) mod linked;
#[cfg(feature = "alloc")]
pub(crate) mod on_cancel;
#[cfg(feature = "alloc")]
pub(crate) mod source;
pub(crate) mod token;
pub(crate) mod token_ref;
#[cfg(feature = "tokio-util")]
pub(crate) mod tokio_util_bridge;
pub(crate) mod until_cancelled;
