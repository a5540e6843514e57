//! `AsyncIoDriver` on smol's executor: outcomes only, never durations.
#![cfg(feature = "async-io")]

use std::sync::mpsc;
use std::time::Duration;

use cancel_token::{AsyncIoDriver, AsyncIoRun, CancelSource, Reason, TimerDriver};

const HOUR: Duration = Duration::from_secs(3600);

/// A driver whose run future is spawned on smol's global executor.
fn spawned() -> AsyncIoDriver {
    let (driver, run) = AsyncIoDriver::new();
    smol::spawn(run).detach();
    driver
}

#[test]
fn a_timeout_fires_with_deadline_exceeded() {
    let driver = spawned();
    let root = CancelSource::new();
    let call = root
        .token()
        .child_with_timeout(&driver, Duration::from_millis(20));
    let step = call.token().child();
    let reason = smol::block_on(step.token().cancelled());
    assert_eq!(reason, Reason::DeadlineExceeded);
    assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
    assert!(!root.is_cancelled());
    assert_eq!(driver.pending(), 0);
    assert!(driver.is_running());
}

#[test]
fn work_outlasting_its_deadline_is_cut_short() {
    let driver = spawned();
    let root = CancelSource::new();
    let at = driver.now() + Duration::from_millis(30);
    let call = root.token().child_with_deadline(&driver, at);
    let work = smol::Timer::after(HOUR);
    let outcome = smol::block_on(call.token().run_until_cancelled(work));
    assert_eq!(outcome, Err(Reason::DeadlineExceeded));
}

#[test]
fn a_blocked_thread_is_released_by_the_deadline() {
    let driver = spawned();
    let root = CancelSource::new();
    let call = root
        .token()
        .child_with_timeout(&driver, Duration::from_millis(20));
    let token = call.token();
    let waiter = std::thread::spawn(move || token.wait());
    assert_eq!(waiter.join().unwrap(), Reason::DeadlineExceeded);
}

#[test]
fn cancel_and_drop_free_the_entry() {
    let driver = spawned();
    let root = CancelSource::new();
    let a = root.token().child_with_timeout(&driver, HOUR);
    let b = root.token().child_with_timeout(&driver, HOUR);
    let c = root.token().child_with_timeout(&driver, HOUR);
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
    let driver = spawned();
    let root = CancelSource::new();
    let late = root.token().child_with_timeout(&driver, HOUR);
    smol::block_on(async {
        // Let the run future go to sleep until the late deadline.
        smol::Timer::after(Duration::from_millis(20)).await;
        let early = root
            .token()
            .child_with_timeout(&driver, Duration::from_millis(20));
        assert_eq!(early.token().cancelled().await, Reason::DeadlineExceeded);
    });
    assert!(!late.is_cancelled());
    assert_eq!(driver.pending(), 1);
}

#[test]
fn deadlines_armed_before_the_run_future_starts_fire() {
    let (driver, run) = AsyncIoDriver::new();
    let root = CancelSource::new();
    let call = root
        .token()
        .child_with_timeout(&driver, Duration::from_millis(10));
    assert!(!call.is_cancelled());
    smol::spawn(run).detach();
    assert_eq!(
        smol::block_on(call.token().cancelled()),
        Reason::DeadlineExceeded
    );
}

#[test]
fn a_dropped_run_future_exceeds_deadlines_at_once() {
    let (driver, run) = AsyncIoDriver::new();
    let root = CancelSource::new();
    let armed = root.token().child_with_timeout(&driver, HOUR);
    assert!(driver.is_running());
    drop(run);
    assert!(!driver.is_running());
    // Armed before: expired when the run future went away.
    assert_eq!(armed.reason(), Some(Reason::DeadlineExceeded));
    // Armed after, earlier or later than any before: expired as armed.
    let later = root.token().child_with_timeout(&driver, HOUR * 2);
    let earlier = root
        .token()
        .child_with_timeout(&driver, Duration::from_millis(1));
    assert_eq!(later.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(earlier.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(driver.pending(), 0);
    assert!(!root.is_cancelled());
}

#[test]
fn a_run_future_never_spawned_and_dropped_stops_the_driver() {
    let (driver, run) = AsyncIoDriver::new();
    drop(run);
    let root = CancelSource::new();
    let call = root.token().child_with_timeout(&driver, HOUR);
    assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(
        driver.wake_at(1),
        Err(cancel_token::DriverStopped),
        "wake_at reports the stop"
    );
}

#[test]
fn ten_thousand_timeouts_all_fire() {
    const N: usize = 10_000;
    let driver = spawned();
    let root = CancelSource::new();
    let (fired, callbacks) = mpsc::channel();
    let mut sources = Vec::with_capacity(N);
    let mut guards = Vec::with_capacity(N);
    for i in 0..N {
        let ms = 1 + (i * 7919 % 100) as u64; // 1..=100 ms, shuffled
        let s = root
            .token()
            .child_with_timeout(&driver, Duration::from_millis(ms));
        let fired = fired.clone();
        guards.push(s.token().on_cancel(move |reason| {
            fired.send(reason).unwrap();
        }));
        sources.push(s);
    }
    smol::block_on(async {
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
fn the_run_future_ends_with_the_last_handle() {
    let (driver, run) = AsyncIoDriver::new();
    let task = smol::spawn(run);
    let clone = driver.clone();
    drop(driver);
    // A clone keeps the driver going.
    let root = CancelSource::new();
    let call = root
        .token()
        .child_with_timeout(&clone, Duration::from_millis(10));
    assert_eq!(
        smol::block_on(call.token().cancelled()),
        Reason::DeadlineExceeded
    );
    // The last handle ends it; a deadline left armed expires, as nothing
    // can fire it any more.
    let left = root.token().child_with_timeout(&clone, HOUR);
    drop(clone);
    smol::block_on(task);
    assert_eq!(left.reason(), Some(Reason::DeadlineExceeded));
}

#[test]
fn a_panicking_callback_does_not_stop_the_driver() {
    let driver = spawned();
    let root = CancelSource::new();
    let first = root
        .token()
        .child_with_timeout(&driver, Duration::from_millis(5));
    let _g = first
        .token()
        .on_cancel(|_| panic!("expected panic: a callback of an expiring deadline"));
    let second = root
        .token()
        .child_with_timeout(&driver, Duration::from_millis(30));
    assert_eq!(
        smol::block_on(second.token().cancelled()),
        Reason::DeadlineExceeded
    );
    assert_eq!(first.reason(), Some(Reason::DeadlineExceeded));
}

#[test]
fn ticks_round_up_and_saturate() {
    let (driver, _run) = AsyncIoDriver::new();
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
    fn send<T: Send>() {}
    send_sync::<AsyncIoDriver>();
    send::<AsyncIoRun>();
    let (driver, run) = AsyncIoDriver::new();
    assert!(format!("{driver:?}").starts_with("AsyncIoDriver"));
    assert!(format!("{run:?}").starts_with("AsyncIoRun"));
}
