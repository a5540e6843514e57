//! `AsyncIoDriver` on async-io's reactor, in `async_io::block_on` (which
//! `smol::block_on` is) or with no executor: outcomes only, never durations.
#![cfg(feature = "async-io")]

mod support;

use std::sync::mpsc;
use std::time::Duration;

use cancel_token::__private::async_io_state;
use cancel_token::{AsyncIoDriver, CancelSource, CancelToken, Reason, TimerDriver};
use support::{wait_until, PATIENCE};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn a_timeout_fires_with_deadline_exceeded() {
    let driver = AsyncIoDriver::new();
    let root = CancelSource::new();
    let call = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(20));
    let step = call.token().child();
    let reason = async_io::block_on(step.token().cancelled());
    assert_eq!(reason, Reason::DeadlineExceeded);
    assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
    assert!(!root.is_cancelled());
    assert_eq!(driver.pending(), 0);
}

#[test]
fn work_outlasting_its_deadline_is_cut_short() {
    let driver = AsyncIoDriver::new();
    let root = CancelSource::new();
    let at = driver.now() + Duration::from_millis(30);
    let call = root.token().child_with_deadline_on(&driver, at);
    let work = async_io::Timer::after(HOUR);
    let outcome = async_io::block_on(call.token().run_until_cancelled(work));
    assert_eq!(outcome, Err(Reason::DeadlineExceeded));
}

#[test]
fn a_blocked_thread_is_released_by_the_deadline() {
    let driver = AsyncIoDriver::new();
    let root = CancelSource::new();
    let call = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(20));
    let token = call.token();
    let waiter = std::thread::spawn(move || token.wait());
    assert_eq!(waiter.join().unwrap(), Reason::DeadlineExceeded);
}

#[test]
fn cancel_and_drop_free_the_entry() {
    let driver = AsyncIoDriver::new();
    let root = CancelSource::new();
    let a = root.token().child_with_timeout_on(&driver, HOUR);
    let b = root.token().child_with_timeout_on(&driver, HOUR);
    let c = root.token().child_with_timeout_on(&driver, HOUR);
    assert_eq!(driver.pending(), 3);
    a.cancel();
    assert_eq!(a.reason(), Some(Reason::Cancelled));
    assert_eq!(driver.pending(), 2);
    drop(b);
    assert_eq!(driver.pending(), 1);
    // Cancelling an ancestor disarms the descendant's deadline too.
    root.cancel();
    assert_eq!(c.reason(), Some(Reason::Cancelled));
    assert_eq!(driver.pending(), 0);
}

#[test]
fn an_earlier_deadline_armed_later_fires_first() {
    let driver = AsyncIoDriver::new();
    let root = CancelSource::new();
    let late = root.token().child_with_timeout_on(&driver, HOUR);
    async_io::block_on(async {
        // Let the driver's timer be set for the late deadline.
        async_io::Timer::after(Duration::from_millis(20)).await;
        let early = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_millis(20));
        assert_eq!(early.token().cancelled().await, Reason::DeadlineExceeded);
    });
    assert!(!late.is_cancelled());
    assert_eq!(driver.pending(), 1);
}

#[test]
fn ten_thousand_timeouts_all_fire() {
    const N: usize = 10_000;
    let driver = AsyncIoDriver::new();
    let root = CancelSource::new();
    let (fired, callbacks) = mpsc::channel();
    let mut sources = Vec::with_capacity(N);
    let mut guards = Vec::with_capacity(N);
    for i in 0..N {
        let ms = 1 + (i * 7919 % 100) as u64; // 1..=100 ms, shuffled
        let s = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_millis(ms));
        let fired = fired.clone();
        guards.push(s.token().on_cancel(move |reason| {
            fired.send(reason).unwrap();
        }));
        sources.push(s);
    }
    async_io::block_on(async {
        for s in &sources {
            assert_eq!(s.token().cancelled().await, Reason::DeadlineExceeded);
        }
    });
    // A waiter may see its token cancelled before the token's callbacks have
    // run on the driver's thread: collect every callback.
    for _ in 0..N {
        let reason = callbacks.recv_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(reason, Reason::DeadlineExceeded);
    }
    assert_eq!(driver.pending(), 0);
    assert!(!root.is_cancelled());
}

#[test]
fn a_panicking_callback_does_not_stop_the_driver() {
    let driver = AsyncIoDriver::new();
    let root = CancelSource::new();
    let first = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(5));
    let _g = first
        .token()
        .on_cancel(|_| panic!("expected panic: a callback of an expiring deadline"));
    let second = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(30));
    assert_eq!(
        async_io::block_on(second.token().cancelled()),
        Reason::DeadlineExceeded
    );
    assert_eq!(first.reason(), Some(Reason::DeadlineExceeded));
}

#[test]
fn ticks_round_up_and_saturate() {
    let driver = AsyncIoDriver::default();
    assert_eq!(driver.duration_ticks(Duration::ZERO), 0);
    assert_eq!(driver.duration_ticks(Duration::from_nanos(1)), 1);
    assert_eq!(driver.duration_ticks(Duration::from_micros(1500)), 2);
    assert_eq!(driver.duration_ticks(Duration::from_millis(7)), 7);
    assert_eq!(driver.duration_ticks(Duration::MAX), u64::MAX);
    let start = driver.instant_at(0);
    assert_eq!(driver.ticks_at(start), 0);
    assert_eq!(driver.ticks_at(start + Duration::from_nanos(1)), 1);
    assert_eq!(driver.ticks_at(driver.instant_at(42)), 42);
    // An instant before the start is tick 0; a tick past `Instant` is far away.
    assert_eq!(driver.ticks_at(start - Duration::from_millis(5)), 0);
    assert!(driver.instant_at(u64::MAX) > start + Duration::from_secs(86_400 * 365));
}

#[test]
fn auto_traits_and_debug() {
    fn send_sync<T: Send + Sync>() {}
    fn clone<T: Clone + 'static>() {}
    send_sync::<AsyncIoDriver>();
    clone::<AsyncIoDriver>();
    let driver = AsyncIoDriver::new();
    assert!(format!("{driver:?}").starts_with("AsyncIoDriver"));
}

/// The helper of the issue: a driver made for one call and dropped at once.
fn with_timeout(parent: &CancelToken, d: Duration) -> CancelSource {
    let driver = AsyncIoDriver::new();
    parent.child_with_timeout_on(&driver, d)
}

/// Waits until the driver's state is freed, for up to `PATIENCE`. Each turn
/// sets an async-io timer of its own, which wakes the reactor, so that it
/// drops the waker of a timer the driver let go of.
fn freed(state: &cancel_token::__private::SleeperProbe) -> bool {
    wait_until(
        || !state.is_alive(),
        || {
            async_io::block_on(async_io::Timer::after(Duration::from_millis(1)));
        },
    )
}

#[test]
fn a_deadline_armed_through_a_dropped_driver_fires_with_no_executor() {
    let root = CancelSource::new();
    let call = with_timeout(&root.token(), Duration::from_millis(20));
    assert!(call.token().deadline().is_some());
    // A plain thread waits: async-io's own thread drives the reactor.
    assert_eq!(
        call.token().wait_timeout(PATIENCE),
        Some(Reason::DeadlineExceeded)
    );
    assert!(!root.is_cancelled());
}

#[test]
fn a_deadline_armed_through_a_dropped_driver_fires_in_block_on() {
    let root = CancelSource::new();
    let call = with_timeout(&root.token(), Duration::from_millis(20));
    let slow = async_io::Timer::after(HOUR);
    let outcome = async_io::block_on(call.token().run_until_cancelled(slow));
    assert_eq!(outcome, Err(Reason::DeadlineExceeded));
}

#[test]
fn dropping_the_last_handle_keeps_armed_deadlines_firing() {
    let root = CancelSource::new();
    let driver = AsyncIoDriver::new();
    let state = async_io_state(&driver);
    let clone = driver.clone();
    let long = root.token().child_with_timeout_on(&driver, HOUR);
    let short = root
        .token()
        .child_with_timeout_on(&clone, Duration::from_millis(10));
    drop(driver);
    drop(clone);
    assert_eq!(
        short.token().wait_timeout(PATIENCE),
        Some(Reason::DeadlineExceeded)
    );
    assert!(state.is_alive(), "let go with a deadline armed");
    assert!(!long.is_cancelled());
    // Its disarm, an hour early, lets the driver go.
    drop(long);
    assert!(
        freed(&state),
        "the driver outlived its last deadline's disarm"
    );
}

#[test]
fn the_driver_is_freed_once_its_last_deadline_fires_with_no_handle_left() {
    let root = CancelSource::new();
    let driver = AsyncIoDriver::new();
    let state = async_io_state(&driver);
    let call = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(5));
    drop(driver);
    assert_eq!(
        call.token().wait_timeout(PATIENCE),
        Some(Reason::DeadlineExceeded)
    );
    assert!(freed(&state), "the driver outlived its last deadline");
}

#[test]
fn a_driver_per_call_is_freed_when_the_call_ends_early() {
    let root = CancelSource::new();
    let states: Vec<_> = (0..100)
        .map(|i| {
            let driver = AsyncIoDriver::new();
            let state = async_io_state(&driver);
            let call = root.token().child_with_timeout_on(&driver, HOUR);
            drop(driver);
            if i % 2 == 0 {
                call.cancel();
            } else {
                drop(call);
            }
            state
        })
        .collect();
    assert!(states.iter().all(freed), "a driver outlived its call");
}

#[test]
fn the_driver_is_freed_with_its_last_handle_when_nothing_is_armed() {
    let driver = AsyncIoDriver::new();
    let state = async_io_state(&driver);
    let root = CancelSource::new();
    // Set its timer once, so that async-io holds its waker for a while.
    let call = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(1));
    assert_eq!(
        call.token().wait_timeout(PATIENCE),
        Some(Reason::DeadlineExceeded)
    );
    drop(driver);
    assert!(freed(&state), "the driver outlived its last handle");
}

#[test]
fn shorter_and_shorter_deadlines_from_many_threads() {
    // Each earlier deadline takes a turn on its arming thread, racing the
    // others' and the reactor's: every one still fires.
    let driver = AsyncIoDriver::new();
    let root = CancelSource::new();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (driver, root) = (&driver, &root);
            s.spawn(move || {
                for ms in (1..=30u64).rev() {
                    let job = root
                        .token()
                        .child_with_timeout_on(driver, Duration::from_millis(ms + t));
                    if ms % 2 == 0 {
                        assert_eq!(
                            job.token().wait_timeout(PATIENCE),
                            Some(Reason::DeadlineExceeded)
                        );
                    }
                }
            });
        }
    });
    assert_eq!(driver.pending(), 0);
}

#[test]
fn a_deadline_already_due_cancels_the_child_as_it_is_made() {
    let driver = AsyncIoDriver::new();
    let root = CancelSource::new();
    let zero = root.token().child_with_timeout_on(&driver, Duration::ZERO);
    assert_eq!(zero.reason(), Some(Reason::DeadlineExceeded));
    let now = std::time::Instant::now();
    let now = root.token().child_with_deadline_on(&driver, now);
    assert_eq!(now.reason(), Some(Reason::DeadlineExceeded));
    let past = std::time::Instant::now() - Duration::from_secs(1);
    let past = root.token().child_with_deadline_on(&driver, past);
    assert_eq!(past.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(driver.pending(), 0);
    assert!(!root.is_cancelled());
}
