//! A tree's clock: a library written once, with no runtime named in it, takes
//! its timeouts on whatever clock the app bound its tree's root to; the
//! remaining time and the deadline as an instant; the fallback of a tree
//! with no clock; detached roots; children bound to another clock. The same
//! library on smol's and async-std's clocks is in `runtimes/tests/`.
//!
//! Under Miri (std only) the tests on a `ManualDriver` run; those on a
//! `ThreadDriver` are skipped there, as its detached timer thread outlives
//! the test (the `thread_driver` target covers it with Miri's leak check off).

#[cfg(feature = "tokio")]
use std::future::Future;
use std::time::{Duration, Instant};

#[cfg(feature = "tokio")]
use cancel_token::TokioDriver;
use cancel_token::{CancelSource, CancelToken, ManualDriver, Reason, ThreadDriver, TimerDriver};

/// The library: one attempt with its own 200 ms budget, under whatever its
/// caller handed it. No driver, no runtime.
const BUDGET: Duration = Duration::from_millis(200);

#[cfg(feature = "tokio")]
async fn attempt<F: Future>(caller: &CancelToken, work: F) -> Result<F::Output, Reason> {
    caller.timeout(BUDGET, work).await
}

/// The blocking form of the same library, for threads.
fn attempt_blocking(caller: &CancelToken, work: impl FnOnce(&CancelToken)) -> Option<Reason> {
    let call = caller.child_with_timeout(BUDGET);
    work(&call);
    call.reason()
}

#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn a_library_follows_tokios_paused_clock() {
    let app = CancelSource::with_clock(TokioDriver::current());
    let start = tokio::time::Instant::now();
    // Work that sleeps 500 ms of paused time loses to the 200 ms budget...
    let slow = attempt(&app, tokio::time::sleep(Duration::from_millis(500))).await;
    assert_eq!(slow, Err(Reason::DeadlineExceeded));
    assert_eq!(start.elapsed(), BUDGET, "expired at 200 ms of tokio's time");
    // ... and work that sleeps 100 ms wins.
    let quick = attempt(&app, tokio::time::sleep(Duration::from_millis(100))).await;
    assert_eq!(quick, Ok(()));
}

#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn a_caller_deadline_bounds_the_library_in_real_time() {
    let app = CancelSource::with_clock(TokioDriver::current());
    let request = app.child_with_timeout(Duration::from_millis(100));
    let start = tokio::time::Instant::now();
    let call = request.child_with_timeout(BUDGET);
    // The library sees its caller's budget, not its own.
    assert_eq!(call.remaining(), Some(Duration::from_millis(100)));
    assert_eq!(call.deadline_instant(), request.deadline_instant());
    let at = tokio::time::Instant::from_std(call.deadline_instant().unwrap());
    assert_eq!(at, start + Duration::from_millis(100));
    assert_eq!(call.cancelled().await, Reason::DeadlineExceeded);
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    tokio::time::advance(Duration::from_millis(30)).await;
    assert_eq!(call.remaining(), Some(Duration::ZERO));
}

#[cfg(feature = "tokio")]
#[test]
fn a_library_follows_tokios_real_clock() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let app = CancelSource::with_clock(TokioDriver::current());
        let slow = attempt(&app, tokio::time::sleep(Duration::from_secs(30))).await;
        assert_eq!(slow, Err(Reason::DeadlineExceeded));
        assert_eq!(attempt(&app, async { 7 }).await, Ok(7));
    });
}

#[test]
#[cfg_attr(miri, ignore = "ThreadDriver's thread outlives the test")]
fn a_library_follows_a_thread_drivers_clock() {
    let driver = ThreadDriver::new();
    let app = CancelSource::with_clock(driver.clone());
    let reason = attempt_blocking(&app, |call| {
        assert_eq!(driver.pending(), 1, "armed on the app's driver");
        call.wait();
    });
    assert_eq!(reason, Some(Reason::DeadlineExceeded));
    assert_eq!(attempt_blocking(&app, |_| {}), None);
    assert_eq!(driver.pending(), 0);
}

#[test]
fn a_library_follows_a_manual_clock() {
    let driver = ManualDriver::new();
    let app = CancelSource::with_clock(driver.clone());
    let reason = attempt_blocking(&app, |call| {
        driver.advance_by(BUDGET - Duration::from_micros(1));
        assert!(!call.is_cancelled());
        assert_eq!(call.remaining(), Some(Duration::from_micros(1)));
        driver.advance_by(Duration::from_micros(1));
    });
    assert_eq!(reason, Some(Reason::DeadlineExceeded));
    // Future form: the same, with the clock moved by the test.
    let call = app.timeout(BUDGET, std::future::pending::<()>());
    driver.advance_by(BUDGET);
    assert_eq!(
        futures_executor::block_on(call),
        Err(Reason::DeadlineExceeded)
    );
}

#[test]
#[cfg_attr(miri, ignore = "ThreadDriver's thread outlives the test")]
fn a_tree_without_a_clock_uses_the_global_thread_driver() {
    let root = CancelSource::new();
    let global = ThreadDriver::global();
    let call = root.child_with_timeout(Duration::from_secs(60));
    let deadline = call.deadline().unwrap();
    assert!(
        deadline.instant(global).is_some(),
        "on ThreadDriver::global()"
    );
    assert!(call.remaining().unwrap() <= Duration::from_secs(60));
    assert!(call.deadline_instant().unwrap() > Instant::now());
    // It expires: no child silently never does.
    let short = root.child_with_timeout(Duration::from_millis(5));
    assert_eq!(short.wait(), Reason::DeadlineExceeded);
}

#[test]
fn the_tree_clock_is_found_at_any_depth_in_the_same_steps() {
    use cancel_token::__private::deadline_steps;
    let driver = ManualDriver::new();
    let app = CancelSource::with_clock(driver.clone());
    let request = app.child_with_timeout(Duration::from_secs(10));
    let depth = if cfg!(miri) { 100 } else { 100_000 };
    let mut chain = vec![request.child()];
    for _ in 1..depth {
        let next = chain.last().unwrap().child();
        chain.push(next);
    }
    let steps = |token: &CancelToken| {
        let before = deadline_steps();
        assert_eq!(token.remaining(), Some(Duration::from_secs(10)));
        deadline_steps() - before
    };
    let near = steps(&request.child());
    let far = steps(chain.last().unwrap());
    assert_eq!(near, far, "the same steps at depth 1 and {depth}");
    // A timeout deep inside: armed on the app's clock, in as many steps.
    let before = deadline_steps();
    let call = chain
        .last()
        .unwrap()
        .child_with_timeout(Duration::from_secs(1));
    assert!(deadline_steps() - before <= 2);
    assert_eq!(driver.pending(), 2);
    drop(call);
    while chain.pop().is_some() {}
}

#[test]
fn remaining_is_none_without_a_deadline_or_on_another_driver() {
    let driver = ManualDriver::new();
    let other = ManualDriver::new();
    let app = CancelSource::with_clock(driver.clone());
    assert_eq!(app.remaining(), None);
    assert_eq!(app.deadline_instant(), None);
    assert_eq!(app.child().remaining(), None);
    let foreign = app.child_with_timeout_on(&other, Duration::from_secs(1));
    assert_eq!(
        foreign.remaining(),
        None,
        "its deadline is on another clock"
    );
    assert_eq!(
        foreign.deadline().unwrap().instant(&other),
        Some(Duration::from_secs(1))
    );
    // A timeout on the tree's clock below it is the tree's.
    let own = foreign.child_with_timeout(Duration::from_millis(5));
    assert_eq!(own.remaining(), Some(Duration::from_millis(5)));
    assert_eq!(driver.pending(), 1);
}

/// A deadline that names the tree's own driver is on the tree's clock (it
/// can be reset, as one naming none); below deadlines on another driver,
/// however many, a timeout naming none still finds the tree's clock.
#[test]
fn a_named_driver_that_is_the_trees_clock_is_the_clock() {
    let driver = ManualDriver::new();
    let other = ManualDriver::new();
    let app = CancelSource::with_clock(driver.clone());
    let named = app.child_with_timeout_on(&driver, Duration::from_secs(2));
    assert_eq!(named.remaining(), Some(Duration::from_secs(2)));
    named.reset_timeout(Duration::from_secs(3)).unwrap();
    assert_eq!(named.remaining(), Some(Duration::from_secs(3)));
    let first = named.child_with_timeout_on(&other, Duration::from_secs(1));
    let second = first.child_with_timeout_on(&other, Duration::from_millis(500));
    assert_eq!(second.remaining(), None, "its deadline is on another clock");
    let own = second.child_with_timeout(Duration::from_millis(5));
    assert_eq!(own.remaining(), Some(Duration::from_millis(5)));
    assert_eq!((driver.pending(), other.pending()), (2, 2));
    driver.advance_by(Duration::from_millis(5));
    assert_eq!(own.reason(), Some(Reason::DeadlineExceeded));
    assert!(!second.is_cancelled());
}

#[test]
fn the_deadline_instant_is_the_clocks() {
    let driver = ManualDriver::new();
    let epoch = driver.epoch().unwrap();
    let app = CancelSource::with_clock(driver.clone());
    let call = app.child_with_timeout(Duration::from_millis(1500));
    assert_eq!(
        call.deadline_instant(),
        Some(epoch + Duration::from_millis(1500))
    );
    // A deadline as an instant lands on the same tick.
    let same = app.child_with_deadline(epoch + Duration::from_millis(1500));
    assert_eq!(same.deadline(), call.deadline());
    // One before the clock's tick is due at once.
    driver.advance_by(Duration::from_secs(2));
    let late = app.child_with_deadline(epoch + Duration::from_secs(1));
    assert_eq!(late.reason(), Some(Reason::DeadlineExceeded));
}

#[test]
fn a_detached_token_keeps_the_clock_and_ignores_cancels() {
    let driver = ManualDriver::new();
    let server = CancelSource::with_clock(driver.clone());
    let request = server.child_with_timeout(Duration::from_millis(100));
    let detached = request.detached();
    let audit = detached.child_with_timeout(Duration::from_secs(5));
    assert_eq!(detached.deadline(), None, "no deadline of its own");
    assert_eq!(driver.pending(), 2);
    request.cancel();
    server.cancel();
    assert!(!detached.is_cancelled() && !audit.is_cancelled());
    driver.advance_by(Duration::from_secs(5));
    assert_eq!(audit.reason(), Some(Reason::DeadlineExceeded));
    assert!(!detached.is_cancelled());
    drop((audit, detached, request, server));
    assert_eq!(driver.pending(), 0);
}

#[test]
fn a_detached_token_outlives_its_driver_handles() {
    // The detached root keeps the clock: the timers go with the last holder
    // (Miri checks that nothing leaks and nothing is used after the free).
    let driver = ManualDriver::new();
    let detached = CancelSource::with_clock(driver.clone()).detached();
    let call = detached.child_with_timeout(Duration::from_secs(1));
    drop(driver);
    assert!(!call.is_cancelled());
    assert_eq!(call.remaining(), Some(Duration::from_secs(1)));
    drop(detached);
    drop(call);
}

#[test]
#[cfg_attr(miri, ignore = "ThreadDriver's thread outlives the test")]
fn detaching_a_tree_without_a_clock_gives_a_token_never_cancelled() {
    let root = CancelSource::new();
    let detached = root.child().detached();
    drop(root);
    assert!(!detached.is_cancelled());
    let call = detached.child_with_timeout(Duration::from_secs(60));
    assert!(call
        .deadline()
        .unwrap()
        .instant(ThreadDriver::global())
        .is_some());
}

#[test]
fn a_child_bound_to_another_clock() {
    let app = ManualDriver::new();
    let test = ManualDriver::new();
    let root = CancelSource::with_clock(app.clone());
    let request = root.child_with_timeout(Duration::from_secs(1));
    let part = request.child_with_clock(test.clone());
    // The parent's deadline still bounds it, on the parent's clock.
    assert_eq!(part.deadline(), request.deadline());
    let call = part.child_with_timeout(Duration::from_millis(10));
    assert_eq!((app.pending(), test.pending()), (1, 1));
    test.advance_by(Duration::from_millis(10));
    assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
    // The parent's cancel reaches it.
    let other = part.child_with_timeout(Duration::from_secs(9));
    app.advance_by(Duration::from_secs(1));
    assert_eq!(other.reason(), Some(Reason::DeadlineExceeded));
    assert!(part.is_cancelled());
    // Dropped unobserved, a child on another clock gives its timers back.
    let unobserved = root.child_with_clock(test.clone());
    drop(unobserved);
    drop((other, call, part, request, root, test));
    assert_eq!(app.pending(), 0);
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_driver_current_is_one_per_runtime() {
    let timers_of = |d: &TokioDriver| d.timers().get() as *const _;
    let make = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    };
    let (a, b) = (make(), make());
    let in_a = a.block_on(async { (TokioDriver::current(), TokioDriver::current()) });
    assert_eq!(timers_of(&in_a.0), timers_of(&in_a.1));
    let in_b = b.block_on(async { TokioDriver::current() });
    assert_ne!(timers_of(&in_a.0), timers_of(&in_b));
    // A runtime that has shut down is not served again.
    drop(a);
    assert!(!in_a.0.is_running());
    let c = make();
    let in_c = c.block_on(async { TokioDriver::current() });
    assert!(in_c.is_running());
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let (x, y) = multi.block_on(async {
        let x = tokio::spawn(async { TokioDriver::current() })
            .await
            .unwrap();
        let y = tokio::spawn(async { TokioDriver::current() })
            .await
            .unwrap();
        (x, y)
    });
    assert_eq!(timers_of(&x), timers_of(&y), "one for every worker");
}

#[test]
fn a_deadline_moves_later_and_earlier_in_place() {
    let driver = ManualDriver::new();
    let conn = CancelSource::with_clock(driver.clone());
    let idle = conn.child_with_timeout(Duration::from_secs(30));
    driver.advance_by(Duration::from_secs(20));
    idle.reset_timeout(Duration::from_secs(30)).unwrap(); // later: 50 s
    assert_eq!(driver.pending(), 1, "moved, not added");
    assert_eq!(idle.remaining(), Some(Duration::from_secs(30)));
    driver.advance_by(Duration::from_secs(20));
    assert!(!idle.is_cancelled());
    idle.reset_timeout(Duration::from_secs(5)).unwrap(); // earlier: 45 s
    driver.advance_by(Duration::from_secs(4));
    assert!(!idle.is_cancelled());
    driver.advance_by(Duration::from_secs(1));
    assert_eq!(idle.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(driver.pending(), 0);
    assert_eq!(
        idle.reset_timeout(Duration::from_secs(1)),
        Err(cancel_token::ResetError::Cancelled)
    );
}

/// A driver whose clock runs ahead of its timers, as a real one's does
/// between reading the time and firing what is due.
#[derive(Clone)]
struct Ahead {
    timers: ManualDriver,
    now: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl TimerDriver for Ahead {
    type Instant = Duration;
    fn now(&self) -> Duration {
        Duration::from_micros(self.now.load(std::sync::atomic::Ordering::SeqCst))
    }
    fn ticks_at(&self, at: Duration) -> u64 {
        TimerDriver::duration_ticks(self, at)
    }
    fn instant_at(&self, ticks: u64) -> Duration {
        Duration::from_micros(ticks)
    }
    fn duration_ticks(&self, d: Duration) -> u64 {
        TimerDriver::duration_ticks(&self.timers, d)
    }
    fn ticks_duration(&self, ticks: u64) -> Duration {
        Duration::from_micros(ticks)
    }
    fn timers(&self) -> cancel_token::TimersHandle<'_> {
        self.timers.timers()
    }
    fn wake_at(&self, _tick: u64) -> Result<(), cancel_token::DriverStopped> {
        Ok(())
    }
}

#[test]
fn a_deadline_already_passed_is_not_moved() {
    let ahead = Ahead {
        timers: ManualDriver::new(),
        now: Default::default(),
    };
    let root = CancelSource::with_clock(ahead.clone());
    let job = root.child_with_timeout(Duration::from_micros(10));
    // The clock reaches the deadline; the driver has not fired it yet.
    ahead.now.store(10, std::sync::atomic::Ordering::SeqCst);
    assert!(!job.is_cancelled());
    assert_eq!(
        job.reset_timeout(Duration::from_micros(30)),
        Err(cancel_token::ResetError::Cancelled),
        "an expired deadline is not brought back"
    );
    ahead.timers.advance_by(Duration::from_micros(10));
    assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
}

#[test]
fn a_deadline_moved_earlier_is_reported_below_it() {
    let driver = ManualDriver::new();
    let root = CancelSource::with_clock(driver.clone());
    let request = root.child_with_timeout(Duration::from_secs(10));
    let step = request.child_with_timeout(Duration::from_secs(5)); // a timer of its own
    let inner = step.child();
    request.reset_timeout(Duration::from_secs(2)).unwrap();
    assert_eq!(step.deadline(), request.deadline(), "the earlier one above");
    assert_eq!(inner.remaining(), Some(Duration::from_secs(2)));
    driver.advance_by(Duration::from_secs(2));
    assert_eq!(inner.reason(), Some(Reason::DeadlineExceeded));
    assert!(step.is_cancelled());
}

#[test]
fn a_deadline_a_child_took_does_not_move_later() {
    use cancel_token::ResetError;
    let driver = ManualDriver::new();
    let root = CancelSource::with_clock(driver.clone());
    let request = root.child_with_timeout(Duration::from_secs(5));
    // Asks for 10 s, gets the request's 5 s, and arms no timer.
    let call = request.child_with_timeout(Duration::from_secs(10));
    assert_eq!(driver.pending(), 1);
    assert_eq!(
        request.reset_timeout(Duration::from_secs(20)),
        Err(ResetError::Covered),
        "the call would outlive its 10 s"
    );
    request.reset_timeout(Duration::from_secs(3)).unwrap(); // earlier is fine
    assert_eq!(call.remaining(), Some(Duration::from_secs(3)));
    // Before any child took it, a deadline moves later freely.
    let other = root.child_with_timeout(Duration::from_secs(5));
    other.reset_timeout(Duration::from_secs(20)).unwrap();
    let below = other.child_with_timeout(Duration::from_secs(10));
    assert_eq!(
        below.remaining(),
        Some(Duration::from_secs(10)),
        "its own timer"
    );
}

#[test]
fn a_deadline_moved_later_stays_within_its_parents() {
    let driver = ManualDriver::new();
    let root = CancelSource::with_clock(driver.clone());
    let request = root.child_with_timeout(Duration::from_secs(10));
    let call = request.child_with_timeout(Duration::from_secs(5));
    call.reset_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(call.remaining(), Some(Duration::from_secs(10)), "capped");
    assert_eq!(
        request.reset_timeout(Duration::from_secs(60)),
        Err(cancel_token::ResetError::Covered),
        "the call took the request's deadline"
    );
}

#[test]
fn a_clock_root_takes_a_deadline_and_gives_it_up() {
    use cancel_token::ResetError;
    let driver = ManualDriver::new();
    let root = CancelSource::with_clock(driver.clone());
    let below = root.child();
    assert_eq!(below.remaining(), None);
    root.reset_timeout(Duration::from_secs(1)).unwrap();
    assert_eq!(below.remaining(), Some(Duration::from_secs(1)));
    root.reset_timeout(Duration::MAX).unwrap(); // never again
    assert_eq!((below.remaining(), driver.pending()), (None, 0));
    root.reset_timeout(Duration::ZERO).unwrap(); // at once
    assert_eq!(below.reason(), Some(Reason::DeadlineExceeded));
    // Sources with no deadline on their tree's clock.
    let other = ManualDriver::new();
    let live = CancelSource::with_clock(driver.clone());
    for source in [
        live.child(),
        CancelSource::new(),
        live.child_with_timeout_on(&other, Duration::from_secs(1)),
        CancelSource::new().child_with_timeout_on(&driver, Duration::from_secs(1)),
    ] {
        let refused = source.reset_timeout(Duration::from_secs(1));
        assert_eq!(refused, Err(ResetError::NoDeadline));
    }
}

#[test]
fn a_deadline_resets_to_an_instant() {
    let driver = ManualDriver::new();
    let epoch = driver.epoch().unwrap();
    let root = CancelSource::with_clock(driver.clone());
    let job = root.child_with_timeout(Duration::from_secs(60));
    job.reset_deadline(epoch + Duration::from_secs(7)).unwrap();
    assert_eq!(job.deadline_instant(), Some(epoch + Duration::from_secs(7)));
    driver.advance_by(Duration::from_secs(7));
    assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
}

#[test]
#[cfg_attr(miri, ignore = "ThreadDriver's thread outlives the test")]
fn resets_race_the_firing_on_a_thread_driver() {
    // Each round, a timer thread fires the deadline while this thread keeps
    // moving it out of the wheel and back to the same instant: the token
    // ends expired, once, and no timer is left.
    let driver = ThreadDriver::new();
    let root = CancelSource::with_clock(driver.clone());
    for _ in 0..50 {
        let call = root.child_with_timeout(Duration::from_secs(60));
        let at = Instant::now() + Duration::from_millis(2);
        let mut moves = 0;
        while call.reset_deadline(at).is_ok() {
            moves += 1;
        }
        assert!(moves > 0);
        assert_eq!(call.wait(), Reason::DeadlineExceeded);
    }
    assert_eq!(driver.pending(), 0);
}

#[test]
fn a_child_on_another_clock_is_not_kept_as_a_spare() {
    // Its box is larger than a timed child's and holds its driver: reused
    // as one, it would be freed with the wrong layout (Miri checks) and its
    // driver never dropped.
    let driver = ManualDriver::new();
    let other = ManualDriver::new();
    let root = CancelSource::with_clock(driver.clone());
    drop(root.child_with_clock(other.clone()));
    let call = root.child_with_timeout(Duration::from_secs(1));
    let plain = root.child();
    drop((call, plain));
    let child = root.child_with_timeout(Duration::from_secs(1));
    assert_eq!(driver.pending(), 1);
    drop(child);
}

/// Two deadlines at one tick, one below the other, after a move earlier: a
/// child asking for longer takes the nearer one, and only that one is
/// refused a move later.
#[test]
fn a_tie_in_a_moved_tree_is_taken_from_the_nearer_deadline() {
    use cancel_token::ResetError;
    let driver = ManualDriver::new();
    let root = CancelSource::with_clock(driver.clone());
    let request = root.child_with_timeout(Duration::from_secs(10));
    let step = request.child_with_timeout(Duration::from_secs(5)); // a timer of its own
    request.reset_timeout(Duration::from_secs(5)).unwrap(); // earlier: the tree walks
    assert_eq!(step.deadline(), request.deadline(), "one tick");
    let call = step.child_with_timeout(Duration::from_secs(30));
    assert_eq!(call.remaining(), Some(Duration::from_secs(5)));
    // The request's deadline was not taken: it moves later (its step and
    // call keep their 5 s).
    request.reset_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(
        step.reset_timeout(Duration::from_secs(20)),
        Err(ResetError::Covered),
        "the call took the step's deadline"
    );
    assert_eq!(call.remaining(), Some(Duration::from_secs(5)));
}

/// A zero timeout below a deadline the clock has reached but the driver has
/// not fired expires at once with that deadline's cause, as the deadline
/// will.
#[test]
fn a_zero_timeout_below_a_due_deadline_takes_its_cause() {
    #[derive(Debug)]
    struct Slow;
    impl std::fmt::Display for Slow {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("slow")
        }
    }
    impl std::error::Error for Slow {}
    static SLOW: Slow = Slow;

    let ahead = Ahead {
        timers: ManualDriver::new(),
        now: Default::default(),
    };
    let root = CancelSource::with_clock(ahead.clone());
    let job = root.child_with_timeout_cause(Duration::from_micros(10), &SLOW);
    ahead.now.store(10, std::sync::atomic::Ordering::SeqCst);
    let now = job.child_with_timeout(Duration::ZERO);
    assert_eq!(now.reason(), Some(Reason::DeadlineExceeded));
    assert!(
        now.cause().is_some_and(|c| c.is::<Slow>()),
        "{:?}",
        now.cause()
    );
    assert!(!job.is_cancelled(), "the driver has not fired it yet");
}

/// A child asking for exactly its parent's deadline takes it, as one asking
/// for longer does: the parent's deadline can no longer move later.
#[test]
fn a_child_at_its_parents_deadline_takes_it() {
    let driver = ManualDriver::new();
    let root = CancelSource::with_clock(driver.clone());
    let request = root.child_with_timeout(Duration::from_secs(10));
    let call = request.child_with_timeout(Duration::from_secs(10));
    assert_eq!(driver.pending(), 1, "no timer of its own");
    assert_eq!(
        request.reset_timeout(Duration::from_secs(20)),
        Err(cancel_token::ResetError::Covered)
    );
    assert_eq!(call.remaining(), Some(Duration::from_secs(10)));
}
