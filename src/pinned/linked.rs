//! `PinnedLinked`: a source cancelled when any of its parents is, stored in
//! place, for the no-allocator tier.

use core::fmt;
use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr::NonNull;

use crate::node::callback::{self, Callback, Fire};
use crate::node::kind::{Class, Ownership};
use crate::node::state::State;
use crate::node::Node;
use crate::pinned::child::pinned_source_methods;
use crate::sync::Ordering::*;
use crate::{Cause, Reason, TokenRef};

/// A source cancelled when **any** of its `N` parents is (with that parent's
/// reason and cause), or by itself, stored in place rather than on the heap.
/// It is the no-allocator tier's
/// [`CancelSource::linked`](crate::CancelSource::linked): one registration
/// per parent lives inside it.
///
/// It registers on its parents when first used through a pinned reference.
/// Dropping it removes the registrations (with `std`, waiting for one that is
/// cancelling it on another thread) and cancels it, as a dropped source does.
///
/// # Examples
///
/// ```
/// use core::pin::pin;
/// use cancel_token::{PinnedLinked, Reason, StaticSource};
///
/// static SHUTDOWN: StaticSource = StaticSource::new();
/// static REQUEST: StaticSource = StaticSource::new();
///
/// let both = pin!(PinnedLinked::new([SHUTDOWN.token_ref(), REQUEST.token_ref()]));
/// let both = both.into_ref();
/// let token = both.token();
/// REQUEST.cancel();
/// assert_eq!(token.reason(), Some(Reason::Cancelled));
/// assert!(!SHUTDOWN.is_cancelled());
/// ```
///
/// Its methods take `Pin<&Self>`, as [`PinnedChild`](crate::PinnedChild)'s
/// do ([why](crate::PinnedChild#pinning-with-pin)): turn the `Pin<&mut Self>`
/// that `pin!` gives into one with [`Pin::into_ref`], as above.
///
/// [`new`](Self::new) is `const`, so on static roots it can be a `static`:
///
/// ```
/// use core::pin::Pin;
/// use cancel_token::{PinnedLinked, StaticSource};
///
/// static SHUTDOWN: StaticSource = StaticSource::new();
/// static FAULT: StaticSource = StaticSource::new();
/// static STOP: PinnedLinked<'static, 2> =
///     PinnedLinked::new([SHUTDOWN.token_ref(), FAULT.token_ref()]);
///
/// let stop = Pin::static_ref(&STOP).token();
/// FAULT.cancel();
/// assert!(stop.is_cancelled());
/// ```
///
/// Like [`PinnedChild`](crate::PinnedChild), drop it in the context that owns
/// it, not from an interrupt handler that preempted a cancel of one of its
/// parents.
///
/// It is `!Unpin`: each parent's callback list points into its
/// registrations, so it must not move once pinned, and no safe code can move
/// it:
///
/// ```compile_fail
/// fn assert_unpin<T: Unpin>() {}
/// assert_unpin::<cancel_token::PinnedLinked<'static, 2>>();
/// ```
pub struct PinnedLinked<'a, const N: usize> {
    node: Node,
    links: [Callback<PinnedRegistration>; N],
    parents: [TokenRef<'a>; N],
    _pin: PhantomPinned,
}

/// A registration's action: cancel the linked node like its parent.
struct PinnedRegistration(NonNull<Node>);

// SAFETY: the node is `Sync`; the pointer is followed only while the node is
// pinned, as its owner's drop removes every registration first.
unsafe impl Send for PinnedRegistration {}

impl Fire for PinnedRegistration {
    fn fire(self, reason: Reason, cause: Option<&Cause>) {
        Node::cancel(self.0, reason, cause.cloned());
    }
}

// SAFETY: the registrations are written once, by the caller that sets
// `ATTACHED`, and otherwise only touched under their parents' locks.
unsafe impl<const N: usize> Send for PinnedLinked<'_, N> {}
// SAFETY: as above.
unsafe impl<const N: usize> Sync for PinnedLinked<'_, N> {}

impl<'a, const N: usize> PinnedLinked<'a, N> {
    /// A source linked to `parents`, not yet registered on them (it registers
    /// when first used pinned).
    ///
    /// A `const fn`: on [`StaticSource`](crate::StaticSource)s'
    /// [`token_ref`](crate::StaticSource::token_ref)s it can live in a
    /// `static`, pinned by [`Pin::static_ref`].
    ///
    /// ```
    /// use core::pin::pin;
    /// use cancel_token::{PinnedLinked, StaticSource};
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// static FAULT: StaticSource = StaticSource::new();
    /// FAULT.cancel();
    /// let stop = pin!(PinnedLinked::new([SHUTDOWN.token_ref(), FAULT.token_ref()]));
    /// assert!(stop.as_ref().is_cancelled()); // a parent was cancelled already
    /// ```
    #[cfg(not(cancel_token_loom))]
    pub const fn new(parents: [TokenRef<'a>; N]) -> Self {
        PinnedLinked {
            node: Node::new(Class::plain(Ownership::Pinned), 0),
            links: [const { Callback::new(PinnedRegistration(NonNull::dangling())) }; N],
            parents,
            _pin: PhantomPinned,
        }
    }

    /// Loom's primitives cannot be built in const context.
    #[cfg(cancel_token_loom)]
    pub fn new(parents: [TokenRef<'a>; N]) -> Self {
        PinnedLinked {
            node: Node::new(Class::plain(Ownership::Pinned), 0),
            links: core::array::from_fn(|_| Callback::new(PinnedRegistration(NonNull::dangling()))),
            parents,
            _pin: PhantomPinned,
        }
    }

    /// Registers on the parents on first use. A parent already cancelled
    /// cancels this source before it returns.
    fn attach(self: Pin<&Self>) -> (&Node, NonNull<Node>) {
        let this = self.get_ref();
        let node = NonNull::from(&this.node);
        // The bit elects the one caller that registers (the `fetch_or`, a
        // read-modify-write, can only be won once). No data is published with
        // it: the winner writes the registrations after setting it, and they
        // are read only under the parents' locks (which order them) or by
        // `drop`, which has exclusive access. So the Acquire load and the
        // AcqRel are stronger than this needs (Relaxed would do).
        if !this.node.state.load(Acquire).contains(State::ATTACHED)
            && !this
                .node
                .state
                .fetch_or(State::ATTACHED, AcqRel)
                .contains(State::ATTACHED)
        {
            for (link, parent) in this.links.iter().zip(this.parents) {
                // SAFETY: not registered yet, and this caller alone registers.
                unsafe { link.set(PinnedRegistration(node)) };
                // SAFETY: pinned with `self`, whose drop unregisters it first.
                unsafe { callback::register(parent.node(), link) };
            }
        }
        (&this.node, node)
    }
}

pinned_source_methods!(
    impl[<const N: usize>] PinnedLinked<'_, N>,
    "use core::pin::pin;\n\
     use cancel_token::{PinnedLinked, Reason, StaticSource};\n\
     \n\
     static ROOT: StaticSource = StaticSource::new();\n\
     static OTHER: StaticSource = StaticSource::new();\n\
     let source = pin!(PinnedLinked::new([ROOT.token_ref(), OTHER.token_ref()]));\n\
     let source = source.into_ref();"
);

impl<const N: usize> Drop for PinnedLinked<'_, N> {
    fn drop(&mut self) {
        // Relaxed: `&mut self`, so every use through a shared pin, and the
        // `ATTACHED` it set, happens-before this drop (whatever ended those
        // borrows, such as a thread join, synchronised with this thread).
        if !self.node.state.load(Relaxed).contains(State::ATTACHED) {
            return;
        }
        for (link, parent) in self.links.iter().zip(self.parents) {
            // SAFETY: registered (or run inline) on `parent` in `attach`.
            unsafe { callback::unregister(parent.node(), &link.header) };
        }
        let this = NonNull::from(&self.node);
        // Also when a callback's panic continues out of `cancel`: the memory goes.
        let _wait = crate::util::panic::Finally::new(|| self.node.wait_unborrowed());
        Node::cancel(this, Reason::Cancelled, None);
    }
}

impl<const N: usize> fmt::Debug for PinnedLinked<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedLinked")
            .field("parents", &N)
            .field("reason", &self.node.reason())
            .finish()
    }
}
