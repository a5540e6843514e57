//! `EmbassyDriver` on embassy's host executor and embassy-time's `std` time
//! driver: outcomes only, never durations.
//!
//! Each test has its own `static` driver, whose run task goes on an executor
//! thread of its own (left running: embassy tasks are static and the driver's
//! never ends). Tokens are awaited in embassy tasks or waited for with the
//! blocking `CancelToken::wait`.
#![cfg(feature = "embassy")]

use std::sync::mpsc;
use std::time::Duration;

use cancel_token::{CancelSource, CancelToken, EmbassyDriver, Reason, TimerDriver};
use embassy_executor::{Executor, Spawner};

const HOUR: Duration = Duration::from_secs(3600);

#[embassy_executor::task(pool_size = 8)]
async fn run(driver: &'static EmbassyDriver) -> ! {
    driver.run().await
}

/// Awaits `token` in an embassy task and reports its reason.
#[embassy_executor::task(pool_size = 8)]
async fn await_cancel(token: CancelToken, report: mpsc::Sender<Reason>) {
    report.send(token.cancelled().await).unwrap();
}

/// Starts an executor thread running `driver`'s run task; returns its spawner.
fn start(driver: &'static EmbassyDriver) -> embassy_executor::SendSpawner {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
        executor.run(|spawner: Spawner| {
            spawner.spawn(run(driver).unwrap());
            tx.send(spawner.make_send()).unwrap();
        })
    });
    rx.recv().unwrap()
}

#[test]
fn a_timeout_fires_with_deadline_exceeded() {
    static D: EmbassyDriver = EmbassyDriver::new();
    let driver: &'static EmbassyDriver = &D;
    let spawner = start(driver);
    let root = CancelSource::new();
    let call = root
        .token()
        .child_with_timeout_on(driver, Duration::from_millis(20));
    let (tx, rx) = mpsc::channel();
    spawner.spawn(await_cancel(call.token(), tx).unwrap());
    assert_eq!(call.token().wait(), Reason::DeadlineExceeded);
    assert_eq!(rx.recv().unwrap(), Reason::DeadlineExceeded);
    assert!(!root.is_cancelled());
    assert_eq!(D.pending(), 0);
}

#[test]
fn cancel_and_drop_free_the_entry() {
    static D: EmbassyDriver = EmbassyDriver::new();
    let driver: &'static EmbassyDriver = &D;
    let root = CancelSource::new();
    let a = root.token().child_with_timeout_on(driver, HOUR);
    let b = root.token().child_with_timeout_on(driver, HOUR);
    let c = root.token().child_with_timeout_on(driver, HOUR);
    assert_eq!(D.pending(), 3);
    a.cancel();
    assert_eq!(a.reason(), Some(Reason::Cancelled));
    assert_eq!(D.pending(), 2);
    drop(b);
    assert_eq!(D.pending(), 1);
    root.cancel();
    assert_eq!(c.reason(), Some(Reason::Cancelled));
    assert_eq!(D.pending(), 0);
}

#[test]
fn an_earlier_deadline_armed_later_fires_first() {
    static D: EmbassyDriver = EmbassyDriver::new();
    let driver: &'static EmbassyDriver = &D;
    start(driver);
    let root = CancelSource::new();
    let late = root.token().child_with_timeout_on(driver, HOUR);
    // Let the run task go to sleep until the late deadline.
    std::thread::sleep(Duration::from_millis(20));
    let early = root
        .token()
        .child_with_timeout_on(driver, Duration::from_millis(20));
    assert_eq!(early.token().wait(), Reason::DeadlineExceeded);
    assert!(!late.is_cancelled());
    assert_eq!(D.pending(), 1);
}

#[test]
fn deadlines_armed_before_run_starts_fire() {
    static D: EmbassyDriver = EmbassyDriver::new();
    let driver: &'static EmbassyDriver = &D;
    let root = CancelSource::new();
    let call = root
        .token()
        .child_with_timeout_on(driver, Duration::from_millis(10));
    assert_eq!(driver.wake_at(1), Ok(()), "wake_at succeeds before run");
    assert!(!call.is_cancelled());
    start(driver);
    assert_eq!(call.token().wait(), Reason::DeadlineExceeded);
}

#[test]
fn a_deadline_past_its_instant_before_run_starts_stays_armed_and_fires_then() {
    static D: EmbassyDriver = EmbassyDriver::new();
    let driver: &'static EmbassyDriver = &D;
    let root = CancelSource::new();
    let call = root
        .token()
        .child_with_timeout_on(driver, Duration::from_millis(1));
    let at = call.token().deadline().unwrap().instant(&driver).unwrap();
    // Bounded: embassy-time's `std` clock passes 1 ms well within it.
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while embassy_time::Instant::now() <= at && std::time::Instant::now() < give_up {
        std::thread::yield_now();
    }
    assert!(embassy_time::Instant::now() > at);
    // Nothing fires it without `run`, and nothing loses it either.
    assert!(!call.is_cancelled());
    assert_eq!(D.pending(), 1);
    start(driver);
    assert_eq!(call.token().wait(), Reason::DeadlineExceeded);
    assert_eq!(D.pending(), 0);
}

#[test]
fn ten_thousand_timeouts_all_fire() {
    const N: usize = 10_000;
    static D: EmbassyDriver = EmbassyDriver::new();
    let driver: &'static EmbassyDriver = &D;
    start(driver);
    let root = CancelSource::new();
    let sources: Vec<_> = (0..N)
        .map(|i| {
            let ms = 1 + (i * 7919 % 100) as u64; // 1..=100 ms, shuffled
            root.token()
                .child_with_timeout_on(driver, Duration::from_millis(ms))
        })
        .collect();
    for s in &sources {
        assert_eq!(s.token().wait(), Reason::DeadlineExceeded);
    }
    assert_eq!(D.pending(), 0);
    assert!(!root.is_cancelled());
}

#[test]
fn ticks_are_embassy_ticks_rounded_up() {
    use embassy_time::{Instant, TICK_HZ};
    static D: EmbassyDriver = EmbassyDriver::new();
    let driver: &'static EmbassyDriver = &D;
    assert_eq!(TICK_HZ, 1_000_000, "embassy-time's std driver ticks in µs");
    for us in [0, 1, 999, 1_000, 123_456_789] {
        let d = Duration::from_micros(us);
        let embassy = embassy_time::Duration::from_micros(us).as_ticks();
        assert_eq!(driver.duration_ticks(d), embassy);
    }
    assert_eq!(driver.duration_ticks(Duration::from_nanos(1)), 1);
    assert_eq!(driver.duration_ticks(Duration::from_nanos(1_001)), 2);
    assert_eq!(driver.duration_ticks(Duration::new(5, 1)), 5_000_001);
    let near_max = Duration::new(u64::MAX / TICK_HZ, 999_999_999);
    assert_eq!(driver.duration_ticks(near_max), u64::MAX);
    assert_eq!(driver.duration_ticks(Duration::MAX), u64::MAX);
    let at = Instant::from_ticks(77);
    assert_eq!(driver.ticks_at(at), 77);
    assert_eq!(driver.instant_at(77), at);
}

#[test]
fn a_static_driver_and_its_auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<EmbassyDriver>();
    static D: EmbassyDriver = EmbassyDriver::new();
    assert_eq!(D.pending(), 0);
    assert!(format!("{D:?}").starts_with("EmbassyDriver"));
}

#[test]
fn a_deadline_already_due_cancels_the_child_as_it_is_made() {
    static D: EmbassyDriver = EmbassyDriver::new();
    let driver: &'static EmbassyDriver = &D;
    let root = CancelSource::new();
    let zero = root.token().child_with_timeout_on(driver, Duration::ZERO);
    assert_eq!(zero.reason(), Some(Reason::DeadlineExceeded));
    let now = root.token().child_with_deadline_on(driver, driver.now());
    assert_eq!(now.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(driver.pending(), 0);
    assert!(!root.is_cancelled());
}

/// A `PinnedDeadline` takes an `EmbassyDriver` (any driver whose timers are in
/// a `static`), fired by its run task.
#[test]
fn a_pinned_deadline_on_embassy() {
    use cancel_token::{PinnedDeadline, StaticSource};
    use std::pin::pin;
    static D: EmbassyDriver = EmbassyDriver::new();
    static ROOT: StaticSource = StaticSource::new();
    let _spawner = start(&D);
    let job = pin!(PinnedDeadline::with_timeout(
        ROOT.token_ref(),
        &D,
        Duration::from_millis(20)
    ));
    let job = job.into_ref();
    let started = std::time::Instant::now();
    while !job.is_cancelled() {
        assert!(started.elapsed() < Duration::from_secs(60), "never fired");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(job.token().reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(D.pending(), 0);
    let far = pin!(PinnedDeadline::with_timeout(ROOT.token_ref(), &D, HOUR));
    assert!(!far.as_ref().is_cancelled());
    assert_eq!(D.pending(), 1);
    far.as_ref().cancel();
    assert_eq!(D.pending(), 0);
}

/// A `PinnedDeadline` already due is cancelled as it is first used, though
/// no run task has advanced the driver's timers to its tick.
#[test]
fn a_pinned_deadline_already_due_is_cancelled_at_first_use() {
    use cancel_token::{PinnedDeadline, StaticSource};
    use std::pin::pin;
    static D: EmbassyDriver = EmbassyDriver::new();
    static ROOT: StaticSource = StaticSource::new();
    std::thread::sleep(Duration::from_millis(2));
    let zero = pin!(PinnedDeadline::with_timeout(
        ROOT.token_ref(),
        &D,
        Duration::ZERO
    ));
    assert_eq!(
        zero.as_ref().token().reason(),
        Some(Reason::DeadlineExceeded)
    );
    let now = pin!(PinnedDeadline::new(ROOT.token_ref(), &D, (&D).now()));
    assert_eq!(
        now.as_ref().token().reason(),
        Some(Reason::DeadlineExceeded)
    );
    assert_eq!(D.pending(), 0);
}
