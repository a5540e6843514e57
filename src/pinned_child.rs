//! `PinnedChild`: a child node that lives in its owner's frame, for the
//! no-allocator tier.

use core::fmt;
use core::marker::{PhantomData, PhantomPinned};
use core::pin::Pin;
use core::ptr::NonNull;

use crate::node::{class, Node};
use crate::sync::Ordering::*;
use crate::{Cause, Reason, TokenRef};

/// Set in a pinned node's state once it has been linked into its parent.
const LINKED_ONCE: usize = 1 << 4;

/// A child source whose node is stored in place (a stack frame, an async task, a
/// `static` cell) rather than on the heap. It is the no-allocator tier's
/// [`CancelToken::child`](crate::CancelToken::child).
///
/// It links into its parent on first use through a pinned reference, and on drop
/// cancels itself and unlinks, as [`CancelSource`](crate::CancelSource) does.
///
/// # Examples
///
/// ```
/// use core::pin::pin;
/// use cancel_token::{PinnedChild, StaticSource};
///
/// static ROOT: StaticSource = StaticSource::new();
///
/// let child = pin!(PinnedChild::new(ROOT.token_ref()));
/// let token = child.as_ref().token();
/// assert!(!token.is_cancelled());
/// ROOT.cancel();
/// assert!(token.is_cancelled());
/// ```
///
/// Dropping a pinned child from an interrupt handler that preempted a `cancel` of
/// one of its ancestors would wait for that cancel forever; drop pinned children
/// in the context that owns them.
pub struct PinnedChild<'a> {
    node: Node,
    _parent: PhantomData<&'a Node>,
    _pin: PhantomPinned,
}

impl<'a> PinnedChild<'a> {
    /// A child of `parent`, not yet linked (it links when first used pinned).
    pub fn new(parent: TokenRef<'a>) -> Self {
        let mut node = Node::new(class::PINNED, 0);
        node.parent = Some(NonNull::from(parent.node));
        PinnedChild {
            node,
            _parent: PhantomData,
            _pin: PhantomPinned,
        }
    }

    fn linked(self: Pin<&Self>) -> &Node {
        let node = &self.get_ref().node;
        // Acquire: pairs with the fetch_or below on another thread.
        if node.state.load(Acquire) & LINKED_ONCE == 0 {
            self.link_slow();
        }
        node
    }

    #[cold]
    fn link_slow(self: Pin<&Self>) {
        let node = &self.get_ref().node;
        // SAFETY: the parent outlives 'a, which outlives us.
        let parent = unsafe { node.parent.unwrap_unchecked().as_ref() };
        // SAFETY: pinned; `Drop` unlinks it and waits for cancellers to let go.
        unsafe { parent.link_child(NonNull::from(node), LINKED_ONCE) };
    }

    /// A borrowed token for this child.
    pub fn token(self: Pin<&Self>) -> TokenRef<'_> {
        TokenRef {
            node: self.linked(),
        }
    }

    /// Cancels this child and its descendants, not its parent.
    pub fn cancel(self: Pin<&Self>) {
        self.linked().cancel(Reason::Cancelled, None);
    }

    /// Cancels with a cause.
    pub fn cancel_with(self: Pin<&Self>, cause: Cause) {
        self.linked().cancel(Reason::Cancelled, Some(cause));
    }

    /// Whether this child is cancelled.
    pub fn is_cancelled(self: Pin<&Self>) -> bool {
        self.linked().is_cancelled()
    }
}

impl Drop for PinnedChild<'_> {
    fn drop(&mut self) {
        let node = &self.node;
        // Relaxed: set by this thread or published by the parent's lock.
        if node.state.load(Relaxed) & LINKED_ONCE == 0 {
            return;
        }
        node.cancel(Reason::Cancelled, None);
        // SAFETY: the parent outlives us.
        let parent = unsafe { node.parent.unwrap_unchecked().as_ref() };
        parent.unlink_child(NonNull::from(node));
        node.wait_unborrowed();
    }
}

impl fmt::Debug for PinnedChild<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedChild")
            .field("reason", &self.node.reason())
            .finish()
    }
}
