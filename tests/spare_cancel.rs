//! Cancelling a parent that keeps a spare node (a child dropped unobserved
//! left its memory there) takes the spare out for good: children made after
//! are born cancelled with the parent's cause, the cause stays the one given,
//! and freeing the parent frees nothing else.
//!
//! The cause is a `static` of atomics, so it lives in writable memory: were
//! the slot that holds the cause still read as a spare, a child would be
//! written into the cause, and freeing the parent would hand the cause's
//! address to the allocator. The allocator below keeps such a free from
//! happening and records it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use std::time::Duration;

use cancel_token::{CancelSource, CancelToken, Cause, ManualDriver, Reason};

/// An error whose bytes must never change: 256 bytes of zeros, more than any
/// node.
struct Canary([AtomicUsize; 32]);

impl Canary {
    fn untouched(&self) -> bool {
        self.0.iter().all(|w| w.load(SeqCst) == 0)
    }

    fn contains(&self, p: *mut u8) -> bool {
        let start = self as *const Canary as usize;
        (start..start + core::mem::size_of::<Canary>()).contains(&(p as usize))
    }
}

impl fmt::Debug for Canary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Canary")
    }
}

impl fmt::Display for Canary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("shutting down")
    }
}

impl std::error::Error for Canary {}

/// One for each test, as tests run at the same time.
static CANARIES: [Canary; 3] = [const { Canary([const { AtomicUsize::new(0) }; 32]) }; 3];
/// Whether the allocator was asked to free each canary.
static FREED: [AtomicBool; 3] = [const { AtomicBool::new(false) }; 3];

struct Guarded;

// SAFETY: forwards to the system allocator, except for frees of the canary,
// which it did not allocate: those are recorded and ignored.
unsafe impl GlobalAlloc for Guarded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(i) = CANARIES.iter().position(|c| c.contains(ptr)) {
            FREED[i].store(true, SeqCst);
            return;
        }
        // SAFETY: same contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Guarded = Guarded;

fn same_cause(a: &Option<Cause>, b: &Cause) -> bool {
    a.as_ref().is_some_and(|a| Cause::ptr_eq(a, b))
}

/// A parent that keeps a spare: a child made by `make` and dropped unobserved.
fn parent_with_spare(make: impl Fn(&CancelToken) -> CancelSource) -> CancelSource {
    let parent = CancelSource::new();
    drop(make(&parent.token()));
    parent
}

/// Cancels a parent keeping a spare made by `make` with `cause`, then makes
/// children of it with `make`: each must be born cancelled with that cause.
/// Forgets every handle (and `keep`) rather than let go of a child that lives
/// where the cause does.
fn children_born_cancelled(
    canary: &'static Canary,
    make: impl Fn(&CancelToken) -> CancelSource,
    keep: impl Sized,
) {
    let cause = Cause::from(canary);
    let parent = parent_with_spare(&make);
    let token = parent.token();
    parent.cancel_with(cause.clone());
    assert!(same_cause(&token.cause(), &cause));

    for _ in 0..3 {
        let child = make(&token);
        let born_cancelled = child.reason() == Some(Reason::Cancelled);
        let child_cause = child.token().cause();
        let parent_cause = token.cause();
        if !born_cancelled || !canary.untouched() {
            std::mem::forget((child, token, parent, keep));
            panic!(
                "child of a cancelled parent: born cancelled {born_cancelled}, \
                 cause untouched {}, parent's cause now {parent_cause:?}",
                canary.untouched()
            );
        }
        assert!(same_cause(&child_cause, &cause), "{child_cause:?}");
        assert!(same_cause(&parent_cause, &cause), "{parent_cause:?}");
    }
    drop(token);
    drop(parent);
    drop(keep);
    assert!(canary.untouched());
}

#[test]
fn children_of_a_parent_cancelled_with_a_spare_are_born_cancelled_with_its_cause() {
    children_born_cancelled(&CANARIES[0], CancelToken::child, ());
    assert!(!FREED[0].load(SeqCst), "freeing the parent freed its cause");
}

#[test]
fn children_of_a_parent_cancelled_with_a_timed_spare_are_born_cancelled_with_its_cause() {
    let driver = ManualDriver::new();
    let d = driver.clone();
    children_born_cancelled(
        &CANARIES[2],
        move |t| t.child_with_timeout_on(&d, Duration::from_secs(3600)),
        driver.clone(),
    );
    assert_eq!(driver.pending(), 0);
    assert!(!FREED[2].load(SeqCst), "freeing the parent freed its cause");
}

#[test]
fn freeing_a_parent_cancelled_with_a_spare_frees_only_its_nodes() {
    let canary = &CANARIES[1];
    let cause = Cause::from(canary);
    for source_first in [false, true] {
        // Also when its list is not empty.
        let parent = CancelSource::new();
        let token = parent.token();
        let other = token.child();
        drop(token.child());
        parent.cancel_with(cause.clone());
        assert_eq!(other.reason(), Some(Reason::Cancelled));
        assert!(same_cause(&other.token().cause(), &cause));
        drop(other);
        if source_first {
            drop(parent);
            drop(token);
        } else {
            drop(token);
            drop(parent);
        }
        assert!(!FREED[1].load(SeqCst), "freeing the parent freed its cause");
        assert!(canary.untouched());
    }
}
