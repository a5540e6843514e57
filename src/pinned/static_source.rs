//! `StaticSource`: a root that lives in a `static`, for the no-allocator tier.

use core::fmt;
use core::ptr::NonNull;

use crate::node::kind::{Class, Ownership};
use crate::node::Node;
use crate::sync::loom_const_fn;
use crate::{CancelToken, Cause, Reason, TokenRef};

/// A root source built in const context, for a `static`. Needs no allocator.
///
/// Its tokens are ordinary [`CancelToken`]s (not reference counted, since the
/// node lives forever) or [`TokenRef`]s. Children come from
/// [`PinnedChild`](crate::PinnedChild) without an allocator, or
/// [`CancelToken::child`] with one.
///
/// `cancel` may be called from an interrupt handler: without `std` every lock
/// is a critical section, so it never waits for code it interrupted.
///
/// # Examples
///
/// ```
/// use cancel_token::StaticSource;
///
/// static SHUTDOWN: StaticSource = StaticSource::new();
///
/// let token = SHUTDOWN.token();
/// assert!(!token.is_cancelled());
/// SHUTDOWN.cancel();
/// assert!(token.is_cancelled());
/// ```
pub struct StaticSource {
    node: Node,
}

impl StaticSource {
    loom_const_fn! {
        /// A live source, built in const context for a `static`.
        ///
        /// ```
        /// use cancel_token::StaticSource;
        ///
        /// static SHUTDOWN: StaticSource = StaticSource::new();
        /// assert!(!SHUTDOWN.is_cancelled());
        /// ```
        pub fn new() -> StaticSource {
            StaticSource { node: Node::new(Class::plain(Ownership::Static), 0) }
        }
    }

    /// An owned token for this source; cloning it touches no counter.
    ///
    /// ```
    /// use cancel_token::StaticSource;
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// let token = SHUTDOWN.token();
    /// let clone = token.clone();
    /// SHUTDOWN.cancel();
    /// assert!(token.is_cancelled() && clone.is_cancelled());
    /// ```
    pub fn token(&'static self) -> CancelToken {
        CancelToken::from_ref(NonNull::from(&self.node))
    }

    /// A borrowed token. A `const fn`, so a `static`
    /// [`PinnedChild`](crate::PinnedChild) can be built on it.
    ///
    /// ```
    /// use cancel_token::{StaticSource, TokenRef};
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// const TOKEN: TokenRef<'static> = SHUTDOWN.token_ref();
    /// SHUTDOWN.cancel();
    /// assert!(TOKEN.is_cancelled());
    /// ```
    pub const fn token_ref(&self) -> TokenRef<'_> {
        // SAFETY: from a reference, so not null; the node is this whole source.
        TokenRef::from_ptr(unsafe {
            NonNull::new_unchecked(&self.node as *const Node as *mut Node)
        })
    }

    /// Cancels the token and its descendants; see
    /// [`CancelSource::cancel`](crate::CancelSource). It may run in an
    /// interrupt handler.
    ///
    /// ```
    /// use cancel_token::{Reason, StaticSource};
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// let token = SHUTDOWN.token_ref();
    /// SHUTDOWN.cancel();
    /// assert_eq!(token.reason(), Some(Reason::Cancelled));
    /// ```
    pub fn cancel(&self) {
        Node::cancel(NonNull::from(&self.node), Reason::Cancelled, None);
    }

    /// Cancels with a cause, which its tokens and descendants report from
    /// `cause()`: a `&'static` error, or with `alloc` an owned one
    /// ([`Cause::new`]), which this source's node keeps for good (a
    /// `static` is never dropped); see [`Cause`].
    ///
    /// ```
    /// use cancel_token::StaticSource;
    ///
    /// #[derive(Debug)]
    /// struct PowerLoss;
    /// impl core::fmt::Display for PowerLoss {
    ///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    ///         f.write_str("power loss")
    ///     }
    /// }
    /// impl core::error::Error for PowerLoss {}
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// SHUTDOWN.cancel_with(&PowerLoss);
    /// assert_eq!(SHUTDOWN.token_ref().cause().unwrap().to_string(), "power loss");
    /// ```
    pub fn cancel_with(&self, cause: impl Into<Cause>) {
        Node::cancel(
            NonNull::from(&self.node),
            Reason::Cancelled,
            Some(cause.into()),
        );
    }

    /// Whether it is cancelled: one Acquire load.
    ///
    /// ```
    /// use cancel_token::StaticSource;
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// assert!(!SHUTDOWN.is_cancelled());
    /// SHUTDOWN.cancel();
    /// assert!(SHUTDOWN.is_cancelled());
    /// ```
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// Why it was cancelled, or `None` while live.
    ///
    /// ```
    /// use cancel_token::{Reason, StaticSource};
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// assert_eq!(SHUTDOWN.reason(), None);
    /// SHUTDOWN.cancel();
    /// assert_eq!(SHUTDOWN.reason(), Some(Reason::Cancelled));
    /// ```
    pub fn reason(&self) -> Option<Reason> {
        self.node.reason()
    }

    /// The cause given to [`cancel_with`](Self::cancel_with), or `None`.
    ///
    /// ```
    /// use cancel_token::StaticSource;
    ///
    /// #[derive(Debug)]
    /// struct PowerLoss;
    /// impl core::fmt::Display for PowerLoss {
    ///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    ///         f.write_str("power loss")
    ///     }
    /// }
    /// impl core::error::Error for PowerLoss {}
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// assert!(SHUTDOWN.cause().is_none());
    /// SHUTDOWN.cancel_with(&PowerLoss);
    /// assert_eq!(SHUTDOWN.cause().unwrap().to_string(), "power loss");
    /// ```
    pub fn cause(&self) -> Option<Cause> {
        self.node.cause()
    }
}

#[cfg(not(cancel_token_loom))]
impl Default for StaticSource {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for StaticSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticSource")
            .field("reason", &self.reason())
            .finish()
    }
}
