//! Owned causes (`Cause::new`): reported by every node a cancel reaches,
//! shared by them, and dropped exactly once, with the last holder.

use std::error::Error;
use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cancel_token::{CancelSource, Cause, ManualDriver, PinnedChild, Reason, StaticSource};

/// An error that counts its drops.
#[derive(Debug)]
struct Counted {
    code: u32,
    drops: Arc<AtomicUsize>,
}

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stopped with code {}", self.code)
    }
}

impl Error for Counted {}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

/// An owned cause with `code`, and its drop count.
fn counted(code: u32) -> (Cause, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let cause = Cause::new(Counted {
        code,
        drops: drops.clone(),
    });
    (cause, drops)
}

fn code(c: &Option<Cause>) -> Option<u32> {
    c.as_ref()?.downcast_ref::<Counted>().map(|c| c.code)
}

#[derive(Debug)]
struct Static;
impl fmt::Display for Static {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("static")
    }
}
impl Error for Static {}

#[test]
fn the_token_and_every_descendant_report_it_and_it_drops_once_with_the_last() {
    let (cause, drops) = counted(7);
    let source = CancelSource::new();
    let token = source.token();
    let child = token.child();
    let grandchild = child.token().child();
    source.cancel_with(cause);
    let late_child = token.child();
    let late_grandchild = grandchild.token().child();
    for c in [
        token.cause(),
        child.token().cause(),
        grandchild.token().cause(),
        late_child.token().cause(),
        late_grandchild.token().cause(),
        source.token().as_token_ref().cause(),
    ] {
        assert_eq!(code(&c), Some(7));
        let c = c.unwrap();
        assert!(c.is::<Counted>());
        assert!(!c.is::<Static>());
        assert_eq!(c.to_string(), "stopped with code 7");
        assert!(format!("{c:?}").starts_with("Counted { code: 7"));
    }
    let kept = child.token().cause().unwrap();
    assert!(Cause::ptr_eq(&kept, &token.cause().unwrap()));
    drop((source, token, child, grandchild, late_child));
    assert_eq!(drops.load(SeqCst), 0, "late_grandchild and `kept` hold it");
    drop(late_grandchild);
    assert_eq!(drops.load(SeqCst), 0, "`kept` holds it");
    assert_eq!(kept.to_string(), "stopped with code 7");
    drop(kept);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn a_second_cancel_drops_its_cause_and_keeps_the_first() {
    let (first, first_drops) = counted(1);
    let (second, second_drops) = counted(2);
    let source = CancelSource::new();
    let child = source.token().child();
    source.cancel_with(first);
    source.cancel_with(second);
    child.cancel_with(Cause::from(&Static));
    assert_eq!(second_drops.load(SeqCst), 1);
    assert_eq!(code(&child.token().cause()), Some(1));
    drop(source);
    assert_eq!(first_drops.load(SeqCst), 0);
    drop(child);
    assert_eq!(first_drops.load(SeqCst), 1);
}

#[test]
fn linked_sources_and_callbacks_see_it() {
    let (cause, drops) = counted(3);
    let a = CancelSource::new();
    let b = CancelSource::new();
    let linked = CancelSource::linked([&a.token(), &b.token()]);
    let below = linked.token().child();
    let seen = Arc::new(AtomicUsize::new(0));
    let in_callback = {
        let (token, seen) = (below.token(), seen.clone());
        below.token().on_cancel(move |reason| {
            assert_eq!(reason, Reason::Cancelled);
            let c = token.cause();
            seen.store(code(&c).unwrap() as usize, SeqCst);
        })
    };
    b.cancel_with(cause);
    assert_eq!(seen.load(SeqCst), 3);
    assert_eq!(code(&linked.token().cause()), Some(3));
    assert_eq!(code(&below.token().cause()), Some(3));
    assert!(a.token().cause().is_none());
    drop((a, b, linked, below));
    assert_eq!(drops.load(SeqCst), 0, "the callback's guard holds a token");
    drop(in_callback);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn pinned_and_static_sources_take_owned_causes() {
    static ROOT: StaticSource = StaticSource::new();
    let (cause, drops) = counted(4);
    {
        let pinned = pin!(PinnedChild::new(ROOT.token_ref()));
        let below = pin!(PinnedChild::new(pinned.as_ref().token()));
        let _ = below.as_ref().token(); // attaches it
        pinned.as_ref().cancel_with(cause);
        assert_eq!(code(&pinned.as_ref().cause()), Some(4));
        assert_eq!(code(&below.as_ref().cause()), Some(4));
        assert_eq!(drops.load(SeqCst), 0);
    }
    assert_eq!(drops.load(SeqCst), 1, "dropping the pinned source freed it");

    let (cause, drops) = counted(5);
    let root = StaticSource::new();
    root.cancel_with(cause);
    assert_eq!(code(&root.cause()), Some(5));
    drop(root);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn an_owned_expiry_cause_is_reported_or_dropped_once() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let (cause, drops) = counted(6);
    let timed = root
        .token()
        .child_with_timeout_cause_on(&driver, Duration::from_secs(1), cause);
    let below = timed.token().child();
    driver.advance_by(Duration::from_secs(2));
    assert_eq!(below.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(code(&below.token().cause()), Some(6));
    drop((timed, below));
    assert_eq!(drops.load(SeqCst), 1);

    // Cancelled first: its own cause replaces the expiry's, which is dropped.
    let (cause, drops) = counted(8);
    let timed = root
        .token()
        .child_with_timeout_cause_on(&driver, Duration::from_secs(1), cause);
    timed.cancel_with(&Static);
    assert_eq!(drops.load(SeqCst), 1);
    assert!(timed.token().cause().unwrap().is::<Static>());
    driver.advance_by(Duration::from_secs(2));
    assert_eq!(timed.reason(), Some(Reason::Cancelled));
    drop(timed);

    // Never fired nor cancelled: dropped with the node.
    let (cause, drops) = counted(9);
    drop(
        root.token()
            .child_with_timeout_cause_on(&driver, Duration::from_secs(1), cause),
    );
    assert_eq!(drops.load(SeqCst), 1);
    assert_eq!(driver.pending(), 0);
}

#[test]
fn a_cancelled_child_holding_a_cause_is_not_kept_as_a_spare() {
    let parent = CancelSource::new();
    let (cause, drops) = counted(10);
    let child = parent.token().child();
    child.cancel_with(cause);
    drop(child);
    assert_eq!(drops.load(SeqCst), 1);
    // The next child is live and reports no cause.
    let next = parent.token().child();
    assert!(next.token().cause().is_none());
}

#[test]
fn a_boxed_error_is_seen_as_its_own_type() {
    let boxed: Box<dyn Error + Send + Sync> = Box::new(std::io::Error::other("disk full"));
    let source = CancelSource::new();
    source.cancel_with(Cause::from(boxed));
    let cause = source.token().cause().unwrap();
    assert!(cause.is::<std::io::Error>());
    assert_eq!(cause.to_string(), "disk full");
    // `Cause` is an `Error` itself, so it boxes too.
    let again: Box<dyn Error + Send + Sync> = Box::new(cause);
    assert_eq!(again.to_string(), "disk full");
}

#[test]
fn causes_cross_threads() {
    let (cause, drops) = counted(11);
    let source = CancelSource::new();
    let tokens: Vec<_> = (0..4).map(|_| source.token().child()).collect();
    let threads: Vec<_> = tokens
        .into_iter()
        .map(|child| {
            std::thread::spawn(move || {
                child.token().wait();
                let c = child.token().cause();
                code(&c)
            })
        })
        .collect();
    source.cancel_with(cause);
    drop(source);
    for t in threads {
        assert_eq!(t.join().unwrap(), Some(11));
    }
    assert_eq!(drops.load(SeqCst), 1);
}
