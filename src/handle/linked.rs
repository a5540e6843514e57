//! Linked sources: a root node cancelled when any of several parents is,
//! through a callback registered on each. The registrations live beside the
//! node (`kind::LinkedNode`), so a `CancelSource` stays one pointer.

use alloc::boxed::Box;
use core::ptr::NonNull;

use crate::node::kind::{
    register_all, unregister_all, Class, LinkedNode, Ownership, Registration, Shape,
};
use crate::node::Node;
use crate::sync::UnsafeCell;
use crate::{CancelSource, CancelToken};

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
            node: Node::new(Class::new(Ownership::Heap, Shape::AnyOf), 1),
            links: UnsafeCell::new(None),
        });
        let this = NonNull::from(Box::leak(node));
        let source = CancelSource::from_node(this.cast());
        let links: Box<[Registration]> = parents
            .into_iter()
            // SAFETY: the caller borrows each parent's token, and the source
            // holds the linked node.
            .map(|p| unsafe { Registration::new(p.raw(), this.cast()) })
            .collect();
        // SAFETY: as above; `unregister` takes them.
        let links = unsafe { register_all(links) };
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
    if let Some(links) = links {
        // SAFETY: from `register_all`, taken out once.
        unsafe { unregister_all(links) };
    }
}
