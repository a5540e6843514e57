//! The one waiter a future or body keeps on a token, made when it is first
//! needed.
//!
//! A response future holds it in place ([`Waiter`], a `#[pin]` field): it is
//! pinned as it is polled, so the waiter costs no allocation. A body holds it
//! boxed ([`BoxedWaiter`]), so that a body stays `Unpin` when the one it
//! wraps is (`BodyExt::frame` asks for it).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use cancel_token::{CancelToken, CancelledOwned, Reason};

/// A waiter made at the first pending poll, in the future that holds it: a
/// future ready at once registers none.
pub(crate) type Waiter = Option<CancelledOwned>;

/// A waiter made at the first pending poll, boxed.
pub(crate) type BoxedWaiter = Option<Pin<Box<CancelledOwned>>>;

/// Polls the cancellation of `token`, making the waiter in `slot` at the
/// first call.
pub(crate) fn poll_cancelled(
    mut slot: Pin<&mut Waiter>,
    token: &CancelToken,
    cx: &mut Context<'_>,
) -> Poll<Reason> {
    if slot.is_none() {
        slot.set(Some(token.clone().cancelled_owned()));
    }
    slot.as_pin_mut()
        .expect("the waiter was just made")
        .poll(cx)
}

/// [`poll_cancelled`] with the waiter boxed.
pub(crate) fn poll_cancelled_boxed(
    slot: &mut BoxedWaiter,
    token: &CancelToken,
    cx: &mut Context<'_>,
) -> Poll<Reason> {
    slot.get_or_insert_with(|| Box::pin(token.clone().cancelled_owned()))
        .as_mut()
        .poll(cx)
}
