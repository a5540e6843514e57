//! `TokioDriver`: firing on tokio's (paused) clock, disarming, re-arming,
//! dropping the driver, the task's lifetime, runtime shutdown, many deadlines.
#![cfg(feature = "tokio")]

mod support;

use std::time::Duration;

use cancel_token::{CancelSource, CancelToken, Reason, TimerDriver, TokioDriver};
use support::PATIENCE;
use tokio::runtime::Handle;

const MIN: Duration = Duration::from_secs(60);

/// Lets every ready task (the driver's included) run.
async fn run_others() {
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_ten_minute_timeout_fires_when_the_paused_clock_gets_there() {
    let driver = TokioDriver::new();
    let root = CancelSource::new();
    let job = root.token().child_with_timeout_on(&driver, 10 * MIN);
    run_others().await;
    tokio::time::advance(10 * MIN - Duration::from_millis(1)).await;
    run_others().await;
    assert!(!job.is_cancelled(), "fired early");
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(job.token().cancelled().await, Reason::DeadlineExceeded);
    assert!(!root.is_cancelled());
    assert_eq!(driver.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_instant_on_the_paused_clock() {
    let driver = TokioDriver::new();
    let root = CancelSource::new();
    let at = tokio::time::Instant::now() + Duration::from_millis(1500);
    let job = root.token().child_with_deadline_on(&driver, at);
    let d = job.token().deadline().unwrap();
    assert_eq!(d.instant(&driver), Some(at));
    assert_eq!(job.token().cancelled().await, Reason::DeadlineExceeded);
    assert!(
        tokio::time::Instant::now() >= at,
        "fired before its instant"
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_or_dropping_frees_the_entry() {
    let driver = TokioDriver::new();
    let root = CancelSource::new();
    let a = root.token().child_with_timeout_on(&driver, MIN);
    let b = root.token().child_with_timeout_on(&driver, MIN);
    assert_eq!(driver.pending(), 2);
    a.cancel();
    assert_eq!(driver.pending(), 1);
    assert_eq!(a.reason(), Some(Reason::Cancelled));
    drop(b);
    assert_eq!(driver.pending(), 0);
    tokio::time::advance(2 * MIN).await;
    run_others().await;
    assert_eq!(a.reason(), Some(Reason::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn an_earlier_deadline_armed_after_a_later_one_fires_first() {
    let driver = TokioDriver::new();
    let root = CancelSource::new();
    let start = tokio::time::Instant::now();
    let late = root.token().child_with_timeout_on(&driver, 10 * MIN);
    // The task now sleeps until the late deadline.
    run_others().await;
    let early = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_secs(1));
    // Idle: the paused clock jumps to the next timer, which must be the early one.
    assert_eq!(early.token().cancelled().await, Reason::DeadlineExceeded);
    assert!(
        !late.is_cancelled(),
        "the early deadline waited for the late one"
    );
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(driver.pending(), 1);
    assert_eq!(late.token().cancelled().await, Reason::DeadlineExceeded);
    assert!(start.elapsed() >= 10 * MIN);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_driver_with_armed_deadlines_keeps_them_firing() {
    let alive = || Handle::current().metrics().num_alive_tasks();
    let before = alive();
    let root = CancelSource::new();
    let driver = TokioDriver::new();
    let other = driver.clone();
    let a = root.token().child_with_timeout_on(&driver, MIN);
    let b = root.token().child_with_timeout_on(&other, 2 * MIN);
    run_others().await;
    assert_eq!(alive(), before + 1);
    drop(driver);
    drop(other);
    run_others().await;
    assert_eq!(alive(), before + 1, "armed deadlines keep the task");

    assert_eq!(a.token().cancelled().await, Reason::DeadlineExceeded);
    assert!(!b.is_cancelled());
    run_others().await;
    assert_eq!(alive(), before + 1, "one deadline is still armed");
    assert_eq!(b.token().cancelled().await, Reason::DeadlineExceeded);
    run_others().await;
    assert_eq!(alive(), before, "the task ended with its last deadline");
    assert!(!root.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn the_task_ends_at_the_last_disarm_with_no_handle_left() {
    let alive = || Handle::current().metrics().num_alive_tasks();
    let before = alive();
    let root = CancelSource::new();
    let driver = TokioDriver::new();
    let cancelled = root.token().child_with_timeout_on(&driver, 10 * MIN);
    let dropped = root.token().child_with_timeout_on(&driver, 60 * MIN);
    drop(driver);
    run_others().await;
    assert_eq!(alive(), before + 1);
    cancelled.cancel();
    run_others().await;
    assert_eq!(alive(), before + 1, "one deadline is still armed");
    // The clock does not move: the task must not wait for the deadline's tick.
    drop(dropped);
    run_others().await;
    assert_eq!(alive(), before, "the task outlived its last deadline");
}

#[tokio::test(start_paused = true)]
async fn the_task_ends_with_the_last_handle_when_nothing_is_armed() {
    let alive = || Handle::current().metrics().num_alive_tasks();
    let before = alive();
    let driver = TokioDriver::new();
    let clone = driver.clone();
    run_others().await;
    drop(driver);
    run_others().await;
    assert_eq!(alive(), before + 1, "a clone keeps it");
    drop(clone);
    run_others().await;
    assert_eq!(alive(), before);
}

/// The helper of the issue: a driver made for one call and dropped at once.
fn with_timeout(parent: &CancelToken, d: Duration) -> CancelSource {
    let driver = TokioDriver::new();
    parent.child_with_timeout_on(&driver, d)
}

#[tokio::test(start_paused = true)]
async fn a_deadline_armed_through_a_dropped_driver_fires_on_the_paused_clock() {
    let root = CancelSource::new();
    let start = tokio::time::Instant::now();
    let call = with_timeout(&root.token(), 10 * MIN);
    assert!(call.token().deadline().is_some());
    let fired = tokio::time::timeout(20 * MIN, call.token().cancelled()).await;
    assert_eq!(fired, Ok(Reason::DeadlineExceeded));
    assert!(start.elapsed() >= 10 * MIN, "fired early");
}

#[tokio::test]
async fn a_deadline_armed_through_a_dropped_driver_fires_on_a_current_thread_runtime() {
    let root = CancelSource::new();
    let call = with_timeout(&root.token(), Duration::from_millis(20));
    let fired = tokio::time::timeout(PATIENCE, call.token().cancelled()).await;
    assert_eq!(fired, Ok(Reason::DeadlineExceeded));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_armed_through_a_dropped_driver_fires_on_a_multi_thread_runtime() {
    let alive = || Handle::current().metrics().num_alive_tasks();
    let before = alive();
    let root = CancelSource::new();
    let calls: Vec<_> = (1..=8u64)
        .map(|ms| with_timeout(&root.token(), Duration::from_millis(ms)))
        .collect();
    for call in &calls {
        let fired = tokio::time::timeout(PATIENCE, call.token().cancelled()).await;
        assert_eq!(fired, Ok(Reason::DeadlineExceeded));
    }
    // Each driver's task ends once its deadline has fired.
    let give_up = std::time::Instant::now() + PATIENCE;
    while alive() > before && std::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(alive(), before, "a task outlived its deadline");
}

#[test]
fn a_runtime_shutdown_expires_the_deadlines_of_a_dropped_driver() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let root = CancelSource::new();
    let call = runtime.block_on(async { with_timeout(&root.token(), MIN) });
    let token = call.token();
    let waiter = std::thread::spawn(move || token.wait_timeout(PATIENCE));
    drop(runtime);
    assert_eq!(waiter.join().unwrap(), Some(Reason::DeadlineExceeded));
    assert!(!root.is_cancelled());
}

#[test]
fn after_runtime_shutdown_deadlines_expire_at_once() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let root = CancelSource::new();
    let (driver, earlier) = runtime.block_on(async {
        let driver = TokioDriver::new();
        let earlier = root.token().child_with_timeout_on(&driver, MIN);
        (driver, earlier)
    });
    assert!(driver.is_running());
    let token = earlier.token();
    let waiter = std::thread::spawn(move || token.wait());
    drop(runtime);

    assert!(!driver.is_running());
    // Armed before the shutdown: expired by it, so no one waits forever.
    assert_eq!(waiter.join().unwrap(), Reason::DeadlineExceeded);
    earlier.cancel();
    assert_eq!(earlier.reason(), Some(Reason::DeadlineExceeded));
    // Armed after: expires at once.
    assert_eq!(driver.wake_at(1), Err(cancel_token::DriverStopped));
    let later = root.token().child_with_timeout_on(&driver, MIN);
    assert_eq!(later.reason(), Some(Reason::DeadlineExceeded));
    let far = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_secs(3600));
    assert_eq!(far.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(driver.pending(), 0);
    assert!(!root.is_cancelled());
}

#[test]
fn cancel_after_a_current_thread_runtime_shutdown_does_not_hang() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let root = CancelSource::new();
    let handle = runtime.handle().clone();
    let driver = TokioDriver::with_handle(&handle);
    let jobs: Vec<_> = (1..=3)
        .map(|i| root.token().child_with_timeout_on(&driver, i * MIN))
        .collect();
    // The driver's task was never polled; dropping it still stops the driver.
    drop(runtime);
    assert!(!driver.is_running());
    for job in &jobs {
        job.cancel();
        assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    }
    drop(jobs);
    root.cancel();

    // A driver made for a runtime that is already gone is stopped from the start.
    let late = TokioDriver::with_handle(&handle);
    assert!(!late.is_running());
    let root = CancelSource::new();
    let job = root.token().child_with_timeout_on(&late, MIN);
    assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_concurrent_timeouts_all_fire() {
    let driver = TokioDriver::new();
    let root = CancelSource::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10_000u64 {
        let job = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_millis(1 + i * 7 % 5_000));
        tasks.spawn(async move { job.token().cancelled().await });
    }
    let mut fired = 0;
    while let Some(reason) = tasks.join_next().await {
        assert_eq!(reason.unwrap(), Reason::DeadlineExceeded);
        fired += 1;
    }
    assert_eq!(fired, 10_000);
    assert_eq!(driver.pending(), 0);
    assert!(!root.is_cancelled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_timeouts_on_real_time_armed_from_many_threads() {
    let driver = TokioDriver::new();
    let root = CancelSource::new();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..4u64 {
        let (driver, parent) = (driver.clone(), root.token());
        // Plain threads arm too; only the driver's task fires.
        let jobs = std::thread::spawn(move || {
            (0..2_500u64)
                .map(|i| {
                    let ms = 1 + (2_500 - i + t * 13) % 40;
                    parent.child_with_timeout_on(&driver, Duration::from_millis(ms))
                })
                .collect::<Vec<_>>()
        })
        .join()
        .unwrap();
        for job in jobs {
            tasks.spawn(async move { job.token().cancelled().await });
        }
    }
    let mut fired = 0;
    while let Some(reason) = tasks.join_next().await {
        assert_eq!(reason.unwrap(), Reason::DeadlineExceeded);
        fired += 1;
    }
    assert_eq!(fired, 10_000);
    assert_eq!(driver.pending(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_thread_wakes_at_the_deadline() {
    let driver = TokioDriver::new();
    let root = CancelSource::new();
    let job = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(20));
    let token = job.token();
    let reason = tokio::task::spawn_blocking(move || token.wait())
        .await
        .unwrap();
    assert_eq!(reason, Reason::DeadlineExceeded);
}

#[test]
fn tick_conversions_round_up_and_saturate() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let driver = TokioDriver::new();
        let start = driver.instant_at(0);
        assert_eq!(driver.ticks_at(start), 0);
        assert_eq!(driver.ticks_at(start + Duration::from_micros(1)), 1);
        assert_eq!(driver.ticks_at(start + Duration::from_millis(5)), 5);
        assert_eq!(driver.duration_ticks(Duration::from_nanos(1_000_001)), 2);
        assert_eq!(driver.duration_ticks(Duration::MAX), u64::MAX);
        assert_eq!(driver.instant_at(7), start + Duration::from_millis(7));
        let _ = driver.instant_at(u64::MAX);
        let root = CancelSource::new();
        let never = root.token().child_with_timeout_on(&driver, Duration::MAX);
        assert_eq!(driver.pending(), 0);
        assert!(!never.is_cancelled());
        assert!(format!("{driver:?}").contains("TokioDriver"));
    });
}

#[test]
fn the_driver_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<TokioDriver>();
}

#[tokio::test]
async fn a_deadline_already_due_cancels_the_child_as_it_is_made() {
    let driver = TokioDriver::new();
    let root = CancelSource::new();
    let zero = root.token().child_with_timeout_on(&driver, Duration::ZERO);
    assert_eq!(zero.reason(), Some(Reason::DeadlineExceeded));
    let now = tokio::time::Instant::now();
    let now = root.token().child_with_deadline_on(&driver, now);
    assert_eq!(now.reason(), Some(Reason::DeadlineExceeded));
    let past = tokio::time::Instant::now() - Duration::from_secs(1);
    let past = root.token().child_with_deadline_on(&driver, past);
    assert_eq!(past.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(driver.pending(), 0);
    assert!(!root.is_cancelled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_timeout_is_due_at_once_on_the_multi_thread_runtime() {
    let driver = TokioDriver::new();
    let root = CancelSource::new();
    for _ in 0..100 {
        let zero = root.token().child_with_timeout_on(&driver, Duration::ZERO);
        assert_eq!(zero.reason(), Some(Reason::DeadlineExceeded));
    }
    assert_eq!(driver.pending(), 0);
}
