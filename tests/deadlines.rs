//! Deadlines: firing, disarming, bookkeeping, drivers.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cancel_token::{
    CancelSource, CancelToken, DriverStopped, ManualDriver, Reason, SharedTimers, StaticSource,
    TimerDriver, Timers, TimersHandle,
};

const MIN: Duration = Duration::from_secs(60);

#[test]
fn fires_at_the_deadline_not_before() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let job = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(10));
    driver.advance_by(Duration::from_micros(9_999));
    assert!(!job.is_cancelled());
    driver.advance_by(Duration::from_micros(1));
    assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    assert!(!root.is_cancelled());
    assert_eq!(driver.pending(), 0);
}

#[test]
fn manual_driver_ticks_are_microseconds_rounded_up_and_saturating() {
    let driver = ManualDriver::new();
    assert_eq!(driver.duration_ticks(Duration::ZERO), 0);
    assert_eq!(driver.duration_ticks(Duration::from_nanos(1)), 1);
    assert_eq!(driver.duration_ticks(Duration::from_nanos(1_000)), 1);
    assert_eq!(driver.duration_ticks(Duration::from_nanos(1_001)), 2);
    assert_eq!(
        driver.duration_ticks(Duration::new(3, 999_999_001)),
        4_000_000
    );
    let max_exact = Duration::from_micros(u64::MAX);
    assert_eq!(driver.duration_ticks(max_exact), u64::MAX);
    assert_eq!(
        driver.duration_ticks(max_exact + Duration::from_nanos(1)),
        u64::MAX
    );
    assert_eq!(driver.duration_ticks(Duration::MAX), u64::MAX);
    assert_eq!(driver.ticks_at(Duration::from_nanos(2_500)), 3);
}

#[test]
fn expiry_reaches_descendants_waiters_and_callbacks_once() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let job = root.token().child_with_timeout_on(&driver, MIN);
    let step = job.token().child();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let _g = step.token().on_cancel(move |reason| {
        assert_eq!(reason, Reason::DeadlineExceeded);
        r.fetch_add(1, SeqCst);
    });
    let token = step.token();
    let waiter = std::thread::spawn(move || token.wait());
    driver.advance_by(MIN);
    driver.advance_by(MIN);
    assert_eq!(waiter.join().unwrap(), Reason::DeadlineExceeded);
    assert_eq!(ran.load(SeqCst), 1);
    assert_eq!(step.reason(), Some(Reason::DeadlineExceeded));
}

#[test]
fn a_past_deadline_cancels_at_once() {
    let driver = ManualDriver::new();
    driver.advance_by(Duration::from_secs(5));
    let root = CancelSource::new();
    let late = root
        .token()
        .child_with_deadline_on(&driver, Duration::from_secs(1));
    assert_eq!(late.reason(), Some(Reason::DeadlineExceeded));
    let now = root.token().child_with_timeout_on(&driver, Duration::ZERO);
    assert_eq!(now.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(driver.pending(), 0);
}

#[test]
fn far_future_never_fires_nor_overflows() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let forever = root.token().child_with_timeout_on(&driver, Duration::MAX);
    let far = root
        .token()
        .child_with_deadline_on(&driver, Duration::from_secs(u64::MAX));
    let huge = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_secs(1 << 40));
    driver.advance_by(Duration::from_secs(1 << 30));
    driver.advance_by(Duration::MAX);
    assert!(!forever.is_cancelled());
    assert!(!far.is_cancelled());
    assert!(huge.is_cancelled());
}

#[test]
fn cancelling_or_dropping_a_source_frees_its_entry() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let a = root.token().child_with_timeout_on(&driver, MIN);
    let b = root.token().child_with_timeout_on(&driver, MIN);
    assert_eq!(driver.pending(), 2);
    a.cancel();
    assert_eq!(driver.pending(), 1);
    assert_eq!(a.reason(), Some(Reason::Cancelled));
    drop(b);
    assert_eq!(driver.pending(), 0);
    // Cancelling a parent takes its timed descendants' entries out too.
    let c = root.token().child_with_timeout_on(&driver, MIN);
    let mid = c.token().child();
    let d = mid
        .token()
        .child_with_timeout_on(&driver, Duration::from_secs(1));
    assert_eq!(driver.pending(), 2);
    root.cancel();
    assert_eq!(driver.pending(), 0);
    driver.advance_by(MIN);
    assert_eq!(d.reason(), Some(Reason::Cancelled));
}

#[test]
fn deadlines_under_never_and_static_parents_free_their_entries() {
    static ROOT: StaticSource = StaticSource::new();
    let driver = ManualDriver::new();
    for parent in [CancelToken::never(), ROOT.token()] {
        // Dropped unobserved: taken out at once.
        let a = parent.child_with_timeout_on(&driver, MIN);
        assert_eq!(driver.pending(), 1);
        drop(a);
        assert_eq!(driver.pending(), 0);
        // Observed: cancelled, then taken out.
        let b = parent.child_with_timeout_on(&driver, MIN);
        let observer = b.token();
        drop(b);
        assert_eq!(driver.pending(), 0);
        assert_eq!(observer.reason(), Some(Reason::Cancelled));
        // Fired, then dropped.
        let c = parent.child_with_timeout_on(&driver, MIN);
        driver.advance_by(MIN);
        assert_eq!(c.reason(), Some(Reason::DeadlineExceeded));
        drop(c);
        assert_eq!(driver.pending(), 0);
    }
    assert!(!ROOT.is_cancelled());
}

#[test]
fn a_deadline_keeps_naming_its_driver_after_that_driver_is_gone() {
    let root = CancelSource::new();
    let driver = ManualDriver::new();
    let job = root.token().child_with_timeout_on(&driver, MIN);
    let token = job.token();
    let before = token.deadline().unwrap();
    assert_eq!(before.instant(&driver), Some(MIN));
    let old = driver.timers().get() as *const Timers;
    // Disarmed, the deadline no longer holds the timers; then the driver
    // goes, and with it the timers.
    drop(job);
    drop(driver);
    // A new driver's timers may well take the freed address; the token's
    // deadline must still not take it for its own.
    let later = ManualDriver::new();
    let reused = std::ptr::eq(old, later.timers().get());
    let after = token.deadline().unwrap();
    assert_eq!(after, before);
    assert_eq!(after.ticks(), 60_000_000);
    assert_eq!(after.instant(&later), None, "address reused: {reused}");
}

#[test]
fn a_parent_expiring_earlier_arms_no_timer_for_its_child() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let request = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_secs(10));
    let step = request.token().child_with_timeout_on(&driver, MIN);
    assert_eq!(driver.pending(), 1, "the step's later deadline is covered");
    assert_eq!(
        step.token().deadline().unwrap().instant(&driver),
        Some(Duration::from_secs(10))
    );
    let quick = request
        .token()
        .child_with_timeout_on(&driver, Duration::from_secs(1));
    assert_eq!(driver.pending(), 2);
    assert_eq!(
        quick.token().deadline().unwrap().instant(&driver),
        Some(Duration::from_secs(1))
    );
    assert!(root.token().deadline().is_none());
    driver.advance_by(Duration::from_secs(10));
    assert_eq!(step.reason(), Some(Reason::DeadlineExceeded));
}

#[test]
fn fire_and_cancel_race_to_one_outcome() {
    // Miri explores thread schedules itself; a few rounds suffice there.
    for i in 0..if cfg!(miri) { 6 } else { 200 } {
        let driver = ManualDriver::new();
        let root = CancelSource::new();
        let job = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_micros(1));
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let _g = job.token().on_cancel(move |_| {
            r.fetch_add(1, SeqCst);
        });
        let d = driver.clone();
        let t = std::thread::spawn(move || d.advance_by(Duration::from_micros(1)));
        if i % 2 == 0 {
            job.cancel();
        } else {
            drop(root);
        }
        t.join().unwrap();
        assert!(job.is_cancelled());
        assert_eq!(ran.load(SeqCst), 1);
        assert_eq!(driver.pending(), 0);
    }
}

#[test]
fn dropping_the_driver_while_deadlines_are_armed_is_safe() {
    let root = CancelSource::new();
    let job = {
        let driver = ManualDriver::new();
        root.token().child_with_timeout_on(&driver, MIN)
    };
    assert!(!job.is_cancelled());
    drop(job);
    let driver = ManualDriver::new();
    let job = root.token().child_with_timeout_on(&driver, MIN);
    drop(driver);
    root.cancel();
    assert!(job.is_cancelled());
}

#[test]
fn shared_timers_live_while_any_clone_or_armed_deadline_does() {
    let root = CancelSource::new();
    let driver = ManualDriver::new();
    let clone = driver.clone();
    let job = root.token().child_with_timeout_on(&driver, MIN);
    drop(driver);
    assert_eq!(clone.pending(), 1);
    clone.advance_by(MIN);
    assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(clone.pending(), 0);
    let second = root.token().child_with_timeout_on(&clone, MIN);
    drop(clone);
    // Orphaned: the timers are freed with the last deadline's disarm, which
    // Miri checks (no leak, no use after the free).
    assert!(!second.is_cancelled());
    drop(second);
    drop(job);
}

/// A driver whose runtime is gone: arming fails.
struct Stopped(SharedTimers);
impl TimerDriver for Stopped {
    type Instant = u64;
    fn now(&self) -> u64 {
        0
    }
    fn ticks_at(&self, at: u64) -> u64 {
        at
    }
    fn instant_at(&self, ticks: u64) -> u64 {
        ticks
    }
    fn duration_ticks(&self, d: Duration) -> u64 {
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }
    fn ticks_duration(&self, ticks: u64) -> Duration {
        Duration::from_millis(ticks)
    }
    fn timers(&self) -> TimersHandle<'_> {
        TimersHandle::from_shared(&self.0)
    }
    fn wake_at(&self, _: u64) -> Result<(), DriverStopped> {
        Err(DriverStopped)
    }
}

#[test]
fn a_stopped_driver_expires_the_token_at_once() {
    let driver = Stopped(Timers::new_shared());
    let root = CancelSource::new();
    let job = root.token().child_with_timeout_on(&driver, MIN);
    assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(driver.0.pending(), 0);
    assert_eq!(DriverStopped.to_string(), "timer driver stopped");
}

#[test]
fn a_stopped_driver_expires_every_later_deadline_too() {
    // A failed `wake_at` must not leave the timers believing the driver will
    // wake at that tick: a later deadline would then skip `wake_at` and stay
    // armed forever.
    let driver = Stopped(Timers::new_shared());
    let root = CancelSource::new();
    let first = root.token().child_with_timeout_on(&driver, MIN);
    let later = root.token().child_with_timeout_on(&driver, MIN * 2);
    assert_eq!(first.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(later.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(driver.0.pending(), 0);
}

#[test]
fn tick_driver_with_pinned_deadlines() {
    use cancel_token::{PinnedDeadline, TickDriver};
    use std::pin::pin;
    static ROOT: StaticSource = StaticSource::new();
    static TICKS: TickDriver = TickDriver::new();
    let a = pin!(PinnedDeadline::with_timeout(
        ROOT.token_ref(),
        &TICKS,
        Duration::from_micros(2500)
    ));
    let b = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 100));
    let (a, b) = (a.into_ref(), b.into_ref());
    assert!(!a.is_cancelled() && !b.is_cancelled());
    assert_eq!(TICKS.pending(), 2);
    assert_eq!(TICKS.next_expiration(), Some(3));
    TICKS.advance_by(2);
    assert!(!a.is_cancelled());
    TICKS.advance_by(1);
    assert_eq!(a.token().reason(), Some(Reason::DeadlineExceeded));
    b.cancel();
    assert_eq!(TICKS.pending(), 0);
    assert_eq!(b.token().reason(), Some(Reason::Cancelled));
}

/// A `TokenRef` has every observing method of `CancelToken`, `deadline` too:
/// a pinned deadline and the pinned children under it report it.
#[test]
fn a_token_ref_reports_its_deadline() {
    use cancel_token::{PinnedChild, PinnedDeadline, TickDriver};
    use std::pin::pin;
    static ROOT: StaticSource = StaticSource::new();
    static TICKS: TickDriver = TickDriver::new();
    let job = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 40));
    let job = job.into_ref();
    let step = pin!(PinnedChild::new(job.token()));
    let step = step.into_ref();
    let inner = pin!(PinnedDeadline::new(step.token(), &TICKS, 90));
    let inner = inner.into_ref();
    let d = step.token().deadline().unwrap();
    assert_eq!((d.ticks(), d.instant(&TICKS)), (40, Some(40)));
    assert_eq!(job.token().deadline(), Some(d));
    assert_eq!(inner.token().deadline(), Some(d), "the earlier one above");
    assert_eq!(ROOT.token_ref().deadline(), None);
    let root = CancelSource::new();
    let heap = root.token().child_with_deadline_on(&TICKS, 30);
    let heap_token = heap.token();
    let under_heap = pin!(PinnedChild::new(heap_token.as_token_ref()));
    let under_heap = under_heap.into_ref();
    assert_eq!(under_heap.token().deadline().unwrap().ticks(), 30);
}

/// A `TickDriver` in a `static` is passed as `&TICKS` to heap children and to
/// `Deadline::instant`, as to a `PinnedDeadline`; `&&TICKS` still works.
#[test]
#[allow(clippy::needless_borrows_for_generic_args)] // `&&TICKS` on purpose
fn a_static_tick_driver_is_passed_as_a_reference() {
    use cancel_token::TickDriver;
    static TICKS: TickDriver = TickDriver::new();
    let root = CancelSource::new();
    let job = root
        .token()
        .child_with_timeout_on(&TICKS, Duration::from_millis(5));
    let at = root.token().child_with_deadline_on(&TICKS, 7);
    let old_style = root
        .token()
        .child_with_timeout_on(&&TICKS, Duration::from_millis(6));
    assert_eq!(job.token().deadline().unwrap().instant(&TICKS), Some(5));
    assert_eq!(TICKS.pending(), 3);
    TICKS.advance_by(5);
    assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    assert!(!old_style.is_cancelled() && !at.is_cancelled());
    TICKS.advance_by(2);
    assert!(old_style.is_cancelled() && at.is_cancelled());
    assert_eq!(TICKS.pending(), 0);
}

#[test]
fn concurrent_advances_add_up() {
    let driver = ManualDriver::new();
    let per_thread = if cfg!(miri) { 50 } else { 20_000 };
    std::thread::scope(|s| {
        for _ in 0..2 {
            let d = driver.clone();
            s.spawn(move || {
                for _ in 0..per_thread {
                    d.advance_by(Duration::from_micros(1));
                }
            });
        }
    });
    assert_eq!(
        TimerDriver::now(&driver),
        Duration::from_micros(2 * per_thread)
    );
}

#[test]
fn a_deadline_already_due_cancels_the_child_as_it_is_made() {
    let driver = ManualDriver::new();
    driver.advance_by(Duration::from_secs(5));
    let root = CancelSource::new();
    let zero = root.token().child_with_timeout_on(&driver, Duration::ZERO);
    assert_eq!(zero.reason(), Some(Reason::DeadlineExceeded));
    let now = root
        .token()
        .child_with_deadline_on(&driver, Duration::from_secs(5));
    assert_eq!(now.reason(), Some(Reason::DeadlineExceeded));
    let past = root
        .token()
        .child_with_deadline_on(&driver, Duration::from_secs(1));
    assert_eq!(past.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(
        past.token().deadline().unwrap().instant(&driver),
        Some(Duration::from_secs(1))
    );
    assert_eq!(driver.pending(), 0);
    assert!(!root.is_cancelled());
    // A deadline still ahead is armed as before.
    let ahead = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_nanos(1));
    assert!(!ahead.is_cancelled());
    assert_eq!(driver.pending(), 1);
}

#[test]
fn a_pinned_deadline_due_at_once_on_a_tick_driver() {
    static TICKS: cancel_token::TickDriver = cancel_token::TickDriver::new();
    static ROOT: StaticSource = StaticSource::new();
    TICKS.advance_by(7);
    let job = core::pin::pin!(cancel_token::PinnedDeadline::with_timeout(
        ROOT.token_ref(),
        &TICKS,
        Duration::ZERO
    ));
    assert_eq!(
        job.as_ref().token().reason(),
        Some(Reason::DeadlineExceeded)
    );
    assert_eq!(TICKS.pending(), 0);
}

/// A chain `n` deep in which every child asks for the same timeout: all but
/// the first are covered by it, so they are children without a deadline of
/// their own below one.
fn timeout_chain(driver: &ManualDriver, root: &CancelSource, n: usize) -> Vec<CancelSource> {
    let mut chain: Vec<CancelSource> = Vec::with_capacity(n);
    for _ in 0..n {
        let parent = chain.last().map_or_else(|| root.token(), |s| s.token());
        chain.push(parent.child_with_timeout_on(driver, MIN));
    }
    chain
}

/// Finding a token's deadline takes the same number of steps at any depth:
/// making a chain of timeouts is linear, and `deadline()` at its leaf as
/// cheap as at its top.
#[cfg(debug_assertions)]
#[test]
fn deadline_search_takes_the_same_steps_at_any_depth() {
    use cancel_token::__private::deadline_steps;
    let (short, long) = if cfg!(miri) {
        (10, 100)
    } else {
        (1_000, 50_000)
    };
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let steps = |f: &mut dyn FnMut()| {
        let before = deadline_steps();
        f();
        deadline_steps() - before
    };
    let mut a = Vec::new();
    let mut b = Vec::new();
    let build_short = steps(&mut || a = timeout_chain(&driver, &root, short));
    let build_long = steps(&mut || b = timeout_chain(&driver, &root, long));
    assert!(build_short <= 2 * short, "{build_short} steps for {short}");
    assert!(build_long <= 2 * long, "{build_long} steps for {long}");
    assert_eq!(driver.pending(), 2, "one timer per chain");

    let leaf = b.last().unwrap().token();
    let top = b.first().unwrap().token();
    let at_leaf = steps(&mut || assert!(leaf.deadline().is_some()));
    let at_top = steps(&mut || assert!(top.deadline().is_some()));
    assert_eq!(at_leaf, at_top);
    assert_eq!(leaf.deadline(), top.deadline());

    // A chain with no deadline at all: also one step at the leaf.
    let mut plain = vec![root.token().child()];
    for _ in 1..long {
        let next = plain.last().unwrap().token().child();
        plain.push(next);
    }
    let leaf = plain.last().unwrap().token();
    assert_eq!(steps(&mut || assert!(leaf.deadline().is_none())), 1);
    let made = steps(&mut || drop(leaf.child_with_timeout_on(&driver, MIN)));
    assert_eq!(made, 1);

    // The chains are dropped leaf first and root first.
    drop(a);
    while b.pop().is_some() {}
    drop(plain);
    assert_eq!(driver.pending(), 0);
}

/// Children below a deadline report it, expire with it, and go back to the
/// allocator when dropped (they are never kept as a parent's spare).
#[test]
fn children_below_a_deadline_inherit_it() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let request = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_secs(10));
    let step = request.token().child();
    let sub = step.token().child();
    let later = sub.token().child_with_timeout_on(&driver, MIN);
    let earlier = sub
        .token()
        .child_with_timeout_on(&driver, Duration::from_secs(1));
    let ten = request.token().deadline();
    assert_eq!(ten.unwrap().instant(&driver), Some(Duration::from_secs(10)));
    assert_eq!(sub.token().deadline(), ten);
    assert_eq!(
        later.token().deadline(),
        ten,
        "covered: no timer of its own"
    );
    assert_eq!(driver.pending(), 2);
    let one = earlier.token().child().token().deadline();
    assert_eq!(one.unwrap().instant(&driver), Some(Duration::from_secs(1)));
    // Dropped unobserved and made again, again and again.
    for _ in 0..3 {
        let again = step.token().child();
        assert_eq!(again.token().deadline(), ten);
    }
    driver.advance_by(Duration::from_secs(10));
    assert_eq!(sub.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(later.reason(), Some(Reason::DeadlineExceeded));
    assert!(!root.is_cancelled());
}

/// A pinned deadline below an earlier one takes the earlier one, so that a
/// token's deadline is found in one step.
#[test]
fn a_pinned_deadline_below_an_earlier_one_reports_the_earlier() {
    static TICKS: cancel_token::TickDriver = cancel_token::TickDriver::new();
    static ROOT: StaticSource = StaticSource::new();
    let outer = core::pin::pin!(cancel_token::PinnedDeadline::new(
        ROOT.token_ref(),
        &TICKS,
        5
    ));
    let outer = outer.as_ref();
    let inner = core::pin::pin!(cancel_token::PinnedDeadline::new(outer.token(), &TICKS, 9));
    let inner = inner.as_ref();
    assert_eq!(inner.token().deadline().map(|d| d.ticks()), Some(5));
    let sooner = core::pin::pin!(cancel_token::PinnedDeadline::new(outer.token(), &TICKS, 2));
    assert_eq!(
        sooner.as_ref().token().deadline().map(|d| d.ticks()),
        Some(2)
    );
    TICKS.advance_by(5);
    assert_eq!(inner.token().reason(), Some(Reason::DeadlineExceeded));
}

/// A zero timeout below an earlier deadline of the same driver takes that
/// deadline, as Go's `WithDeadline` does, and is cancelled as it is made
/// (`thread_driver.rs` has the same below a deadline not fired yet).
#[test]
fn a_due_timeout_below_an_earlier_deadline_takes_it() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let request = root.child_with_timeout_on(&driver, Duration::from_micros(3));
    let step = request.child();
    driver.advance_by(Duration::from_micros(20));
    let zero = step.child_with_timeout_on(&driver, Duration::ZERO);
    assert_eq!(zero.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(zero.deadline().map(|d| d.ticks()), Some(3));
    assert_eq!(zero.deadline(), request.deadline());
    assert_eq!(driver.pending(), 0);
}

// ---- a cause for an expiry ---------------------------------------------------

#[derive(Debug)]
struct Budget(&'static str);
impl core::fmt::Display for Budget {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}
impl core::error::Error for Budget {}

static DB: Budget = Budget("db budget");
static CALL: Budget = Budget("call budget");
static SHUTDOWN: Budget = Budget("shutdown");

fn cause_of(t: &CancelToken) -> Option<String> {
    t.cause().map(|c| c.to_string())
}

/// The deadline's firing reports the cause, on the child and its
/// descendants; while live there is none.
#[test]
fn an_expiry_reports_its_cause_on_the_child_and_below() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let call = root.child_with_timeout_cause_on(&driver, Duration::from_secs(1), &CALL);
    let step = call.child();
    let later = call.child_with_timeout_on(&driver, MIN); // covered: no timer of its own
    assert_eq!(driver.pending(), 1);
    assert_eq!(cause_of(&call), None);
    driver.advance_by(Duration::from_secs(1));
    for t in [call.token(), step.token(), later.token()] {
        assert_eq!(t.reason(), Some(Reason::DeadlineExceeded));
        assert_eq!(cause_of(&t).as_deref(), Some("call budget"));
    }
    assert!(!root.is_cancelled());
    let at = driver.now() + Duration::from_secs(2);
    let query = root.child_with_deadline_cause_on(&driver, at, &DB);
    driver.advance_by(Duration::from_secs(2));
    assert_eq!(cause_of(&query).as_deref(), Some("db budget"));
    assert_eq!(driver.pending(), 0);
}

/// Any other cancel that comes first reports its own cause: the source's
/// (with or without one), an ancestor's, or an earlier deadline's.
#[test]
fn another_cancel_reports_its_own_cause() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let a = root.child_with_timeout_cause_on(&driver, MIN, &DB);
    a.cancel();
    assert_eq!((a.reason(), cause_of(&a)), (Some(Reason::Cancelled), None));
    let b = root.child_with_timeout_cause_on(&driver, MIN, &DB);
    b.cancel_with(&SHUTDOWN);
    assert_eq!(cause_of(&b).as_deref(), Some("shutdown"));
    let request = root.child();
    let c = request.child_with_timeout_cause_on(&driver, MIN, &DB);
    request.cancel_with(&SHUTDOWN);
    assert_eq!(
        (c.reason(), cause_of(&c).as_deref()),
        (Some(Reason::Cancelled), Some("shutdown"))
    );
    let d = root.child_with_timeout_cause_on(&driver, MIN, &DB);
    d.cancel_with(&SHUTDOWN);
    driver.advance_by(MIN); // nothing left to fire
    assert_eq!(cause_of(&d).as_deref(), Some("shutdown"));
    assert_eq!(driver.pending(), 0);
    // A parent's earlier deadline, without a cause, then with one.
    let outer = root.child_with_timeout_on(&driver, Duration::from_secs(1));
    let inner = outer.child_with_timeout_cause_on(&driver, MIN, &DB);
    assert_eq!(driver.pending(), 1, "covered: the child arms no timer");
    driver.advance_by(Duration::from_secs(1));
    assert_eq!(
        (inner.reason(), cause_of(&inner)),
        (Some(Reason::DeadlineExceeded), None)
    );
    let outer = root.child_with_timeout_cause_on(&driver, Duration::from_secs(1), &CALL);
    let inner = outer.child_with_timeout_cause_on(&driver, MIN, &DB);
    driver.advance_by(Duration::from_secs(1));
    assert_eq!(cause_of(&inner).as_deref(), Some("call budget"));
    // A parent on another driver expiring first.
    let other = ManualDriver::new();
    let outer = root.child_with_timeout_on(&other, Duration::from_secs(1));
    let inner = outer.child_with_timeout_cause_on(&driver, MIN, &DB);
    other.advance_by(Duration::from_secs(1));
    assert_eq!(
        (inner.reason(), cause_of(&inner)),
        (Some(Reason::DeadlineExceeded), None)
    );
    assert_eq!((driver.pending(), other.pending()), (0, 0));
}

/// A deadline already due, or a driver that has stopped, expires the child
/// at once, with its cause, also below a parent with a later one.
#[test]
fn an_expiry_at_once_reports_its_cause() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let zero = root.child_with_timeout_cause_on(&driver, Duration::ZERO, &DB);
    assert_eq!(zero.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(cause_of(&zero).as_deref(), Some("db budget"));
    let past = root.child_with_deadline_cause_on(&driver, driver.now(), &DB);
    assert_eq!(cause_of(&past).as_deref(), Some("db budget"));
    let stopped = Stopped(Timers::new_shared());
    let job = root.child_with_timeout_cause_on(&stopped, MIN, &DB);
    assert_eq!(cause_of(&job).as_deref(), Some("db budget"));
    let outer = root.child_with_timeout_cause_on(&driver, MIN, &CALL);
    let due = outer.child_with_timeout_cause_on(&driver, Duration::ZERO, &DB);
    // Due as it is made; its own deadline is the one that is due.
    assert_eq!(cause_of(&due).as_deref(), Some("db budget"));
    assert!(!outer.is_cancelled());
    assert_eq!(driver.pending(), 1);
}

/// A timed parent with an expiry cause keeps no spare (its slot holds the
/// cause), and a spare of either kind serves a child with or without one.
#[test]
fn an_expiry_cause_and_spares() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let call = root.child_with_timeout_cause_on(&driver, MIN, &CALL);
    for _ in 0..3 {
        drop(call.child());
        drop(call.child_with_timeout_on(&driver, Duration::from_secs(1)));
    }
    // The root keeps a timed spare: a child with a cause is made in it, and
    // one without after it.
    drop(root.child_with_timeout_on(&driver, MIN));
    let caused = root.child_with_timeout_cause_on(&driver, Duration::from_secs(1), &DB);
    drop(root.child_with_timeout_cause_on(&driver, MIN, &DB));
    let plain = root.child_with_timeout_on(&driver, Duration::from_secs(1));
    driver.advance_by(Duration::from_secs(1));
    assert_eq!(cause_of(&caused).as_deref(), Some("db budget"));
    assert_eq!(
        (plain.reason(), cause_of(&plain)),
        (Some(Reason::DeadlineExceeded), None)
    );
    driver.advance_by(MIN);
    assert_eq!(cause_of(&call).as_deref(), Some("call budget"));
    assert_eq!(driver.pending(), 0);
}

/// A `PinnedDeadline` with a cause: its firing reports it, a cancel its own.
#[test]
fn a_pinned_deadline_with_a_cause() {
    use cancel_token::{PinnedDeadline, TickDriver};
    use core::pin::pin;
    static ROOT: StaticSource = StaticSource::new();
    static TICKS: TickDriver = TickDriver::new();
    let now = TICKS.now();
    let fired = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, now + 2).with_cause(&DB));
    let fired = fired.into_ref();
    let stopped = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, now + 2).with_cause(&DB));
    let stopped = stopped.into_ref();
    let below = pin!(cancel_token::PinnedChild::new(fired.token()));
    let below = below.into_ref();
    stopped.cancel_with(&SHUTDOWN);
    assert!(fired.cause().is_none() && below.cause().is_none());
    TICKS.advance_to(now + 2);
    assert_eq!(fired.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(
        fired.cause().map(|c| c.to_string()).as_deref(),
        Some("db budget")
    );
    assert_eq!(
        below.cause().map(|c| c.to_string()).as_deref(),
        Some("db budget")
    );
    assert_eq!(
        stopped.cause().map(|c| c.to_string()).as_deref(),
        Some("shutdown")
    );
    assert_eq!(TICKS.pending(), 0);
}
