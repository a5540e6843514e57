//! [`CancelToken`]: the owned, reference-counted handle that observes a node.

use core::fmt;
use core::future::Future;
use core::ptr::NonNull;

use crate::node::{self, Node};
use crate::{Cancelled, CancelledOwned, Cause, Reason, TokenRef};

/// A handle that observes cancellation. It cannot cancel: only its
/// [`CancelSource`](crate::CancelSource) can.
///
/// Cloning is cheap (one counter increment), and a token stays valid after its
/// source is gone: it then stays cancelled.
///
/// # Progress
///
/// | operation | progress |
/// |---|---|
/// | `is_cancelled`, `reason`, `cause`, `clone`, drop | wait-free (one load; one RMW for clone/drop) |
/// | `cancelled().await` registration and drop, `child`, `on_cancel` | blocking: a short lock on this token's node (a spin lock with `std`, a critical section without) |
/// | `wait`, `wait_timeout` | block the thread until cancelled |
///
/// # Memory ordering
///
/// Seeing the token cancelled (any method) acquires everything the cancelling
/// thread did before calling `cancel`.
///
/// # Examples
///
/// ```
/// use cancel_token::CancelSource;
///
/// let source = CancelSource::new();
/// let token = source.token();
/// let worker = std::thread::spawn(move || {
///     let mut steps = 0;
///     while !token.is_cancelled() {
///         steps += 1;
///         std::thread::yield_now();
///     }
///     steps
/// });
/// source.cancel();
/// worker.join().unwrap();
/// ```
pub struct CancelToken {
    node: NonNull<Node>,
}

// SAFETY: the node is `Sync` and reference counted with atomics.
unsafe impl Send for CancelToken {}
// SAFETY: as above.
unsafe impl Sync for CancelToken {}

impl CancelToken {
    /// Wraps a node, taking over one reference the caller owns.
    pub(crate) fn from_ref(node: NonNull<Node>) -> Self {
        CancelToken { node }
    }

    /// The node pointer with its full provenance (heap nodes are freed through it).
    #[cfg(feature = "alloc")]
    pub(crate) fn raw(&self) -> NonNull<Node> {
        self.node
    }

    #[inline(always)]
    pub(crate) fn node(&self) -> &Node {
        // SAFETY: we own a reference (or the node is static).
        unsafe { self.node.as_ref() }
    }

    /// A token that is never cancelled. It allocates nothing; its waiters stay
    /// pending, its callbacks never run and its children are only cancelled by
    /// their own sources.
    ///
    /// ```
    /// let token = cancel_token::CancelToken::never();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn never() -> Self {
        #[cfg(not(cancel_token_loom))]
        {
            static NEVER: Node =
                Node::new(node::kind::Class::plain(node::kind::Ownership::Never), 0);
            CancelToken::from_ref(NonNull::from(&NEVER))
        }
        #[cfg(cancel_token_loom)]
        {
            extern crate alloc;
            let never = alloc::boxed::Box::leak(alloc::boxed::Box::new(Node::new(
                node::kind::Class::plain(node::kind::Ownership::Never),
                0,
            )));
            CancelToken::from_ref(NonNull::from(&*never))
        }
    }

    /// Whether the token is cancelled: a single Acquire load, on the live and on
    /// the cancelled path. Wait-free.
    ///
    /// ```
    /// let source = cancel_token::CancelSource::new();
    /// let token = source.token();
    /// assert!(!token.is_cancelled());
    /// drop(source);
    /// assert!(token.is_cancelled());
    /// ```
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.node().is_cancelled()
    }

    /// Why the token was cancelled, or `None` while it is live.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, Reason};
    ///
    /// let driver = ManualDriver::new();
    /// let root = CancelSource::new();
    /// let job = root.child_with_timeout_on(&driver, Duration::from_secs(1));
    /// let token = job.token();
    /// assert_eq!(token.reason(), None);
    /// driver.advance_by(Duration::from_secs(1));
    /// assert_eq!(token.reason(), Some(Reason::DeadlineExceeded));
    /// ```
    pub fn reason(&self) -> Option<Reason> {
        self.node().reason()
    }

    /// The cause given to [`cancel_with`](crate::CancelSource::cancel_with) by the
    /// source (or ancestor) whose cancellation reached this token; `None`
    /// while it is live or when it was cancelled without one. A clone: for
    /// an owned cause, one more reference to the same error.
    ///
    /// ```
    /// #[derive(Debug)]
    /// struct Shutdown;
    /// impl core::fmt::Display for Shutdown {
    ///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    ///         f.write_str("shutting down")
    ///     }
    /// }
    /// impl core::error::Error for Shutdown {}
    ///
    /// let server = cancel_token::CancelSource::new();
    /// let token = server.child().token();
    /// let live = server.child();
    /// assert!(live.cause().is_none());
    /// server.cancel_with(&Shutdown);
    /// assert!(live.cause().is_some_and(|c| c.is::<Shutdown>()));
    /// assert!(token.cause().is_none()); // cancelled before, without a cause
    /// ```
    pub fn cause(&self) -> Option<Cause> {
        self.node().cause()
    }

    /// Borrows this token as a [`TokenRef`]: for the no-allocator tier's
    /// types, which take one, such as [`PinnedChild`](crate::PinnedChild).
    ///
    /// ```
    /// use core::pin::pin;
    /// use cancel_token::{CancelSource, PinnedChild};
    ///
    /// let source = CancelSource::new();
    /// let token = source.token();
    /// let step = pin!(PinnedChild::new(token.as_token_ref()));
    /// let step = step.into_ref();
    /// source.cancel();
    /// assert!(token.as_token_ref().is_cancelled() && step.is_cancelled());
    /// ```
    pub fn as_token_ref(&self) -> TokenRef<'_> {
        TokenRef::from_ptr(self.node)
    }

    /// A future that completes with the reason once the token is cancelled.
    /// Allocation-free; see [`Cancelled`].
    ///
    /// ```
    /// use cancel_token::{CancelSource, Reason};
    ///
    /// let source = CancelSource::new();
    /// let token = source.token();
    /// let waiter = std::thread::spawn(move || futures_executor::block_on(token.cancelled()));
    /// source.cancel();
    /// assert_eq!(waiter.join().unwrap(), Reason::Cancelled);
    /// ```
    pub fn cancelled(&self) -> Cancelled<'_> {
        Cancelled::new(self.node())
    }

    /// Like [`cancelled`](Self::cancelled), but owning the token, so the future is
    /// `Send + 'static`.
    ///
    /// ```
    /// use cancel_token::{CancelSource, Reason};
    ///
    /// let source = CancelSource::new();
    /// let cancelled = source.token().cancelled_owned(); // no borrow of a token
    /// let waiter = std::thread::spawn(move || futures_executor::block_on(cancelled));
    /// drop(source);
    /// assert_eq!(waiter.join().unwrap(), Reason::Cancelled);
    /// ```
    pub fn cancelled_owned(self) -> CancelledOwned {
        CancelledOwned::new(self)
    }

    /// Runs `work` until it completes or the token is cancelled, whichever is
    /// first: `Ok(output)` or `Err(reason)`. Cancellation wins a tie, and the
    /// work is not polled once the token is cancelled. `Reason` is an error
    /// type, so `?` works. See [`RunUntilCancelled`](crate::RunUntilCancelled).
    ///
    /// ```
    /// # futures_executor::block_on(async {
    /// let source = cancel_token::CancelSource::new();
    /// let token = source.token();
    /// assert_eq!(token.run_until_cancelled(async { 7 }).await, Ok(7));
    /// source.cancel();
    /// let never = core::future::pending::<()>();
    /// assert_eq!(token.run_until_cancelled(never).await, Err(cancel_token::Reason::Cancelled));
    /// # });
    /// ```
    pub fn run_until_cancelled<F: Future>(&self, work: F) -> crate::RunUntilCancelled<'_, F> {
        crate::RunUntilCancelled::new(self.cancelled(), work)
    }

    /// Like [`run_until_cancelled`](Self::run_until_cancelled), but owning the
    /// token, so the future is `'static` (and `Send`) when `work` is: for
    /// spawning. See [`RunUntilCancelledOwned`](crate::RunUntilCancelledOwned).
    ///
    /// ```
    /// let source = cancel_token::CancelSource::new();
    /// let work = source.token().run_until_cancelled_owned(async { 7 });
    /// assert_eq!(std::thread::spawn(|| futures_executor::block_on(work)).join().unwrap(), Ok(7));
    /// ```
    pub fn run_until_cancelled_owned<F: Future>(self, work: F) -> crate::RunUntilCancelledOwned<F> {
        crate::RunUntilCancelledOwned::new(self.cancelled_owned(), work)
    }
}

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl CancelToken {
    /// A new source whose token is a child of this one: cancelled when this token
    /// is (with its reason and cause), or by its own source, which does not
    /// affect this token. A child of a cancelled token is born cancelled.
    ///
    /// One allocation of 64 bytes on 64-bit targets (72 below a deadline,
    /// where the child names the ancestor whose deadline it inherits).
    ///
    /// **Keep the source.** This is tokio-util's `child_token`, but the right
    /// to cancel stays in the returned source, and dropping it cancels the
    /// child: `token.child().token()` drops the source at the end of the
    /// statement and gives a token that is already cancelled. So does any
    /// chain through the temporary source, as it derefs to its token:
    /// `parent.child().child_with_timeout(d)` is a timeout whose parent was
    /// cancelled as the statement ended. Bind the source to a variable that
    /// lives as long as the work, and hand out its
    /// [`token`](crate::CancelSource::token)s.
    ///
    /// ```
    /// # let root = cancel_token::CancelSource::new();
    /// # let parent = root.token();
    /// let request = parent.child();      // keep this for as long as the work runs
    /// let token = request.token();       // give this to the work
    /// assert!(!token.is_cancelled());
    /// drop(request);                     // Go's `defer cancel()`
    /// assert!(token.is_cancelled());
    ///
    /// let gone = parent.child().token(); // the source is dropped right here
    /// assert!(gone.is_cancelled());
    /// let also_gone = parent.child().child(); // and here
    /// assert!(also_gone.is_cancelled());
    /// ```
    ///
    /// ```
    /// let root = cancel_token::CancelSource::new();
    /// let child = root.token().child();
    /// child.cancel();
    /// assert!(!root.is_cancelled());
    /// let child = root.token().child();
    /// root.cancel();
    /// assert!(child.is_cancelled());
    /// ```
    #[doc(alias = "child_token")]
    pub fn child(&self) -> crate::CancelSource {
        crate::CancelSource::from_node(Node::new_child(Some(self.node)))
    }

    /// Runs `f` once, on the thread that cancels this token, outside any internal
    /// lock; at once on this thread if the token is already cancelled. Dropping
    /// or [disarming](crate::OnCancel::disarm) the returned guard removes it.
    ///
    /// The rules are C++'s `std::stop_callback`'s: removing the guard while `f`
    /// runs on another thread waits until it returns; removing it from inside
    /// `f` does not wait. With `std`, a panic in `f` is held until every other
    /// callback has run and every waiter woke, then continues in `cancel`.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// let source = cancel_token::CancelSource::new();
    /// let ran = Arc::new(AtomicBool::new(false));
    /// let flag = ran.clone();
    /// let guard = source.token().on_cancel(move |_reason| flag.store(true, Ordering::Relaxed));
    /// source.cancel();
    /// assert!(ran.load(Ordering::Relaxed));
    /// assert!(!guard.disarm()); // it already ran
    /// ```
    pub fn on_cancel<F: FnOnce(Reason) + Send + 'static>(&self, f: F) -> crate::OnCancel {
        crate::OnCancel::register(self, crate::node::callback::UserFn(f))
    }
}

impl CancelToken {
    /// When this token expires: the earliest deadline among it and its
    /// ancestors (`None` if none has one); see [`Deadline`](crate::Deadline).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver};
    ///
    /// let driver = ManualDriver::new();
    /// let root = CancelSource::new();
    /// assert!(root.deadline().is_none());
    /// let request = root.child_with_timeout_on(&driver, Duration::from_secs(5));
    /// let step = request.child_with_timeout_on(&driver, Duration::from_secs(60));
    /// // The step expires with the request, five seconds from now.
    /// assert_eq!(step.deadline(), request.deadline());
    /// assert_eq!(step.deadline().unwrap().instant(&driver), Some(Duration::from_secs(5)));
    /// ```
    pub fn deadline(&self) -> Option<crate::Deadline> {
        crate::time::deadline::effective(self.node)
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl CancelToken {
    /// Blocks the thread until the token is cancelled. For code with no executor.
    ///
    /// ```
    /// let source = cancel_token::CancelSource::new();
    /// let token = source.token();
    /// let t = std::thread::spawn(move || token.wait());
    /// source.cancel();
    /// assert_eq!(t.join().unwrap(), cancel_token::Reason::Cancelled);
    /// ```
    pub fn wait(&self) -> Reason {
        self.as_token_ref().wait()
    }

    /// Blocks until the token is cancelled or `timeout` passes (`None`).
    /// A timeout too large for `Instant` waits forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let source = cancel_token::CancelSource::new();
    /// assert_eq!(source.token().wait_timeout(Duration::from_millis(1)), None);
    /// ```
    pub fn wait_timeout(&self, timeout: std::time::Duration) -> Option<Reason> {
        self.as_token_ref().wait_timeout(timeout)
    }
}

impl Clone for CancelToken {
    fn clone(&self) -> Self {
        self.node().inc_ref();
        CancelToken { node: self.node }
    }
}

impl Drop for CancelToken {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { crate::node::refs::drop_ref(self.node) };
    }
}

impl Default for CancelToken {
    /// [`CancelToken::never`].
    fn default() -> Self {
        CancelToken::never()
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_node(f, "CancelToken", self.node)
    }
}

/// What `Debug` shows of a token, a source or a `TokenRef`: why it was
/// cancelled (or `None`), the cause's message, its deadline (in its driver's
/// ticks) and, on its tree's clock, the time it has left.
///
/// A cancel's call site is not shown: with `#[track_caller]` on `cancel`, a
/// node would have to keep a `&'static Location` (8 bytes; a plain node would
/// grow from 64 to 72 bytes), so it is not kept.
pub(crate) fn debug_node(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    node: NonNull<Node>,
) -> fmt::Result {
    /// A cause as its message.
    struct Message(Cause);
    impl fmt::Debug for Message {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "\"{}\"", self.0)
        }
    }
    // SAFETY: the caller's handle keeps the node alive.
    let n = unsafe { node.as_ref() };
    let mut d = f.debug_struct(name);
    d.field("reason", &n.reason())
        .field("cause", &n.cause().map(Message))
        .field("deadline", &crate::time::deadline::effective(node));
    // The deadline in real time, where the tree has a clock to tell it (not
    // the fallback: printing makes no driver).
    #[cfg(feature = "alloc")]
    // SAFETY: as above.
    if let Some(left) = unsafe { crate::handle::clock::remaining_on_its_root(node) } {
        d.field("remaining", &left);
    }
    d.finish()
}
