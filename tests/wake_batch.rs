//! The batch of wakers a cancel takes under a lock and wakes once it is
//! released: at most 32 at a time, however the waiters are spread over a
//! node and its idle children, and none leaked when a panic leaves a batch
//! half woken.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use cancel_token::{CancelSource, CancelToken, Cancelled, Reason};

#[derive(Default)]
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// `n` futures waiting on `token`, polled once with `waker`.
fn waiters<'a>(token: &'a CancelToken, n: usize, waker: &Waker) -> Vec<Pin<Box<Cancelled<'a>>>> {
    let mut cx = Context::from_waker(waker);
    (0..n)
        .map(|_| {
            let mut fut = Box::pin(token.cancelled());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            fut
        })
        .collect()
}

/// Idle children (nothing in their lists but waiters) of one parent, with
/// more waiters in all than one batch holds: each is cancelled in place while
/// its waiters fit what is left of the batch, and on its own after otherwise.
#[test]
fn idle_children_whose_waiters_overflow_one_batch() {
    // (children, waiters on each): the first child fills part of the batch,
    // the next does not fit what is left of it.
    for (children, per_child) in [(2, 20), (2, 31), (2, 32), (3, 17), (5, 10), (2, 33)] {
        let parent = CancelSource::new();
        let sources: Vec<CancelSource> = (0..children).map(|_| parent.token().child()).collect();
        let tokens: Vec<CancelToken> = sources.iter().map(CancelSource::token).collect();
        let counts: Vec<Arc<CountWaker>> = (0..children).map(|_| Arc::default()).collect();
        let mut futs: Vec<Vec<Pin<Box<Cancelled<'_>>>>> = tokens
            .iter()
            .zip(&counts)
            .map(|(t, c)| waiters(t, per_child, &Waker::from(c.clone())))
            .collect();

        parent.cancel();

        for (i, (c, fs)) in counts.iter().zip(&mut futs).enumerate() {
            assert_eq!(
                c.0.load(SeqCst),
                per_child,
                "{children} children of {per_child} waiters: child {i}'s wakes"
            );
            let waker = Waker::from(c.clone());
            let mut cx = Context::from_waker(&waker);
            for f in fs.iter_mut() {
                assert_eq!(f.as_mut().poll(&mut cx), Poll::Ready(Reason::Cancelled));
            }
        }
        drop(futs);
        for c in &counts {
            assert_eq!(Arc::strong_count(c), 1, "a waker was leaked");
        }
    }
}

/// Counts wakes; panics on the wakes named.
struct PanickyWaker {
    woken: AtomicUsize,
    /// The wake (counting from 1) that panics with a plain payload.
    plain: usize,
    /// The wake that panics with a payload whose drop panics too.
    bomb: usize,
}

/// A panic payload whose drop panics.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("the payload of a waker's panic panicked as it was dropped");
    }
}

impl Wake for PanickyWaker {
    fn wake(self: Arc<Self>) {
        let n = self.woken.fetch_add(1, SeqCst) + 1;
        if n == self.plain {
            std::panic::panic_any("a waker panicked");
        }
        if n == self.bomb {
            std::panic::panic_any(Bomb);
        }
    }
}

fn panicky(plain: usize, bomb: usize) -> Arc<PanickyWaker> {
    Arc::new(PanickyWaker {
        woken: AtomicUsize::new(0),
        plain,
        bomb,
    })
}

/// A waker that panics: the others in its batch are still woken, the panic
/// continues out of `cancel`, and no waker is left behind.
#[test]
fn a_panicking_waker_leaves_the_others_woken_and_none_leaked() {
    const N: usize = 10;
    let w = panicky(3, usize::MAX);
    let source = CancelSource::new();
    let token = source.token();
    let futs = waiters(&token, N, &Waker::from(w.clone()));
    assert_eq!(Arc::strong_count(&w), N + 1);

    let err = catch_unwind(AssertUnwindSafe(|| source.cancel())).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"a waker panicked"));
    assert_eq!(w.woken.load(SeqCst), N);
    drop(futs);
    assert_eq!(Arc::strong_count(&w), 1, "a waker was leaked");
}

/// A panic that leaves `cancel` while a batch still holds wakers (here the
/// drop of a second waker panic's payload, which `cancel` lets go of, keeping
/// the first) drops the wakers not yet woken rather than leaking them.
#[test]
fn a_panic_out_of_a_half_woken_batch_drops_the_rest() {
    const N: usize = 10;
    let w = panicky(1, 2);
    let source = CancelSource::new();
    let token = source.token();
    let futs = waiters(&token, N, &Waker::from(w.clone()));
    assert_eq!(Arc::strong_count(&w), N + 1);

    let err = catch_unwind(AssertUnwindSafe(|| source.cancel())).unwrap_err();
    assert!(err
        .downcast_ref::<&str>()
        .is_some_and(|m| m.contains("dropped")));
    assert_eq!(w.woken.load(SeqCst), 2);
    assert!(token.is_cancelled());
    drop(futs);
    assert_eq!(
        Arc::strong_count(&w),
        1,
        "{} wakers of the batch were leaked",
        Arc::strong_count(&w) - 1
    );
}

/// Records, at each wake, whether every token it watches was cancelled by then.
#[derive(Default)]
struct SeesAllCancelled {
    watched: std::sync::OnceLock<Vec<CancelToken>>,
    woken: AtomicUsize,
    saw_all: AtomicUsize,
}

impl Wake for SeesAllCancelled {
    fn wake(self: Arc<Self>) {
        self.woken.fetch_add(1, SeqCst);
        if self
            .watched
            .get()
            .unwrap()
            .iter()
            .all(CancelToken::is_cancelled)
        {
            self.saw_all.fetch_add(1, SeqCst);
        }
    }
}

/// Idle children whose waiters fit one batch together are all cancelled in
/// place, under their parent's lock, and their waiters woken in one batch
/// after it: no waiter runs while a sibling of its token is still live (a
/// child cancelled on its own, from the work list, wakes its waiters before
/// the next child is reached).
#[test]
fn idle_children_whose_waiters_fit_are_woken_in_one_batch() {
    let parent = CancelSource::new();
    let sources: Vec<CancelSource> = (0..3).map(|_| parent.token().child()).collect();
    let tokens: Vec<CancelToken> = sources.iter().map(CancelSource::token).collect();
    let sees = Arc::new(SeesAllCancelled::default());
    sees.watched.set(tokens.clone()).unwrap();
    let waker = Waker::from(sees.clone());
    let futs: Vec<_> = tokens.iter().map(|t| waiters(t, 2, &waker)).collect();

    parent.cancel();

    assert_eq!(sees.woken.load(SeqCst), 6);
    assert_eq!(
        sees.saw_all.load(SeqCst),
        6,
        "a waiter was woken before its siblings were cancelled"
    );
    drop(futs);
}
