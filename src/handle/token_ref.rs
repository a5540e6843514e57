//! [`TokenRef`]: the borrowed token of the no-allocator tier.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::ptr::NonNull;

use super::token::debug_node;
use crate::node::Node;
use crate::{Cancelled, Cause, Reason};

/// A borrowed token: the no-allocator tier's handle for pinned and static nodes.
///
/// `Copy`, no reference counting; it has the observing methods of
/// [`CancelToken`](crate::CancelToken).
///
/// ```
/// use cancel_token::StaticSource;
///
/// static ROOT: StaticSource = StaticSource::new();
/// let token = ROOT.token_ref();
/// assert!(!token.is_cancelled());
/// ```
#[derive(Clone, Copy)]
pub struct TokenRef<'a> {
    /// With the provenance of the whole node (a timed node's too, so a walk
    /// up from it, or from a pinned child made on it, reads deadlines).
    pub(crate) ptr: NonNull<Node>,
    _node: PhantomData<&'a Node>,
}

// SAFETY: a `&'a Node`, and `Node` is `Sync`.
unsafe impl Send for TokenRef<'_> {}
// SAFETY: as above.
unsafe impl Sync for TokenRef<'_> {}

impl<'a> TokenRef<'a> {
    /// A token for the node at `ptr`, which stays alive for `'a`, with
    /// the provenance of the whole node.
    pub(crate) const fn from_ptr(ptr: NonNull<Node>) -> Self {
        TokenRef {
            ptr,
            _node: PhantomData,
        }
    }

    /// The node.
    #[inline]
    pub(crate) fn node(self) -> &'a Node {
        // SAFETY: alive for `'a` (see `from_ptr`).
        unsafe { self.ptr.as_ref() }
    }

    /// Whether the token is cancelled: one Acquire load; see
    /// [`CancelToken::is_cancelled`](crate::CancelToken::is_cancelled).
    ///
    /// ```
    /// use cancel_token::StaticSource;
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// let token = SHUTDOWN.token_ref();
    /// assert!(!token.is_cancelled());
    /// SHUTDOWN.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    #[inline]
    pub fn is_cancelled(self) -> bool {
        self.node().is_cancelled()
    }

    /// Why the token was cancelled, or `None` while it is live; see
    /// [`CancelToken::reason`](crate::CancelToken::reason).
    ///
    /// ```
    /// use core::pin::pin;
    /// use cancel_token::{PinnedDeadline, Reason, StaticSource, TickDriver};
    ///
    /// static ROOT: StaticSource = StaticSource::new();
    /// static TICKS: TickDriver = TickDriver::new();
    /// let job = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 3));
    /// let token = job.into_ref().token();
    /// assert_eq!(token.reason(), None);
    /// TICKS.advance_to(3);
    /// assert_eq!(token.reason(), Some(Reason::DeadlineExceeded));
    /// ```
    pub fn reason(self) -> Option<Reason> {
        self.node().reason()
    }

    /// The cause of the cancellation that reached this token, if it had one;
    /// see [`CancelToken::cause`](crate::CancelToken::cause).
    ///
    /// ```
    /// use cancel_token::StaticSource;
    ///
    /// #[derive(Debug)]
    /// struct Brownout;
    /// impl core::fmt::Display for Brownout {
    ///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    ///         f.write_str("brownout")
    ///     }
    /// }
    /// impl core::error::Error for Brownout {}
    ///
    /// static POWER: StaticSource = StaticSource::new();
    /// let token = POWER.token_ref();
    /// assert!(token.cause().is_none());
    /// POWER.cancel_with(&Brownout);
    /// assert!(token.cause().is_some_and(|c| c.is::<Brownout>()));
    /// ```
    pub fn cause(self) -> Option<Cause> {
        self.node().cause()
    }

    /// A future that completes with the reason once the token is cancelled;
    /// see [`CancelToken::cancelled`](crate::CancelToken::cancelled). It borrows the node for `'a`, not this
    /// `TokenRef`.
    ///
    /// ```
    /// use cancel_token::{Reason, StaticSource};
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// let cancelled = SHUTDOWN.token_ref().cancelled(); // a `Cancelled<'static>`
    /// let waiter = std::thread::spawn(move || futures_executor::block_on(cancelled));
    /// SHUTDOWN.cancel();
    /// assert_eq!(waiter.join().unwrap(), Reason::Cancelled);
    /// ```
    pub fn cancelled(self) -> Cancelled<'a> {
        Cancelled::new(self.node())
    }

    /// When this token expires; see [`CancelToken::deadline`](crate::CancelToken::deadline): for a
    /// [`PinnedDeadline`](crate::PinnedDeadline)'s token, its deadline, or
    /// an earlier one of its ancestors.
    ///
    /// ```
    /// use core::pin::pin;
    /// use cancel_token::{PinnedDeadline, StaticSource, TickDriver};
    ///
    /// static ROOT: StaticSource = StaticSource::new();
    /// static TICKS: TickDriver = TickDriver::new();
    /// assert!(ROOT.token_ref().deadline().is_none());
    /// let job = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 250));
    /// let deadline = job.into_ref().token().deadline().unwrap();
    /// assert_eq!(deadline.ticks(), 250);
    /// assert_eq!(deadline.instant(&TICKS), Some(250));
    /// ```
    pub fn deadline(self) -> Option<crate::Deadline> {
        crate::time::deadline::effective(self.ptr)
    }

    /// The time left before this token expires, on its tree's clock; see
    /// [`CancelToken::remaining`](crate::CancelToken::remaining).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, TokenRef};
    ///
    /// fn budget(token: TokenRef<'_>) -> Option<Duration> {
    ///     token.remaining()
    /// }
    ///
    /// let root = CancelSource::with_clock(ManualDriver::new());
    /// let call = root.child_with_timeout(Duration::from_secs(3));
    /// assert_eq!(budget(call.as_token_ref()), Some(Duration::from_secs(3)));
    /// ```
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn remaining(self) -> Option<core::time::Duration> {
        // SAFETY: the token borrows the node for 'a.
        unsafe { crate::handle::clock::remaining(self.ptr) }
    }

    /// When this token expires, as a `std` instant, on its tree's clock; see
    /// [`CancelToken::deadline_instant`](crate::CancelToken::deadline_instant).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver};
    ///
    /// let root = CancelSource::with_clock(ManualDriver::new());
    /// let call = root.child_with_timeout(Duration::from_secs(3));
    /// assert_eq!(call.as_token_ref().deadline_instant(), call.deadline_instant());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn deadline_instant(self) -> Option<std::time::Instant> {
        // SAFETY: the token borrows the node for 'a.
        unsafe { crate::handle::clock::deadline_instant(self.ptr) }
    }

    /// Runs `work` until it completes or the token is cancelled, whichever is
    /// first; see [`CancelToken::run_until_cancelled`](crate::CancelToken::run_until_cancelled).
    ///
    /// ```
    /// # futures_executor::block_on(async {
    /// use cancel_token::{Reason, StaticSource};
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// let token = SHUTDOWN.token_ref();
    /// assert_eq!(token.run_until_cancelled(async { 3 }).await, Ok(3));
    /// SHUTDOWN.cancel();
    /// let idle = core::future::pending::<()>();
    /// assert_eq!(token.run_until_cancelled(idle).await, Err(Reason::Cancelled));
    /// # });
    /// ```
    pub fn run_until_cancelled<F: Future>(self, work: F) -> crate::RunUntilCancelled<'a, F> {
        crate::RunUntilCancelled::new(self.cancelled(), work)
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl TokenRef<'_> {
    /// Blocks the thread until the token is cancelled; see
    /// [`CancelToken::wait`](crate::CancelToken::wait). For a static or pinned source watched by a
    /// thread with no executor.
    ///
    /// ```
    /// use cancel_token::{Reason, StaticSource};
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// let waiter = std::thread::spawn(|| SHUTDOWN.token_ref().wait());
    /// SHUTDOWN.cancel();
    /// assert_eq!(waiter.join().unwrap(), Reason::Cancelled);
    /// ```
    pub fn wait(self) -> Reason {
        self.wait_until(None).unwrap_or(Reason::Cancelled)
    }

    /// Blocks until the token is cancelled or `timeout` passes (`None`); see
    /// [`CancelToken::wait_timeout`](crate::CancelToken::wait_timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::StaticSource;
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// assert_eq!(SHUTDOWN.token_ref().wait_timeout(Duration::from_millis(1)), None);
    /// ```
    pub fn wait_timeout(self, timeout: std::time::Duration) -> Option<Reason> {
        self.wait_until(std::time::Instant::now().checked_add(timeout))
    }

    fn wait_until(self, deadline: Option<std::time::Instant>) -> Option<Reason> {
        if let Some(reason) = self.reason() {
            return Some(reason);
        }
        let mut fut = core::pin::pin!(self.cancelled());
        crate::util::park::park_on(|cx| fut.as_mut().poll(cx), deadline)
    }
}

impl fmt::Debug for TokenRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_node(f, "TokenRef", self.ptr)
    }
}
