//! Tree semantics: propagation, reasons, causes, drop order.

use cancel_token::{CancelSource, CancelToken, Reason};
use std::future::Future;

#[derive(Debug)]
struct Shutdown;
impl core::fmt::Display for Shutdown {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("shutdown")
    }
}
impl core::error::Error for Shutdown {}

#[derive(Debug)]
struct Other;
impl core::fmt::Display for Other {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("other")
    }
}
impl core::error::Error for Other {}

#[test]
fn new_source_is_live() {
    let s = CancelSource::new();
    let t = s.token();
    assert!(!s.is_cancelled());
    assert!(!t.is_cancelled());
    assert_eq!(t.reason(), None);
    assert!(t.cause().is_none());
}

#[test]
fn cancel_is_idempotent_and_first_cause_wins() {
    let s = CancelSource::new();
    let t = s.token();
    s.cancel_with(&Shutdown);
    s.cancel_with(&Other);
    s.cancel();
    assert_eq!(t.reason(), Some(Reason::Cancelled));
    assert_eq!(t.cause().unwrap().to_string(), "shutdown");
}

#[test]
fn descendants_report_ancestor_reason_and_cause() {
    let root = CancelSource::new();
    let a = root.token().child();
    let b = a.token().child();
    let c = b.token().child();
    root.cancel_with(&Shutdown);
    for s in [&a, &b, &c] {
        assert_eq!(s.reason(), Some(Reason::Cancelled));
        assert_eq!(s.token().cause().unwrap().to_string(), "shutdown");
    }
}

#[test]
fn cancelling_child_leaves_parent_and_siblings() {
    let root = CancelSource::new();
    let a = root.token().child();
    let b = root.token().child();
    let a1 = a.token().child();
    a.cancel();
    assert!(a1.is_cancelled());
    assert!(!root.is_cancelled());
    assert!(!b.is_cancelled());
}

#[test]
fn child_of_cancelled_is_born_cancelled_with_cause() {
    let root = CancelSource::new();
    root.cancel_with(&Shutdown);
    let child = root.token().child();
    assert!(child.is_cancelled());
    assert_eq!(child.token().cause().unwrap().to_string(), "shutdown");
    let grandchild = child.token().child();
    assert!(grandchild.is_cancelled());
}

#[test]
fn child_cancelled_before_parent_keeps_its_own_cause() {
    let root = CancelSource::new();
    let child = root.token().child();
    child.cancel_with(&Other);
    root.cancel_with(&Shutdown);
    assert_eq!(child.token().cause().unwrap().to_string(), "other");
}

#[test]
fn dropping_source_cancels_token() {
    let s = CancelSource::new();
    let t = s.token();
    let child = t.child();
    drop(s);
    assert_eq!(t.reason(), Some(Reason::Cancelled));
    assert!(child.is_cancelled());
}

#[test]
fn token_outlives_source_and_stays_cancelled() {
    let t = {
        let root = CancelSource::new();
        let child = root.token().child();
        child.token()
    };
    assert!(t.is_cancelled());
    let t2 = t.clone();
    drop(t);
    assert!(t2.is_cancelled());
}

#[test]
fn any_drop_order_is_safe() {
    // Every permutation of dropping root source, child source, tokens.
    for order in 0..24u32 {
        let root = CancelSource::new();
        let rt = root.token();
        let child = rt.child();
        let ct = child.token();
        let mut items: Vec<Option<Box<dyn std::any::Any>>> = vec![
            Some(Box::new(root)),
            Some(Box::new(rt)),
            Some(Box::new(child)),
            Some(Box::new(ct)),
        ];
        let mut o = order;
        for n in (1..=4u32).rev() {
            let i = (o % n) as usize;
            o /= n;
            let idx = items
                .iter()
                .enumerate()
                .filter(|(_, x)| x.is_some())
                .nth(i)
                .unwrap()
                .0;
            items[idx] = None;
        }
    }
}

#[test]
fn never_token_is_never_cancelled() {
    let t = CancelToken::never();
    let child = t.child();
    assert!(!t.is_cancelled());
    assert!(!child.is_cancelled());
    child.cancel();
    assert!(!t.is_cancelled());
    let guard = t.on_cancel(|_| unreachable!());
    assert!(guard.disarm());
    let mut fut = std::pin::pin!(t.cancelled());
    let mut cx = std::task::Context::from_waker(futures_util::task::noop_waker_ref());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(CancelToken::default().reason(), None);
}

#[test]
fn deep_chain_cancel_and_drop_use_constant_stack() {
    // 100k nested children: cancel from the root, then drop leaf-first and
    // root-first; neither may recurse. (Miri: 2k, as 100k takes it an hour;
    // recursion would still show as a deep stack there.)
    let depth = if cfg!(miri) { 2_000 } else { 100_000 };
    let root = CancelSource::new();
    let mut sources = Vec::with_capacity(depth);
    let mut parent = root.token();
    for _ in 0..depth {
        let s = parent.child();
        parent = s.token();
        sources.push(s);
    }
    let leaf = parent;
    root.cancel();
    assert!(leaf.is_cancelled());
    drop(root);
    // Dropping sources root-first leaves the leaf token holding the whole chain.
    drop(sources);
    drop(leaf);

    // Without cancelling first: tokens keep the chain; drop the leaf token last.
    let root = CancelSource::new();
    let mut parent = root.token();
    let mut sources = Vec::with_capacity(depth);
    for _ in 0..depth {
        let s = parent.child();
        parent = s.token();
        sources.push(s);
    }
    while let Some(s) = sources.pop() {
        drop(s);
    }
    drop(root);
    assert!(parent.is_cancelled());
}

#[test]
fn linked_cancels_when_any_parent_does() {
    let a = CancelSource::new();
    let b = CancelSource::new();
    let l = CancelSource::linked([&a.token(), &b.token()]);
    assert!(!l.is_cancelled());
    b.cancel_with(&Shutdown);
    assert!(l.is_cancelled());
    assert_eq!(l.token().cause().unwrap().to_string(), "shutdown");
    assert!(!a.is_cancelled());
}

#[test]
fn linked_with_cancelled_parent_is_born_cancelled() {
    let a = CancelSource::new();
    a.cancel();
    let l = CancelSource::linked([&a.token()]);
    assert!(l.is_cancelled());
}

#[test]
fn linked_drop_unregisters_from_parents() {
    let a = CancelSource::new();
    let t = a.token();
    for _ in 0..1000 {
        let l = CancelSource::linked([&t, &t]);
        drop(l);
    }
    // Cancelling the parent must touch no freed registration.
    a.cancel();
}

#[test]
fn linked_cancelling_itself_leaves_parents() {
    let a = CancelSource::new();
    let l = CancelSource::linked([&a.token()]);
    l.cancel();
    assert!(!a.is_cancelled());
}

#[test]
fn reason_display_and_error() {
    fn takes_error(_: &dyn core::error::Error) {}
    takes_error(&Reason::Cancelled);
    assert_eq!(Reason::DeadlineExceeded.to_string(), "deadline exceeded");
}

#[test]
fn handles_are_send_sync() {
    fn check<T: Send + Sync>() {}
    fn check_static<T: 'static>() {}
    check::<CancelSource>();
    check::<CancelToken>();
    check_static::<CancelToken>();
    check::<cancel_token::OnCancel>();
    check::<cancel_token::Cancelled<'static>>();
    check::<cancel_token::CancelledOwned>();
}

#[test]
fn children_dropped_while_their_parent_is_cancelled() {
    // Miri checks each round's memory accesses; a few rounds suffice there.
    for _ in 0..if cfg!(miri) { 4 } else { 500 } {
        let root = CancelSource::new();
        let kids: Vec<_> = (0..8).map(|_| root.token().child()).collect();
        let token = root.token();
        std::thread::scope(|s| {
            s.spawn(move || drop(kids));
            s.spawn(|| root.cancel());
        });
        assert!(token.is_cancelled());
    }
}
