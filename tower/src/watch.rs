//! The one waiter a future or body keeps on a token, made when it is first
//! needed.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use cancel_token::{CancelToken, CancelledOwned, Reason};

/// Polls the cancellation of `token`, making the waiter in `slot` at the
/// first call: a future that is ready at once registers none.
pub(crate) fn poll_cancelled(
    mut slot: Pin<&mut Option<CancelledOwned>>,
    token: &CancelToken,
    cx: &mut Context<'_>,
) -> Poll<Reason> {
    if slot.as_ref().as_pin_ref().is_none() {
        slot.set(Some(token.clone().cancelled_owned()));
    }
    slot.as_pin_mut().expect("set above").poll(cx)
}
