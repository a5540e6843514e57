//! The one waiter a future or body keeps on a token, made when it is first
//! needed.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use cancel_token::{CancelToken, CancelledOwned, Reason};

/// A waiter made when first needed, boxed: a future or body that is ready
/// at once registers none and pays nothing for it, and it keeps them small
/// and `Unpin`.
pub(crate) type Waiter = Option<Pin<Box<CancelledOwned>>>;

/// Polls the cancellation of `token`, making the waiter in `slot` at the
/// first call.
pub(crate) fn poll_cancelled(
    slot: &mut Waiter,
    token: &CancelToken,
    cx: &mut Context<'_>,
) -> Poll<Reason> {
    slot.get_or_insert_with(|| Box::pin(token.clone().cancelled_owned()))
        .as_mut()
        .poll(cx)
}
