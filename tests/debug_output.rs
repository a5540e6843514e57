//! What `Debug` prints for each public type: the reason of a token or
//! source, and the fields each driver and timer set shows.

use std::pin::pin;
use std::time::Duration;

use cancel_token::{
    CancelSource, CancelToken, DriverStopped, ManualDriver, PinnedChild, PinnedDeadline,
    PinnedLinked, PinnedOnCancel, Reason, StaticSource, TickDriver, TimerDriver, Timers,
    TimersHandle,
};

fn dbg(x: &impl std::fmt::Debug) -> String {
    format!("{x:?}")
}

/// `s` with the number after `now: ` replaced by `_`, for clocks that run.
fn any_now(s: &str) -> String {
    let Some(at) = s.find("now: ") else {
        return s.to_owned();
    };
    let rest = &s[at + 5..];
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    assert!(digits > 0, "{s}");
    format!("{}now: _{}", &s[..at], &rest[digits..])
}

/// On a tree's clock a token also shows the time it has left, so a log of
/// it reads in real time and not only in the driver's ticks.
#[test]
fn a_token_on_its_trees_clock_prints_the_time_left() {
    let driver = ManualDriver::new(); // 1 µs ticks
    let root = CancelSource::with_clock(driver.clone());
    let request = root.child_with_timeout(Duration::from_millis(250));
    driver.advance_by(Duration::from_millis(100));
    assert_eq!(
        dbg(&request.token()),
        "CancelToken { reason: None, cause: None, deadline: Some(Deadline { ticks: 250000 }), remaining: 150ms }"
    );
    driver.advance_by(Duration::from_millis(150));
    assert_eq!(
        dbg(&request),
        "CancelSource { reason: Some(DeadlineExceeded), cause: None, deadline: Some(Deadline { ticks: 250000 }), remaining: 0ns }"
    );
}

#[test]
fn tokens_and_sources_print_their_reason() {
    let source = CancelSource::new();
    let token = source.token();
    let child = token.child();
    assert_eq!(
        dbg(&source),
        "CancelSource { reason: None, cause: None, deadline: None }"
    );
    assert_eq!(
        dbg(&token),
        "CancelToken { reason: None, cause: None, deadline: None }"
    );
    assert_eq!(
        dbg(&token.as_token_ref()),
        "TokenRef { reason: None, cause: None, deadline: None }"
    );
    assert_eq!(
        dbg(&CancelToken::never()),
        "CancelToken { reason: None, cause: None, deadline: None }"
    );
    let waiting = token.cancelled();
    assert_eq!(dbg(&waiting), "Cancelled { reason: None, .. }");
    let owned = token.clone().cancelled_owned();
    assert_eq!(dbg(&owned), "CancelledOwned { reason: None, .. }");
    let callback = token.on_cancel(|_| {});
    assert_eq!(dbg(&callback), "OnCancel { registered: true }");

    source.cancel();
    assert_eq!(
        dbg(&source),
        "CancelSource { reason: Some(Cancelled), cause: None, deadline: None }"
    );
    assert_eq!(
        dbg(&token),
        "CancelToken { reason: Some(Cancelled), cause: None, deadline: None }"
    );
    assert_eq!(
        dbg(&token.as_token_ref()),
        "TokenRef { reason: Some(Cancelled), cause: None, deadline: None }"
    );
    assert_eq!(
        dbg(&child),
        "CancelSource { reason: Some(Cancelled), cause: None, deadline: None }"
    );
    assert_eq!(dbg(&waiting), "Cancelled { reason: Some(Cancelled), .. }");
    assert_eq!(
        dbg(&owned),
        "CancelledOwned { reason: Some(Cancelled), .. }"
    );
    assert_eq!(dbg(&callback), "OnCancel { registered: true }");
    let late = token.on_cancel(|_| {});
    assert_eq!(dbg(&late), "OnCancel { registered: false }");

    let driver = ManualDriver::new();
    let server = CancelSource::new();
    let timed = server.child_with_timeout_on(&driver, Duration::ZERO);
    assert_eq!(
        dbg(&timed),
        "CancelSource { reason: Some(DeadlineExceeded), cause: None, deadline: Some(Deadline { ticks: 0 }) }"
    );
    assert_eq!(
        dbg(&timed.token()),
        "CancelToken { reason: Some(DeadlineExceeded), cause: None, deadline: Some(Deadline { ticks: 0 }) }"
    );
    // The cause prints as its message.
    let stopped = server.child();
    stopped.cancel_with(&std::fmt::Error);
    assert_eq!(
        dbg(&stopped),
        "CancelSource { reason: Some(Cancelled), cause: Some(\"an error occurred when formatting an argument\"), deadline: None }"
    );
}

#[test]
fn static_and_pinned_types_print_their_reason() {
    static ROOT: StaticSource = StaticSource::new();
    static TICKS: TickDriver = TickDriver::new();
    assert_eq!(dbg(&ROOT), "StaticSource { reason: None }");
    assert_eq!(
        dbg(&ROOT.token()),
        "CancelToken { reason: None, cause: None, deadline: None }"
    );

    let other = CancelSource::new();
    let other_token = other.token();
    let child = pin!(PinnedChild::new(ROOT.token_ref()));
    let timed = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 10));
    let linked = pin!(PinnedLinked::new([
        ROOT.token_ref(),
        other_token.as_token_ref()
    ]));
    let (child, timed, linked) = (child.as_ref(), timed.as_ref(), linked.as_ref());
    let mut callback = pin!(PinnedOnCancel::new(child.token(), |_| {}));
    // Pinned nodes link (and a deadline arms) on first use.
    assert!(!child.is_cancelled() && !timed.is_cancelled() && !linked.is_cancelled());
    assert_eq!(dbg(&child), "PinnedChild { reason: None }");
    assert_eq!(dbg(&timed), "PinnedDeadline { reason: None }");
    assert_eq!(dbg(&linked), "PinnedLinked { parents: 2, reason: None }");
    assert_eq!(
        dbg(&child.token()),
        "TokenRef { reason: None, cause: None, deadline: None }"
    );
    assert_eq!(dbg(&callback), "PinnedOnCancel { phase: New }");
    callback.as_mut().arm();
    assert_eq!(dbg(&callback), "PinnedOnCancel { phase: Armed }");
    assert_eq!(dbg(&TICKS), "TickDriver { hz: 1000, now: 0, pending: 1 }");

    TICKS.advance_by(10);
    assert_eq!(
        dbg(&timed),
        "PinnedDeadline { reason: Some(DeadlineExceeded) }"
    );
    assert_eq!(dbg(&TICKS), "TickDriver { hz: 1000, now: 10, pending: 0 }");
    other.cancel();
    assert_eq!(
        dbg(&linked),
        "PinnedLinked { parents: 2, reason: Some(Cancelled) }"
    );
    child.cancel();
    assert_eq!(dbg(&child), "PinnedChild { reason: Some(Cancelled) }");
    assert_eq!(
        dbg(&child.token()),
        "TokenRef { reason: Some(Cancelled), cause: None, deadline: None }"
    );
    assert_eq!(dbg(&callback), "PinnedOnCancel { phase: Armed }");
    assert!(!callback.as_mut().disarm());
    assert_eq!(dbg(&callback), "PinnedOnCancel { phase: Disarmed(false) }");
    assert_eq!(dbg(&ROOT), "StaticSource { reason: None }");

    let mut unarmed = pin!(PinnedOnCancel::new(ROOT.token_ref(), |_| {}));
    assert!(unarmed.as_mut().disarm());
    assert_eq!(dbg(&unarmed), "PinnedOnCancel { phase: Disarmed(true) }");
}

#[test]
fn deadlines_timers_and_the_manual_driver_print_their_clock() {
    let driver = ManualDriver::new();
    assert_eq!(dbg(&driver), "ManualDriver { now: 0ns, pending: 0 }");
    let root = CancelSource::new();
    let job = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(5));
    assert_eq!(
        dbg(&job.token().deadline().unwrap()),
        "Deadline { ticks: 5000 }"
    );
    assert_eq!(dbg(&driver), "ManualDriver { now: 0ns, pending: 1 }");
    assert_eq!(dbg(&driver.timers()), "Timers { pending: 1, now: 0 }");
    driver.advance_by(Duration::from_millis(2));
    assert_eq!(dbg(&driver), "ManualDriver { now: 2ms, pending: 1 }");
    assert_eq!(dbg(&driver.timers()), "Timers { pending: 1, now: 2000 }");
    // A child inherits the deadline it is below.
    let step = job.token().child();
    assert_eq!(
        dbg(&step.token().deadline().unwrap()),
        "Deadline { ticks: 5000 }"
    );
    driver.advance_by(Duration::from_millis(3));
    assert_eq!(dbg(&driver), "ManualDriver { now: 5ms, pending: 0 }");
    assert_eq!(
        dbg(&step),
        "CancelSource { reason: Some(DeadlineExceeded), cause: None, deadline: Some(Deadline { ticks: 5000 }) }"
    );

    static TIMERS: Timers = Timers::new();
    assert_eq!(dbg(&TIMERS), "Timers { pending: 0, now: 0 }");
    TIMERS.advance_to(7);
    assert_eq!(dbg(&TIMERS), "Timers { pending: 0, now: 7 }");
    assert_eq!(
        dbg(&TimersHandle::from_static(&TIMERS)),
        "Timers { pending: 0, now: 7 }"
    );
    let shared = Timers::new_shared();
    shared.advance_to(3);
    assert_eq!(dbg(&shared), "Timers { pending: 0, now: 3 }");
    assert_eq!(
        dbg(&TimersHandle::from_shared(&shared)),
        "Timers { pending: 0, now: 3 }"
    );

    assert_eq!(dbg(&DriverStopped), "DriverStopped");
    assert_eq!(dbg(&Reason::Cancelled), "Cancelled");
    assert_eq!(dbg(&Reason::DeadlineExceeded), "DeadlineExceeded");
}

// Its timer thread outlives the test, which Miri reports.
#[test]
#[cfg_attr(miri, ignore)]
fn the_thread_driver_prints_its_clock_and_pending_deadlines() {
    let driver = cancel_token::ThreadDriver::new();
    assert_eq!(
        any_now(&dbg(&driver)),
        "ThreadDriver { now: _, pending: 0 }"
    );
    let root = CancelSource::new();
    let job = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_secs(600));
    assert_eq!(
        any_now(&dbg(&driver)),
        "ThreadDriver { now: _, pending: 1 }"
    );
    drop(job);
    assert_eq!(
        any_now(&dbg(&driver)),
        "ThreadDriver { now: _, pending: 0 }"
    );
}

#[cfg(feature = "tokio")]
#[test]
fn the_tokio_driver_prints_its_clock_pending_deadlines_and_whether_it_runs() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let driver = cancel_token::TokioDriver::new();
        assert_eq!(
            any_now(&dbg(&driver)),
            "TokioDriver { now: _, pending: 0, running: true }"
        );
        let root = CancelSource::new();
        let _job = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_secs(600));
        assert_eq!(
            any_now(&dbg(&driver)),
            "TokioDriver { now: _, pending: 1, running: true }"
        );
    });
}

#[cfg(feature = "async-io")]
#[test]
fn the_async_io_driver_prints_its_clock_and_deadlines() {
    let driver = cancel_token::AsyncIoDriver::new();
    assert_eq!(
        any_now(&dbg(&driver)),
        "AsyncIoDriver { now: _, pending: 0 }"
    );
    let root = CancelSource::new();
    let call = root.child_with_timeout_on(&driver, Duration::from_secs(3600));
    assert_eq!(
        any_now(&dbg(&driver)),
        "AsyncIoDriver { now: _, pending: 1 }"
    );
    drop(call);
}

#[cfg(feature = "embassy")]
#[test]
fn the_embassy_driver_prints_its_pending_deadlines() {
    static D: cancel_token::EmbassyDriver = cancel_token::EmbassyDriver::new();
    assert_eq!(dbg(&D), "EmbassyDriver { pending: 0 }");
}
