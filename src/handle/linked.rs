//! Linked sources: a root node cancelled when any of several parents is,
//! through a callback registered on each. The registrations live beside the
//! node, so a `CancelSource` stays one pointer.

use alloc::boxed::Box;
use core::ptr::NonNull;

use crate::node::{class, Node};
use crate::sync::UnsafeCell;
use crate::{CancelSource, CancelToken, Cause, OnCancel, Reason};

/// The node of a linked source. `#[repr(C)]` with the node first, so a node
/// pointer of a linked node is also a pointer to this (the `LINKED` class
/// flag says so).
#[repr(C)]
pub(crate) struct LinkedNode {
    node: Node,
    /// The registrations on each parent. Only the source touches them: it
    /// writes them once made, and takes them out as it drops.
    links: UnsafeCell<Option<Box<[OnCancel]>>>,
}

impl CancelSource {
    /// A source cancelled when **any** of `parents` is (with that parent's reason
    /// and cause), or by itself. Dropping it unregisters it from every parent.
    /// One allocation for the node and one for the list of registrations.
    ///
    /// When several parents are cancelled at once, the linked source takes the
    /// reason and cause of the first cancellation to reach it, which need not
    /// be the first one made.
    ///
    /// ```
    /// use cancel_token::CancelSource;
    ///
    /// let shutdown = CancelSource::new();
    /// let request = CancelSource::new();
    /// let both = CancelSource::linked([&shutdown.token(), &request.token()]);
    /// request.cancel();
    /// assert!(both.is_cancelled());
    /// assert!(!shutdown.is_cancelled());
    /// ```
    pub fn linked<'a>(parents: impl IntoIterator<Item = &'a CancelToken>) -> Self {
        let node = Box::new(LinkedNode {
            node: Node::new(class::HEAP | class::LINKED, 1),
            links: UnsafeCell::new(None),
        });
        let this = NonNull::from(Box::leak(node));
        let source = CancelSource::from_node(this.cast());
        let links: Box<[OnCancel]> = parents
            .into_iter()
            .map(|p| OnCancel::register(p, Link(source.token())))
            .collect();
        // SAFETY: live (the source holds it), and only the source, ours
        // here, touches `links`.
        unsafe { this.as_ref() }
            .links
            .with_mut(|l| unsafe { *l = Some(links) });
        source
    }
}

/// Unregisters a linked source from its parents (the first thing its drop does).
///
/// # Safety
/// `node` is a live linked node, with its whole provenance, and the caller is
/// its source.
pub(crate) unsafe fn unregister(node: NonNull<Node>) {
    // SAFETY: a linked node is a `LinkedNode` (node first, `repr(C)`), and
    // only its source, the caller, touches `links`.
    let links = unsafe { node.cast::<LinkedNode>().as_ref() }
        .links
        .with_mut(|l| unsafe { (*l).take() });
    drop(links);
}

/// Frees a linked node.
///
/// # Safety
/// The last reference to a `Box<LinkedNode>`.
pub(crate) unsafe fn free(node: NonNull<Node>) {
    // SAFETY: by the caller's guarantee.
    drop(unsafe { Box::from_raw(node.cast::<LinkedNode>().as_ptr()) });
}

/// A linked source's registration on one parent.
struct Link(CancelToken);

impl crate::node::callback::Fire for Link {
    fn fire(self, reason: Reason, cause: Option<Cause>) {
        Node::cancel(self.0.raw(), reason, cause);
    }
}
