//! The floors of the `compare` workloads: the heap allocations and the atomic
//! read-modify-writes (RMWs) a path cannot avoid, on plain atomics and boxes,
//! timed alone. Not a usable token: nothing is linked in a list, no waiter
//! is woken; only the operations any tree of this design must do. Atomic
//! loads cost about what plain ones do when uncontended: the floors make
//! them where the design needs one (a last reference seen by a load) but do
//! not count them.
//!
//! Why these RMWs cannot be avoided, with a node per token in a tree whose
//! parent cancels its linked children:
//! - linking a child into its parent's list and unlinking it each take the
//!   parent's lock and release it: two RMWs each, on the parent's word. The
//!   child's reference on the parent (which keeps the parent's memory alive
//!   while a child may still reach it) is added in the same RMW as the
//!   unlock, and given back in the unlink's unlock when the child is freed
//!   in the same step;
//! - cancelling a node is one RMW of its word, which decides the one winner
//!   among concurrent cancellers (`cancel_if_idle_lock_free` in `src/cancel.rs`);
//! - a second handle on a node (a token given away) is a reference count:
//!   one RMW to take it, one to give it back while another remains. The last
//!   reference is seen by a load, as `CancelSource::drop` sees it
//!   (`Node::is_unobserved`) before `free_alone` in `src/release.rs`,
//!   and costs no RMW;
//! - a child freed after its unlink (a token outlived its source; or the
//!   canceller took it out of the list) gives its reference on the parent
//!   back with one RMW of its own;
//! - a node is a heap allocation of 64 bytes (a node's size on 64-bit
//!   targets), freed when the last handle goes; a child made after an
//!   unobserved child was dropped reuses that memory (the parent's spare).
use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicUsize, Ordering::*};

/// The lock bit and one reference, placed as in a node's state word.
const LOCKED: usize = 1 << 3;
const CANCELLED: usize = 1;
const REF_ONE: usize = 1 << 8;

/// A node: a state word, padded to a node's 64 bytes.
#[repr(C)]
pub struct Node {
    state: AtomicUsize,
    _rest: [usize; 7],
}

impl Node {
    /// A node with one reference, not on the heap (a long-lived parent).
    pub fn new() -> Node {
        Node {
            state: AtomicUsize::new(REF_ONE),
            _rest: [0; 7],
        }
    }

    /// One allocation of 64 bytes; `black_box` keeps the compiler from
    /// eliding the allocation and the free that goes with it.
    pub fn boxed() -> Box<Node> {
        black_box(Box::new(Node::new()))
    }

    /// Takes the lock: one RMW when uncontended. While it is held, waits
    /// as a node's lock does (spin hints in growing bursts, then yielding
    /// the time slice), so that contention costs what it must.
    fn lock(&self) {
        let mut spins = 0u32;
        // Acquire: pairs with the Release of `unlock_adding`.
        while self.state.fetch_or(LOCKED, Acquire) & LOCKED != 0 {
            while self.state.load(Relaxed) & LOCKED != 0 {
                if spins < 64 {
                    spins += 1;
                    for _ in 0..(1u32 << spins.min(6)) {
                        spin_loop();
                    }
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }

    /// Releases the lock adding `bits` to the word: one RMW.
    fn unlock_adding(&self, bits: usize) {
        // Release: what was done under the lock happens-before the next holder.
        self.state.fetch_add(bits.wrapping_sub(LOCKED), Release);
    }

    /// Links a child: lock, and unlock taking the child's reference.
    pub fn link(&self) {
        self.lock();
        self.unlock_adding(REF_ONE);
    }

    /// Unlinks a child freed in the same step: lock, and unlock giving
    /// back the child's reference.
    pub fn unlink_freeing(&self) {
        self.lock();
        self.unlock_adding(REF_ONE.wrapping_neg());
    }

    /// Unlinks a child that lives on (a token holds it): lock and unlock.
    pub fn unlink(&self) {
        self.lock();
        self.unlock_adding(0);
    }

    /// Cancels: one RMW.
    pub fn cancel(&self) {
        // Release: publishes what the canceller did before.
        self.state.fetch_or(CANCELLED, Release);
    }

    /// Takes the lock to cancel the node's children (the root of a tree).
    pub fn lock_for_cancel(&self) {
        self.lock();
    }

    /// Releases the lock taken by `lock_for_cancel`, marking the node
    /// cancelled in the same RMW: while the lock is held no child links,
    /// so the mark can wait until the children are cancelled.
    pub fn unlock_cancelled(&self) {
        self.unlock_adding(CANCELLED);
    }

    /// Whether the node is cancelled: a load.
    pub fn is_cancelled(&self) -> bool {
        // Acquire: pairs with the Release of the canceller's RMW.
        self.state.load(Acquire) & CANCELLED != 0
    }

    /// Takes a second reference: one RMW.
    pub fn inc_ref(&self) {
        // Relaxed: made from an existing reference.
        self.state.fetch_add(REF_ONE, Relaxed);
    }

    /// Gives back a reference that is not the last: one RMW.
    pub fn dec_ref(&self) {
        // Release: our uses happen-before whoever frees the node.
        self.state.fetch_sub(REF_ONE, Release);
    }

    /// Whether the caller's reference is the last: a load, no RMW.
    pub fn is_last(&self) -> bool {
        // Acquire: pairs with the other owners' Release decrements.
        self.state.load(Acquire) >> 8 == 1
    }
}

/// Frees a node whose last reference the caller holds, checked by a load.
pub fn free(node: Box<Node>) {
    assert!(node.is_last());
    drop(node);
}

/// `child_cancel_then_drop`: a child allocated and linked (2 RMWs),
/// cancelled (1), unlinked and freed (2): one allocation, 5 RMWs.
pub fn cancel_then_drop(parent: &Node) {
    let child = Node::boxed();
    parent.link();
    child.cancel();
    parent.unlink_freeing();
    free(child);
}

/// `child_token_given_away`: a child allocated and linked (2 RMWs), a
/// token of it made (1), the source dropped: the child cancelled (1),
/// unlinked (2) and the source's reference given back (1); the token
/// dropped: its last reference (a load), the reference on the parent
/// given back (1), freed. One allocation, 8 RMWs.
pub fn token_given_away(parent: &Node) {
    let child = Node::boxed();
    parent.link();
    child.inc_ref();
    child.cancel();
    parent.unlink();
    child.dec_ref();
    parent.dec_ref();
    free(child);
}

/// `build_1000_live`, per child: one allocation, linked (2 RMWs).
// A box per child, as each node is its own allocation in a tree.
#[allow(clippy::vec_box)]
pub fn build(parent: &Node, children: &mut Vec<Box<Node>>) {
    let child = Node::boxed();
    parent.link();
    children.push(child);
}

/// `drop_1000_cancelled`, per child (cancelled before): unlinked and
/// freed (2 RMWs), one free.
pub fn drop_cancelled(parent: &Node, child: Box<Node>) {
    parent.unlink_freeing();
    free(child);
}

/// The cancel of a root whose children have nothing to wake or run: the
/// root's lock taken (1 RMW), each child cancelled (1), which takes it
/// out of the list, and the lock released marking the root cancelled (1).
pub fn cancel_tree(root: &Node, children: &[Box<Node>]) {
    root.lock_for_cancel();
    for child in children {
        child.cancel();
    }
    root.unlock_cancelled();
}

/// `tree_1000_whole`: the root and `children` children allocated, each
/// child linked (2 RMWs); `cancel_tree` (1 per child, 2 per tree); each
/// child dropped: its last reference (a load), its reference on the root
/// given back (1), freed; the root freed. Per child one allocation and 4
/// RMWs; per tree one allocation and 2 RMWs.
pub fn tree(children: usize) {
    let root = Node::boxed();
    let nodes: Vec<_> = (0..children)
        .map(|_| {
            let child = Node::boxed();
            root.link();
            child
        })
        .collect();
    cancel_tree(&root, &nodes);
    for child in nodes {
        root.dec_ref();
        free(child);
    }
    free(root);
}

/// A child created and dropped unobserved, reusing the parent's spare
/// memory: linked (2 RMWs) and unlinked (2), no allocation.
pub fn spare_reuse(parent: &Node) {
    parent.link();
    parent.unlink_freeing();
}
