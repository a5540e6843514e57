//! `CancelSource`: the right to cancel a heap-backed token.

use core::fmt;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;

use crate::node::Node;
use crate::util::panic::Finally;
use crate::{CancelToken, Cause, Reason};

/// The right to cancel a token. Not `Clone`: one owner decides.
///
/// Dropping the source cancels its token (with [`Reason::Cancelled`]) and
/// unlinks it from its parent, the way Go's `defer cancel()` does: scope the
/// source to the work and nothing outlives it.
///
/// A source is one pointer (8 bytes on 64-bit targets), like a token; a
/// linked source keeps its registrations beside its node.
///
/// # Progress
///
/// `cancel` takes each affected node's lock briefly (a spin lock with `std`, a
/// critical section without) and never holds two at once. Wakers and callbacks
/// run with no lock held. Cancelling a tree of any depth uses constant stack.
///
/// # Memory ordering
///
/// Everything done before `cancel` happens-before any observation of the
/// cancellation, on any token of the tree.
///
/// # Examples
///
/// ```
/// use cancel_token::{CancelSource, Reason};
///
/// let root = CancelSource::new();
/// let request = root.token().child();
/// let task = request.token().child();
/// root.cancel();
/// assert_eq!(task.token().reason(), Some(Reason::Cancelled));
/// ```
///
/// A source that is not kept is dropped at once, and cancels its token there:
/// every function that returns one is `#[must_use]`.
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let root = cancel_token::CancelSource::new();
/// root.token().child(); // error: the child would be cancelled as it is made
/// ```
#[must_use = "dropping a `CancelSource` cancels its token: keep the source for as long as the work runs"]
pub struct CancelSource {
    /// Dropped by hand in `drop`, which sometimes gives its reference back
    /// itself.
    token: ManuallyDrop<CancelToken>,
}

impl CancelSource {
    pub(crate) fn from_node(node: NonNull<Node>) -> Self {
        CancelSource {
            token: ManuallyDrop::new(CancelToken::from_ref(node)),
        }
    }

    /// A new root source, live until it is cancelled or dropped. One
    /// allocation.
    ///
    /// ```
    /// let server = cancel_token::CancelSource::new();
    /// assert!(!server.is_cancelled());
    /// assert_eq!(server.deadline(), None);
    /// ```
    pub fn new() -> Self {
        CancelSource::from_node(Node::new_child(None))
    }

    /// A token observing this source. It is cancelled when the source is
    /// dropped, so `CancelSource::new().token()` is a token already cancelled:
    /// keep the source.
    ///
    /// ```
    /// let source = cancel_token::CancelSource::new();
    /// let token = source.token();
    /// assert!(!token.is_cancelled());
    /// drop(source);
    /// assert!(token.is_cancelled());
    ///
    /// let gone = cancel_token::CancelSource::new().token();
    /// assert!(gone.is_cancelled());
    /// ```
    pub fn token(&self) -> CancelToken {
        CancelToken::clone(&self.token)
    }

    /// Cancels the token and every live descendant with [`Reason::Cancelled`].
    /// Idempotent: the first cancellation's reason and cause stay.
    ///
    /// When it returns, every descendant reports cancelled, every waiter was woken
    /// and every callback has run, except those a concurrent `cancel` of the same
    /// node reached first, which that call completes. With `std`, a panic from a
    /// callback or waker continues here after all others ran.
    ///
    /// ```
    /// use cancel_token::{CancelSource, Reason};
    ///
    /// let root = CancelSource::new();
    /// let child = root.child();
    /// root.cancel();
    /// assert_eq!(child.reason(), Some(Reason::Cancelled)); // at return
    /// root.cancel(); // again: nothing changes
    /// assert_eq!(root.reason(), Some(Reason::Cancelled));
    /// ```
    pub fn cancel(&self) {
        Node::cancel(self.token.raw(), Reason::Cancelled, None);
    }

    /// Like [`cancel`](Self::cancel), attaching `cause` for
    /// [`CancelToken::cause`] on this token and its descendants.
    ///
    /// `cause` is anything that converts into a [`Cause`]: a `&'static` error
    /// (no allocation), an owned one wrapped by [`Cause::new`] (one
    /// allocation, shared by every node the cancel reaches and dropped with
    /// the last of them), a `Box<dyn Error + Send + Sync>`, or a `Cause`.
    /// Only the first cancel's cause is kept; a later one's is dropped.
    ///
    /// A static cause:
    ///
    /// ```
    /// #[derive(Debug)]
    /// struct Deploy;
    /// impl core::fmt::Display for Deploy {
    ///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    ///         f.write_str("new version deployed")
    ///     }
    /// }
    /// impl core::error::Error for Deploy {}
    ///
    /// let server = cancel_token::CancelSource::new();
    /// let request = server.child();
    /// server.cancel_with(&Deploy);
    /// assert!(request.cause().is_some_and(|c| c.is::<Deploy>()));
    /// assert_eq!(server.cause().unwrap().to_string(), "new version deployed");
    /// ```
    ///
    /// An owned cause, with data known only at run time:
    ///
    /// ```
    /// use cancel_token::{CancelSource, Cause};
    ///
    /// #[derive(Debug)]
    /// struct Deploy {
    ///     version: String,
    /// }
    /// impl core::fmt::Display for Deploy {
    ///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    ///         write!(f, "version {} deployed", self.version)
    ///     }
    /// }
    /// impl core::error::Error for Deploy {}
    ///
    /// let server = CancelSource::new();
    /// let request = server.child();
    /// server.cancel_with(Cause::new(Deploy { version: "1.4.2".into() }));
    /// drop(server); // the request's node still holds the cause
    /// let cause = request.cause().unwrap();
    /// assert_eq!(cause.downcast_ref::<Deploy>().unwrap().version, "1.4.2");
    /// assert_eq!(cause.to_string(), "version 1.4.2 deployed");
    /// ```
    pub fn cancel_with(&self, cause: impl Into<Cause>) {
        Node::cancel(self.token.raw(), Reason::Cancelled, Some(cause.into()));
    }
}

/// A source derefs to its token, so every observing method works on the
/// source itself: `request.cancelled().await`, `request.child()`,
/// `request.deadline()`. (`request.clone()` is therefore a [`CancelToken`]:
/// a source is not `Clone`, one owner decides.)
///
/// ```
/// # futures_executor::block_on(async {
/// use cancel_token::{CancelSource, Reason};
///
/// let server = CancelSource::new();
/// let request = server.child();
/// let step = request.child();
/// server.cancel();
/// assert_eq!(step.cancelled().await, Reason::Cancelled);
/// # });
/// ```
impl core::ops::Deref for CancelSource {
    type Target = CancelToken;

    #[inline]
    fn deref(&self) -> &CancelToken {
        &self.token
    }
}

impl Default for CancelSource {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for CancelSource {
    fn drop(&mut self) {
        let this = self.token.raw();
        let node = self.token.node();
        if node.is_any_of() {
            // SAFETY: a live linked node, and we are its source.
            unsafe { crate::handle::linked::unregister(this) };
        }
        // With no token left, nothing can observe this node being cancelled:
        // waiters, callbacks and children all hold a token or a reference. A
        // canceller that takes it concurrently (its parent's, or its deadline
        // firing) takes a reference and finishes. Cancelled already (`cancel`
        // before the drop), it is freed the same way.
        let observed = !node.is_unobserved();
        // SAFETY: alone and live; `&mut self` holds the only token.
        if !observed && unsafe { crate::node::refs::free_alone(this, false) } {
            // That reference was given back.
            return;
        }
        // SAFETY: `&mut self` holds the only token.
        if observed && unsafe { crate::node::refs::free_if_alone_cancelled(this) } {
            return;
        }
        // Unlinks the node and gives back its reference, also when a
        // callback's panic continues out of `cancel` below.
        let token = &mut self.token;
        let _leave = Finally::new(|| {
            if let Some(parent) = token.node().parent {
                // SAFETY: a child holds a reference on its parent until it is freed.
                unsafe { parent.as_ref() }.unlink_child(token.raw());
            }
            // SAFETY: dropped once, here, as the source goes; not used after.
            unsafe { ManuallyDrop::drop(token) };
        });
        if observed {
            Node::cancel(this, Reason::Cancelled, None);
        }
    }
}

impl fmt::Debug for CancelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::handle::token::debug_node(f, "CancelSource", self.token.raw())
    }
}
