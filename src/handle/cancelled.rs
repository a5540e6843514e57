//! Futures that complete when a token is cancelled.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::node::waiter::Waiter;
use crate::node::Node;
use crate::Reason;

/// Completes with the [`Reason`] once its token is cancelled. Made by
/// [`CancelToken::cancelled`](crate::CancelToken::cancelled) and
/// [`TokenRef::cancelled`](crate::TokenRef::cancelled).
///
/// It allocates nothing: the waiter lives inside the future, is linked into the
/// token on the first pending poll, and unlinks itself when dropped. It is
/// `!Unpin`: pin it with `core::pin::pin!` or `Box::pin` to poll it by hand.
///
/// ```compile_fail
/// fn assert_unpin<T: Unpin>(_: T) {}
/// let source = cancel_token::CancelSource::new();
/// let token = source.token();
/// assert_unpin(token.cancelled());
/// ```
///
/// # Cancel safety
/// Dropping it at any time is safe and loses nothing: the token stays cancelled,
/// and a new `cancelled()` completes at once.
///
/// # Examples
///
/// ```
/// use cancel_token::{CancelSource, Reason};
///
/// let source = CancelSource::new();
/// let token = source.token();
/// source.cancel();
/// assert_eq!(futures_executor::block_on(token.cancelled()), Reason::Cancelled);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled<'a> {
    node: &'a Node,
    waiter: Waiter,
}

impl<'a> Cancelled<'a> {
    pub(crate) fn new(node: &'a Node) -> Self {
        Cancelled {
            node,
            waiter: Waiter::new(),
        }
    }
}

impl Cancelled<'_> {
    /// Polls for the cancellation through a shared pin: for a runtime that
    /// embeds the waiter in storage it reaches by `&` (a task header, an I/O
    /// source), without a future per poll site. See
    /// [`CancelledOwned::poll_cancelled`], which owns its token.
    ///
    /// ```
    /// use core::pin::pin;
    /// use core::task::{Context, Poll};
    /// use cancel_token::{CancelSource, Reason};
    ///
    /// let source = CancelSource::new();
    /// let token = source.token();
    /// let cancelled = pin!(token.cancelled());
    /// let cancelled = cancelled.into_ref(); // a shared pin, `Copy`
    /// let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    /// assert_eq!(cancelled.poll_cancelled(&mut cx), Poll::Pending);
    /// source.cancel();
    /// assert_eq!(cancelled.poll_cancelled(&mut cx), Poll::Ready(Reason::Cancelled));
    /// ```
    pub fn poll_cancelled(self: Pin<&Self>, cx: &mut Context<'_>) -> Poll<Reason> {
        let this = self.get_ref();
        this.waiter.poll(this.node, cx)
    }

    /// The reason, if the token is cancelled; one Acquire load.
    pub(crate) fn reason_now(&self) -> Option<Reason> {
        self.node.reason()
    }
}

impl Future for Cancelled<'_> {
    type Output = Reason;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reason> {
        // Only shared access is taken: the node may be reading the waiter.
        self.into_ref().poll_cancelled(cx)
    }
}

impl Drop for Cancelled<'_> {
    fn drop(&mut self) {
        self.waiter.unlink(self.node);
    }
}

impl fmt::Debug for Cancelled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled")
            .field("reason", &self.node.reason())
            .finish_non_exhaustive()
    }
}

/// [`Cancelled`] that owns its token: `Send + 'static`, for spawning. Made by
/// [`CancelToken::cancelled_owned`](crate::CancelToken::cancelled_owned).
///
/// # Examples
///
/// ```
/// use cancel_token::CancelSource;
///
/// let source = CancelSource::new();
/// let fut = source.token().cancelled_owned();
/// let waiter = std::thread::spawn(move || futures_executor::block_on(fut));
/// source.cancel();
/// assert_eq!(waiter.join().unwrap(), cancel_token::Reason::Cancelled);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct CancelledOwned {
    token: crate::CancelToken,
    waiter: Waiter,
}

impl CancelledOwned {
    pub(crate) fn new(token: crate::CancelToken) -> Self {
        CancelledOwned {
            token,
            waiter: Waiter::new(),
        }
    }
}

impl CancelledOwned {
    /// Polls for the cancellation through a shared pin: for runtime authors
    /// who embed the waiter in a task header or an I/O source and poll it
    /// from their scheduler, as maitake's `WaitCell::poll_wait` and embassy's
    /// `Signal::poll_wait` are polled, with no future per poll site.
    ///
    /// It keeps one waker: polls from several places (or threads) at once are
    /// safe, and the last waker registered is the one woken, as with
    /// `AtomicWaker` (a waker registered while the cancel is waking may be
    /// woken at once as well). It allocates nothing, and takes the token's lock only
    /// on the first pending poll. Once it returns `Ready`, it returns the
    /// same reason every time.
    ///
    /// ```
    /// use core::pin::pin;
    /// use core::task::{Context, Poll};
    /// use cancel_token::{CancelSource, CancelledOwned, Reason};
    ///
    /// /// What a runtime keeps per task, pinned with it.
    /// struct Header {
    ///     cancel: CancelledOwned,
    /// }
    ///
    /// let source = CancelSource::new();
    /// let header = pin!(Header { cancel: source.token().cancelled_owned() });
    /// // SAFETY: `cancel` is pinned with the header and never moved out.
    /// let cancel = unsafe { header.as_ref().map_unchecked(|h| &h.cancel) };
    /// let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    /// assert_eq!(cancel.poll_cancelled(&mut cx), Poll::Pending);
    /// source.cancel();
    /// assert_eq!(cancel.poll_cancelled(&mut cx), Poll::Ready(Reason::Cancelled));
    /// ```
    pub fn poll_cancelled(self: Pin<&Self>, cx: &mut Context<'_>) -> Poll<Reason> {
        let this = self.get_ref();
        this.waiter.poll(this.token.node(), cx)
    }

    /// The reason, if the token is cancelled; one Acquire load.
    pub(crate) fn reason_now(&self) -> Option<Reason> {
        self.token.reason()
    }
}

impl Future for CancelledOwned {
    type Output = Reason;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reason> {
        self.into_ref().poll_cancelled(cx)
    }
}

impl Drop for CancelledOwned {
    fn drop(&mut self) {
        self.waiter.unlink(self.token.node());
    }
}

impl fmt::Debug for CancelledOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelledOwned")
            .field("reason", &self.token.reason())
            .finish_non_exhaustive()
    }
}
