//! `ThreadDriver`: firing on real time (outcomes and ordering only, never
//! durations), disarming, re-arming, dropping the driver, the thread's
//! lifetime, many deadlines.
#![cfg(feature = "std")]

mod support;

use std::thread;
use std::time::{Duration, Instant};

use cancel_token::__private::thread_sleeper;
use cancel_token::{CancelSource, CancelToken, Reason, ThreadDriver, TimerDriver};
use support::{eventually, PATIENCE};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn fires_with_deadline_exceeded() {
    let driver = ThreadDriver::new();
    let root = CancelSource::new();
    let job = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(20));
    let step = job.token().child();
    assert_eq!(step.token().wait(), Reason::DeadlineExceeded);
    assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    assert!(!root.is_cancelled());
    assert_eq!(driver.pending(), 0);
}

#[test]
fn never_fires_before_its_instant() {
    let driver = ThreadDriver::new();
    let root = CancelSource::new();
    for ms in [1, 5, 20] {
        let at = Instant::now() + Duration::from_millis(ms);
        let job = root.token().child_with_deadline_on(&driver, at);
        assert_eq!(job.token().wait(), Reason::DeadlineExceeded);
        assert!(Instant::now() >= at, "fired before its instant");
    }
}

#[test]
fn cancelling_or_dropping_frees_the_entry() {
    let driver = ThreadDriver::new();
    let root = CancelSource::new();
    let a = root.token().child_with_timeout_on(&driver, HOUR);
    let b = root.token().child_with_timeout_on(&driver, HOUR);
    assert_eq!(driver.pending(), 2);
    a.cancel();
    assert_eq!(driver.pending(), 1);
    drop(b);
    assert_eq!(driver.pending(), 0);
    assert_eq!(a.reason(), Some(Reason::Cancelled));
}

#[test]
fn an_earlier_deadline_armed_after_a_later_one_fires_first() {
    let driver = ThreadDriver::new();
    let root = CancelSource::new();
    for round in 0..20 {
        let late = root.token().child_with_timeout_on(&driver, HOUR);
        // Give the thread a moment to go to sleep on the late deadline.
        thread::sleep(Duration::from_millis(round % 3));
        let early = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_millis(5));
        assert_eq!(early.token().wait(), Reason::DeadlineExceeded);
        assert!(!late.is_cancelled());
        assert_eq!(driver.pending(), 1);
    }
    assert_eq!(driver.pending(), 0);
}

#[test]
fn shorter_and_shorter_deadlines_from_many_threads() {
    let driver = ThreadDriver::new();
    let root = CancelSource::new();
    thread::scope(|s| {
        for t in 0..4u64 {
            let (driver, root) = (&driver, &root);
            s.spawn(move || {
                for ms in (1..=30u64).rev() {
                    let job = root
                        .token()
                        .child_with_timeout_on(driver, Duration::from_millis(ms + t));
                    if ms % 2 == 0 {
                        assert_eq!(job.token().wait(), Reason::DeadlineExceeded);
                    }
                }
            });
        }
    });
    assert_eq!(driver.pending(), 0);
}

#[test]
fn dropping_the_driver_with_armed_deadlines_is_safe() {
    let root = CancelSource::new();
    let driver = ThreadDriver::new();
    let clone = driver.clone();
    let a = root.token().child_with_timeout_on(&driver, HOUR);
    let b = root.token().child_with_timeout_on(&clone, HOUR);
    drop(driver);
    let c = root
        .token()
        .child_with_timeout_on(&clone, Duration::from_millis(5));
    assert_eq!(
        c.token().wait(),
        Reason::DeadlineExceeded,
        "a clone keeps it running"
    );
    drop(clone);
    // The tokens still work; their deadlines stay armed.
    assert!(!a.is_cancelled() && !b.is_cancelled());
    let step = a.token().child();
    let next = ThreadDriver::new();
    let timed = a
        .token()
        .child_with_timeout_on(&next, Duration::from_millis(5));
    assert_eq!(timed.token().wait(), Reason::DeadlineExceeded);
    a.cancel();
    assert_eq!(step.reason(), Some(Reason::Cancelled));
    drop(b);
    root.cancel();
}

#[test]
fn many_drivers_come_and_go() {
    let root = CancelSource::new();
    // Miri: each driver is a thread, slow to emulate; a few show the same.
    for _ in 0..if cfg!(miri) { 5 } else { 200 } {
        let driver = ThreadDriver::new();
        let _armed = root.token().child_with_timeout_on(&driver, HOUR);
        let job = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_millis(1));
        assert_eq!(job.token().wait(), Reason::DeadlineExceeded);
    }
}

#[test]
fn ten_thousand_concurrent_timeouts_all_fire() {
    // Miri: 10k timeouts take it most of an hour; 200 exercise the same paths.
    let n: u64 = if cfg!(miri) { 200 } else { 10_000 };
    let driver = ThreadDriver::new();
    let root = CancelSource::new();
    let jobs: Vec<_> = (0..n)
        .map(|i| {
            let ms = 1 + (i * 7919) % 50;
            root.token()
                .child_with_timeout_on(&driver, Duration::from_millis(ms))
        })
        .collect();
    let mut waiters = Vec::new();
    for chunk in jobs.chunks(n as usize / 4) {
        let tokens: Vec<_> = chunk.iter().map(|j| j.token()).collect();
        waiters.push(thread::spawn(move || {
            tokens.iter().map(|t| t.wait()).collect::<Vec<_>>()
        }));
    }
    let mut fired = 0;
    for waiter in waiters {
        for reason in waiter.join().unwrap() {
            assert_eq!(reason, Reason::DeadlineExceeded);
            fired += 1;
        }
    }
    assert_eq!(fired, n);
    assert_eq!(driver.pending(), 0);
}

#[test]
fn a_panicking_callback_does_not_stop_the_driver() {
    let driver = ThreadDriver::new();
    let root = CancelSource::new();
    // The callback must be registered before its deadline fires, or it runs
    // (and panics) on this thread, as it may when this thread is slow (under
    // Miri): then again with a longer deadline.
    for ms in [1, 10, 100, 1000, 10_000] {
        let bad = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_millis(ms));
        let registered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            bad.token()
                .on_cancel(|_| panic!("a callback panics on the timer thread"))
        }));
        let Ok(_guard) = registered else { continue };
        assert_eq!(bad.token().wait(), Reason::DeadlineExceeded);
        let next = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_millis(2));
        assert_eq!(next.token().wait(), Reason::DeadlineExceeded);
        return;
    }
    panic!("every deadline fired before its callback was registered");
}

#[test]
fn tick_conversions_round_up_and_saturate() {
    let driver = ThreadDriver::default();
    let start = driver.instant_at(0);
    assert_eq!(driver.ticks_at(start), 0);
    assert_eq!(driver.ticks_at(start - Duration::from_millis(1)), 0);
    assert_eq!(driver.ticks_at(start + Duration::from_micros(1)), 1);
    assert_eq!(driver.duration_ticks(Duration::MAX), u64::MAX);
    let _ = driver.instant_at(u64::MAX);
    assert!(format!("{driver:?}").contains("ThreadDriver"));
}

#[test]
fn the_driver_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<ThreadDriver>();
}

#[test]
fn the_global_driver_is_one_driver_that_frees_and_fires() {
    let here = ThreadDriver::global();
    let there = thread::spawn(ThreadDriver::global).join().unwrap();
    assert!(std::ptr::eq(here, there), "global() made a second driver");

    // The only test of this binary on the global driver: its counts are ours.
    let root = CancelSource::new();
    let long = root.token().child_with_timeout_on(here, HOUR);
    assert_eq!(here.pending(), 1);
    drop(long);
    assert_eq!(here.pending(), 0);

    let short = root
        .token()
        .child_with_timeout_on(ThreadDriver::global(), Duration::from_millis(5));
    assert_eq!(short.token().wait(), Reason::DeadlineExceeded);
    assert_eq!(here.pending(), 0);
    assert!(!root.is_cancelled());
}

#[test]
fn a_deadline_already_due_cancels_the_child_as_it_is_made() {
    let driver = ThreadDriver::new();
    let root = CancelSource::new();
    let zero = root.token().child_with_timeout_on(&driver, Duration::ZERO);
    assert_eq!(zero.reason(), Some(Reason::DeadlineExceeded));
    let now = root.token().child_with_deadline_on(&driver, Instant::now());
    assert_eq!(now.reason(), Some(Reason::DeadlineExceeded));
    let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap();
    let past = root.token().child_with_deadline_on(&driver, past);
    assert_eq!(past.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(driver.pending(), 0);
    assert!(!root.is_cancelled());
}

/// The helper of the issue: a driver made for one call and dropped at once.
fn with_timeout(parent: &CancelToken, d: Duration) -> CancelSource {
    let driver = ThreadDriver::new();
    parent.child_with_timeout_on(&driver, d)
}

#[test]
fn a_deadline_armed_through_a_dropped_driver_fires() {
    let root = CancelSource::new();
    let call = with_timeout(&root.token(), Duration::from_millis(20));
    assert!(call.token().deadline().is_some());
    assert_eq!(
        call.token().wait_timeout(PATIENCE),
        Some(Reason::DeadlineExceeded)
    );
    assert!(!root.is_cancelled());
}

#[test]
fn the_thread_lives_while_a_deadline_is_armed_and_ends_at_its_disarm() {
    let root = CancelSource::new();
    let driver = ThreadDriver::new();
    let thread = thread_sleeper(&driver);
    let long = root.token().child_with_timeout_on(&driver, HOUR);
    let short = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(5));
    drop(driver);
    assert_eq!(
        short.token().wait_timeout(PATIENCE),
        Some(Reason::DeadlineExceeded)
    );
    assert!(thread.is_alive(), "ended with a deadline armed");
    drop(long);
    eventually("the thread outlived its last deadline's disarm", || {
        !thread.is_alive()
    });
}

#[test]
fn the_thread_ends_when_its_last_deadline_fires_with_no_handle_left() {
    let root = CancelSource::new();
    let driver = ThreadDriver::new();
    let thread = thread_sleeper(&driver);
    let call = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(5));
    drop(driver);
    assert_eq!(
        call.token().wait_timeout(PATIENCE),
        Some(Reason::DeadlineExceeded)
    );
    eventually("the thread outlived its last deadline", || {
        !thread.is_alive()
    });
}

#[test]
fn the_thread_ends_with_the_last_handle_when_nothing_is_armed() {
    let driver = ThreadDriver::new();
    let thread = thread_sleeper(&driver);
    let clone = driver.clone();
    drop(driver);
    assert!(thread.is_alive(), "a clone keeps it");
    drop(clone);
    eventually("the thread outlived its last handle", || !thread.is_alive());
}

#[test]
fn a_driver_per_call_leaves_no_thread_behind() {
    let root = CancelSource::new();
    // Miri: each driver is a thread, slow to emulate; a few show the same.
    let threads: Vec<_> = (0..if cfg!(miri) { 4 } else { 100 })
        .map(|i| {
            let driver = ThreadDriver::new();
            let thread = thread_sleeper(&driver);
            let call = root.token().child_with_timeout_on(&driver, HOUR);
            drop(driver);
            // The call ends early: both ways of disarming.
            if i % 2 == 0 {
                call.cancel();
            } else {
                drop(call);
            }
            thread
        })
        .collect();
    eventually("a driver's thread outlived its call", || {
        threads.iter().all(|t| !t.is_alive())
    });
}

/// A zero timeout below an earlier deadline takes that deadline (as Go's
/// `WithDeadline` does) and is cancelled as it is made, whether or not the
/// driver's thread has fired the earlier one yet.
#[test]
fn a_due_timeout_below_an_earlier_deadline_takes_it() {
    let driver = ThreadDriver::new();
    let root = CancelSource::new();
    let request = root.child_with_timeout_on(&driver, Duration::from_millis(1));
    thread::sleep(Duration::from_millis(2));
    let zero = request.child_with_timeout_on(&driver, Duration::ZERO);
    assert_eq!(zero.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(zero.deadline(), request.deadline());
}
