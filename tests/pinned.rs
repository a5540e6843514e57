//! The no-allocator tier: static sources, pinned children, borrowed tokens.

use std::future::Future;
use std::pin::pin;
use std::task::Context;

use cancel_token::{PinnedChild, Reason, StaticSource};

#[derive(Debug)]
struct Halt;
impl core::fmt::Display for Halt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("halt")
    }
}
impl core::error::Error for Halt {}

#[test]
fn static_root_reaches_pinned_children_and_waiters() {
    static ROOT: StaticSource = StaticSource::new();
    let a = pin!(PinnedChild::new(ROOT.token_ref()));
    let a = a.into_ref();
    let b = pin!(PinnedChild::new(a.token()));
    let b = b.into_ref();
    let tb = b.token();
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(tb.cancelled());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    ROOT.cancel_with(&Halt);
    assert!(a.is_cancelled());
    assert_eq!(tb.reason(), Some(Reason::Cancelled));
    assert_eq!(tb.cause().unwrap().to_string(), "halt");
    assert!(fut.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn pinned_child_cancel_stays_local() {
    static ROOT: StaticSource = StaticSource::new();
    let a = pin!(PinnedChild::new(ROOT.token_ref()));
    let a = a.into_ref();
    let sibling = pin!(PinnedChild::new(ROOT.token_ref()));
    let sibling = sibling.into_ref();
    assert!(!sibling.is_cancelled());
    a.cancel();
    assert!(a.token().is_cancelled());
    assert!(!ROOT.is_cancelled());
    assert!(!sibling.is_cancelled());
}

#[test]
fn pinned_child_of_cancelled_parent_is_born_cancelled() {
    static ROOT: StaticSource = StaticSource::new();
    ROOT.cancel();
    let a = pin!(PinnedChild::new(ROOT.token_ref()));
    assert!(a.as_ref().is_cancelled());
}

#[test]
fn dropped_pinned_children_leave_the_parent_list() {
    static ROOT: StaticSource = StaticSource::new();
    for _ in 0..1000 {
        let c = pin!(PinnedChild::new(ROOT.token_ref()));
        let _ = c.as_ref().token();
    }
    // Cancelling must not touch any of the dropped frames.
    ROOT.cancel();
}

#[test]
fn pinned_child_of_a_heap_token() {
    let root = cancel_token::CancelSource::new();
    let token = root.token();
    let c = pin!(PinnedChild::new(token.as_token_ref()));
    let c = c.into_ref();
    let t = c.token();
    drop(root);
    assert!(t.is_cancelled());
}

#[test]
fn static_token_clones_count_nothing() {
    static ROOT: StaticSource = StaticSource::new();
    let t = ROOT.token();
    let clones: Vec<_> = (0..10).map(|_| t.clone()).collect();
    drop(clones);
    ROOT.cancel();
    assert!(t.is_cancelled());
}

#[test]
fn concurrent_cancel_and_pinned_drop() {
    // A canceller may hold a pinned child on its work list while its owner
    // drops it: the drop waits for the canceller.
    let iterations = if cfg!(miri) { 20 } else { 2_000 };
    for _ in 0..iterations {
        let root = cancel_token::CancelSource::new();
        let token = root.token();
        std::thread::scope(|s| {
            s.spawn(|| {
                let c = pin!(PinnedChild::new(token.as_token_ref()));
                let g = pin!(PinnedChild::new(c.as_ref().token()));
                let _ = g.as_ref().token();
            });
            s.spawn(|| root.cancel());
        });
    }
}
