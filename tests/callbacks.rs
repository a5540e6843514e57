//! `on_cancel` callbacks: `std::stop_callback` rules.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cancel_token::{CancelSource, OnCancel, Reason};

#[test]
fn runs_once_on_the_cancelling_thread_with_reason() {
    let s = CancelSource::new();
    let runs = Arc::new(Mutex::new(Vec::new()));
    let r = runs.clone();
    let _g = s.token().on_cancel(move |reason| {
        r.lock()
            .unwrap()
            .push((reason, std::thread::current().id()));
    });
    let canceller = std::thread::spawn(move || {
        s.cancel();
        s.cancel();
        std::thread::current().id()
    })
    .join()
    .unwrap();
    assert_eq!(*runs.lock().unwrap(), vec![(Reason::Cancelled, canceller)]);
}

#[test]
fn registering_on_cancelled_token_runs_inline() {
    let s = CancelSource::new();
    s.cancel();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let g = s.token().on_cancel(move |_| r.store(true, SeqCst));
    assert!(ran.load(SeqCst));
    assert!(!g.disarm());
}

#[test]
fn disarmed_callback_never_runs_and_its_closure_is_dropped() {
    let s = CancelSource::new();
    let captured = Arc::new(());
    let c = captured.clone();
    let g = s.token().on_cancel(move |_| {
        let _keep = &c;
        panic!("must not run")
    });
    assert_eq!(Arc::strong_count(&captured), 2);
    assert!(g.disarm());
    assert_eq!(Arc::strong_count(&captured), 1);
    s.cancel();
}

#[test]
fn ancestor_cancel_runs_descendant_callbacks() {
    let root = CancelSource::new();
    let child = root.token().child();
    let count = Arc::new(AtomicUsize::new(0));
    let guards: Vec<OnCancel> = (0..100)
        .map(|_| {
            let c = count.clone();
            child.token().on_cancel(move |_| {
                c.fetch_add(1, SeqCst);
            })
        })
        .collect();
    root.cancel();
    assert_eq!(count.load(SeqCst), 100);
    drop(guards);
}

#[test]
fn disarm_waits_for_a_callback_running_on_another_thread() {
    let s = CancelSource::new();
    let started = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let (st, fi) = (started.clone(), finished.clone());
    let g = s.token().on_cancel(move |_| {
        st.store(true, SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        fi.store(true, SeqCst);
    });
    let canceller = std::thread::spawn(move || s.cancel());
    while !started.load(SeqCst) {
        std::thread::yield_now();
    }
    assert!(!g.disarm());
    // Disarm returned only after the callback finished.
    assert!(finished.load(SeqCst));
    canceller.join().unwrap();
}

#[test]
fn dropping_the_guard_inside_its_own_callback_does_not_deadlock() {
    let s = CancelSource::new();
    let slot: Arc<Mutex<Option<OnCancel>>> = Arc::new(Mutex::new(None));
    let ran = Arc::new(AtomicBool::new(false));
    let (sl, r) = (slot.clone(), ran.clone());
    let g = s.token().on_cancel(move |_| {
        let me = sl.lock().unwrap().take().unwrap();
        assert!(!me.disarm());
        r.store(true, SeqCst);
    });
    *slot.lock().unwrap() = Some(g);
    s.cancel();
    assert!(ran.load(SeqCst));
}

#[test]
fn cancel_and_register_inside_a_callback() {
    let a = CancelSource::new();
    let b = CancelSource::new();
    let b_token = b.token();
    let inner_ran = Arc::new(AtomicBool::new(false));
    let ir = inner_ran.clone();
    let a_token = a.token();
    let _g = a.token().on_cancel(move |_| {
        // Cancelling another source from a callback.
        b.cancel();
        // Registering on the token being cancelled runs inline.
        let ir = ir.clone();
        let g = a_token.on_cancel(move |_| ir.store(true, SeqCst));
        drop(g);
        // A child of the token being cancelled is born cancelled.
        assert!(a_token.child().is_cancelled());
    });
    a.cancel();
    assert!(b_token.is_cancelled());
    assert!(inner_ran.load(SeqCst));
}

#[test]
fn dropping_the_last_source_inside_a_callback() {
    let root = CancelSource::new();
    let child = root.token().child();
    let child_token = child.token();
    let holder = Mutex::new(Some(child));
    let _g = child_token.on_cancel(move |_| drop(holder.lock().unwrap().take()));
    root.cancel();
    assert!(child_token.is_cancelled());
}

#[test]
fn panicking_callback_does_not_break_the_token() {
    let s = CancelSource::new();
    let t = s.token();
    let child = t.child();
    let count = Arc::new(AtomicUsize::new(0));
    let mut guards = Vec::new();
    for i in 0..10 {
        let c = count.clone();
        guards.push(t.on_cancel(move |_| {
            c.fetch_add(1, SeqCst);
            if i % 3 == 0 {
                panic!("callback {i}");
            }
        }));
    }
    let mut waiter = Box::pin(t.cancelled());
    let (flag, waker) = {
        struct W(AtomicBool);
        impl std::task::Wake for W {
            fn wake(self: Arc<Self>) {
                self.0.store(true, SeqCst);
            }
        }
        let w = Arc::new(W(AtomicBool::new(false)));
        (w.clone(), std::task::Waker::from(w))
    };
    assert!(std::future::Future::poll(
        waiter.as_mut(),
        &mut std::task::Context::from_waker(&waker)
    )
    .is_pending());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.cancel()));
    assert!(result.is_err(), "the panic continues after cancel");
    assert_eq!(count.load(SeqCst), 10, "every callback ran");
    assert!(flag.0.load(SeqCst), "the waiter woke");
    assert!(child.is_cancelled());
    assert!(t.is_cancelled());
    // The token still works.
    let again = Arc::new(AtomicBool::new(false));
    let a = again.clone();
    let _g = t.on_cancel(move |_| a.store(true, SeqCst));
    assert!(again.load(SeqCst));
    drop(guards);
}

#[test]
fn panicking_waker_does_not_stop_the_walk() {
    struct Boom;
    impl std::task::Wake for Boom {
        fn wake(self: Arc<Self>) {
            panic!("waker");
        }
    }
    let s = CancelSource::new();
    let t = s.token();
    let child = t.child();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let _g = child.token().on_cancel(move |_| r.store(true, SeqCst));
    let waker = std::task::Waker::from(Arc::new(Boom));
    let mut fut = Box::pin(t.cancelled());
    assert!(
        std::future::Future::poll(fut.as_mut(), &mut std::task::Context::from_waker(&waker))
            .is_pending()
    );
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.cancel())).is_err());
    assert!(ran.load(SeqCst));
    assert!(child.is_cancelled());
}

#[test]
fn disarm_races_with_cancel_from_many_threads() {
    // Miri explores thread schedules itself; a few rounds suffice there.
    for _ in 0..if cfg!(miri) { 5 } else { 200 } {
        let s = CancelSource::new();
        let count = Arc::new(AtomicUsize::new(0));
        let guards: Vec<_> = (0..8)
            .map(|_| {
                let c = count.clone();
                s.token().on_cancel(move |_| {
                    c.fetch_add(1, SeqCst);
                })
            })
            .collect();
        let token = s.token();
        let canceller = std::thread::spawn(move || s.cancel());
        let mut removed = 0;
        for g in guards {
            if g.disarm() {
                removed += 1;
            }
        }
        canceller.join().unwrap();
        assert!(token.is_cancelled());
        // Each callback either ran (and disarm said false) or was removed.
        assert_eq!(count.load(SeqCst) + removed, 8);
    }
}

#[test]
fn a_source_dropped_while_its_callback_panics_still_leaves_its_parent() {
    let parent = CancelSource::new();
    let child = parent.token().child();
    let guard = child.token().on_cancel(|_| panic!("boom"));
    let grandchild = child.token().child();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(child)));
    assert!(result.is_err(), "the panic continues out of the drop");
    assert!(
        grandchild.is_cancelled(),
        "the cancel reached the rest first"
    );
    drop(guard);
    // The dropped child left its parent's list: cancelling the parent does
    // not reach it (Miri reports a use after free otherwise).
    parent.cancel();
    drop(grandchild);
}
