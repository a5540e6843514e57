//! Threads that compete for one node's lock: registering and dropping
//! waiters, children and callbacks on the same token, while another thread
//! cancels it. Counts taken at the end say whether every entry was linked,
//! unlinked and drained exactly once.
//!
//! A watchdog aborts the process if a test runs past a minute, so a lock
//! that is never released fails the run instead of hanging it.

use std::future::Future;
use std::io::Write;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use cancel_token::{CancelSource, OnCancel, Reason};

const WORKERS: usize = 3;
/// Rounds per worker; every `KEEP`th round leaves its entries linked.
const ROUNDS: usize = if cfg!(miri) { 40 } else { 100_000 };
const KEEP: usize = if cfg!(miri) { 8 } else { 64 };

/// Aborts the process unless dropped within a minute (not under Miri, whose
/// clock is not the wall's).
struct Watchdog(Option<mpsc::Sender<()>>);

fn watchdog(test: &'static str) -> Watchdog {
    if cfg!(miri) {
        return Watchdog(None);
    }
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(60)) {
            // Straight to stderr: the test harness does not capture it.
            let _ = writeln!(
                std::io::stderr(),
                "{test}: still running after 60 s: a node's lock is never released"
            );
            std::process::abort();
        }
    });
    Watchdog(Some(tx))
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[derive(Default)]
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// What one worker left linked on the token.
struct Kept<'a> {
    futures: Vec<std::pin::Pin<Box<cancel_token::Cancelled<'a>>>>,
    callbacks: Vec<OnCancel>,
    children: Vec<CancelSource>,
}

#[test]
fn threads_linking_and_unlinking_on_one_node_keep_its_list_whole() {
    let _dog = watchdog("threads_linking_and_unlinking_on_one_node_keep_its_list_whole");
    link_and_unlink(true);
}

/// Without children, so without the parent's spare node: only the list.
#[test]
fn threads_linking_and_unlinking_waiters_and_callbacks_keep_the_list_whole() {
    let _dog = watchdog("threads_linking_and_unlinking_waiters_and_callbacks_keep_the_list_whole");
    link_and_unlink(false);
}

/// `WORKERS` threads each make `ROUNDS` waiters, callbacks and (with
/// `children`) children on one token, leaving every `KEEP`th linked; then
/// the token is cancelled and each kept one must have been reached once.
fn link_and_unlink(children: bool) {
    static ROOT: cancel_token::StaticSource = cancel_token::StaticSource::new();
    let source = ROOT.token().child();
    let token = source.token();
    let ran = Arc::new(AtomicUsize::new(0));
    let wakes = Arc::new(CountWaker::default());
    let start = AtomicBool::new(false);

    let kept: Vec<Kept> = thread::scope(|scope| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let (token, ran, wakes, start) = (&token, &ran, &wakes, &start);
                scope.spawn(move || {
                    while !start.load(SeqCst) {
                        std::hint::spin_loop();
                    }
                    let waker = Waker::from(wakes.clone());
                    let mut cx = Context::from_waker(&waker);
                    let mut kept = Kept {
                        futures: Vec::new(),
                        callbacks: Vec::new(),
                        children: Vec::new(),
                    };
                    for i in 0..ROUNDS {
                        let keep = i % KEEP == 0;
                        // Short stays in the list, as a `select!` that loses makes.
                        for _ in 0..4 {
                            let mut fut = pin!(token.cancelled());
                            assert!(fut.as_mut().poll(&mut cx).is_pending());
                        }
                        let mut fut = Box::pin(token.cancelled());
                        assert!(fut.as_mut().poll(&mut cx).is_pending());
                        let child = children.then(|| token.child());
                        let r = ran.clone();
                        let callback = token.on_cancel(move |_| {
                            r.fetch_add(1, SeqCst);
                        });
                        if keep {
                            kept.futures.push(fut);
                            kept.children.extend(child);
                            kept.callbacks.push(callback);
                        } else {
                            drop(fut);
                            drop(child);
                            assert!(callback.disarm(), "a callback ran with no cancel");
                        }
                    }
                    kept
                })
            })
            .collect();
        start.store(true, SeqCst);
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });

    let kept_each = ROUNDS.div_ceil(KEEP);
    assert_eq!(ran.load(SeqCst), 0);
    assert_eq!(wakes.0.load(SeqCst), 0);
    source.cancel();
    assert_eq!(ran.load(SeqCst), WORKERS * kept_each, "callbacks run");
    assert_eq!(wakes.0.load(SeqCst), WORKERS * kept_each, "waiters woken");
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    for mut k in kept {
        assert_eq!(k.children.len(), if children { kept_each } else { 0 });
        for c in &k.children {
            assert_eq!(c.reason(), Some(Reason::Cancelled));
        }
        for f in &mut k.futures {
            assert_eq!(f.as_mut().poll(&mut cx), Poll::Ready(Reason::Cancelled));
        }
        for cb in k.callbacks {
            assert!(!cb.disarm(), "a kept callback did not run");
        }
    }
}

#[test]
fn threads_linking_and_unlinking_on_one_node_while_another_cancels_it() {
    let _dog = watchdog("threads_linking_and_unlinking_on_one_node_while_another_cancels_it");
    // Each worker goes on until it has seen the cancel, and a few rounds
    // more (at most `rounds` in all).
    let rounds = if cfg!(miri) { 40 } else { 1_000_000 };
    let after = if cfg!(miri) { 4 } else { 100 };
    for _ in 0..if cfg!(miri) { 1 } else { 10 } {
        let source = CancelSource::new();
        let token = source.token();
        let ran = Arc::new(AtomicUsize::new(0));
        let ran_seen = AtomicUsize::new(0);
        let wakes = Arc::new(CountWaker::default());
        let pending_seen = AtomicUsize::new(0);
        let started = AtomicUsize::new(0);

        thread::scope(|scope| {
            for _ in 0..WORKERS {
                let (token, ran, ran_seen, wakes, pending_seen, started) =
                    (&token, &ran, &ran_seen, &wakes, &pending_seen, &started);
                scope.spawn(move || {
                    started.fetch_add(1, SeqCst);
                    let waker = Waker::from(wakes.clone());
                    let mut cx = Context::from_waker(&waker);
                    let mut left = after;
                    for _ in 0..rounds {
                        if token.is_cancelled() {
                            if left == 0 {
                                break;
                            }
                            left -= 1;
                        }
                        // A waiter left pending is woken by the cancel before
                        // it is dropped, or drops out of the list first.
                        let mut fut = pin!(token.cancelled());
                        if fut.as_mut().poll(&mut cx).is_pending() {
                            pending_seen.fetch_add(1, SeqCst);
                        }
                        // A child made once the cancel began is born cancelled.
                        let late = token.is_cancelled();
                        let child = token.child();
                        let r = ran.clone();
                        let callback = token.on_cancel(move |reason| {
                            assert_eq!(reason, Reason::Cancelled);
                            r.fetch_add(1, SeqCst);
                        });
                        if !callback.disarm() {
                            ran_seen.fetch_add(1, SeqCst);
                        }
                        if late {
                            assert!(child.is_cancelled());
                        }
                        drop(child);
                    }
                });
            }
            while started.load(SeqCst) < WORKERS {
                thread::yield_now();
            }
            thread::sleep(Duration::from_micros(200));
            source.cancel();
        });

        // Every callback that ran was seen to have run by its owner, once.
        assert_eq!(ran.load(SeqCst), ran_seen.load(SeqCst));
        assert!(wakes.0.load(SeqCst) <= pending_seen.load(SeqCst));
        assert!(token.is_cancelled());
    }
}
