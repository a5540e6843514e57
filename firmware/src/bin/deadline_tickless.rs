//! Deadlines on a tickless clock: no periodic interrupt. SysTick is a one-shot
//! alarm programmed for `TICKS.next_expiration()`; its handler advances the
//! `TickDriver` to the alarm's tick with `advance_to` and programs the next
//! alarm from the tick that returns, or stops SysTick when none is left.
//!
//! Phase A: three `PinnedDeadline`s at ticks 30, 5 and 12 (armed in that
//! order) fire in deadline order, each at exactly its tick, recorded by the
//! handler from the waiters it woke; thread mode sleeps in `block_on` on the
//! last one. SysTick interrupts at most 6 times (3 in a normal run), not once
//! per tick, and is stopped afterwards with the wheel empty.
//!
//! Phase B: deadlines armed while the alarm is stopped or already running.
//! A deadline 1448 ticks out, more than SysTick's 24-bit counter can time in
//! one alarm (1398 ticks of 12 000 cycles), restarts the stopped alarm
//! (`rearm`) at its longest. Once a few ticks of it have passed, `catch_up`
//! brings `TICKS.now()` up to the time of day, and a 10 ms deadline counted
//! from there brings the running alarm forward. Both fire in order, neither
//! early, the far one at exactly its tick through the split gap, with few
//! interrupts.
//!
//! The wiring (everything between the "wiring" markers) is copied into
//! firmware/README.md, "Wiring SysTick to the tick wheel".
#![no_std]
#![no_main]

use core::pin::pin;
use core::sync::atomic::{AtomicBool, AtomicU32};
use core::time::Duration;

use cancel_token::{PinnedDeadline, Reason, StaticSource, TickDriver};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{SCB, SYST};
use harness::atomic::{AtomicUsize, Ordering::Relaxed};
use harness::exec::{block_on, flag_waker, poll_once};
use harness::{check, entry, exception};

// ---- wiring (copied into firmware/README.md) ----
/// Core cycles per tick: 1 ms at 12 MHz.
const CYCLES_PER_TICK: u32 = 12_000;
/// The longest alarm SysTick's 24-bit counter can time, in ticks.
const MAX_ALARM_TICKS: u64 = (0x0100_0000 / CYCLES_PER_TICK) as u64;

static TICKS: TickDriver = TickDriver::new();
/// Length in ticks of the alarm SysTick is counting down; 0 when stopped.
static ALARM_LEN: AtomicU32 = AtomicU32::new(0);
/// Ticks of that alarm already added to `TICKS` by `catch_up`.
static ALARM_SEEN: AtomicU32 = AtomicU32::new(0);

/// Programs SysTick to interrupt when `TICKS` reaches `next`, or stops it.
/// Called from the SysTick handler or with interrupts disabled.
fn set_alarm(next: Option<u64>) {
    // SAFETY: SysTick is only touched here and in `catch_up`, never concurrently.
    let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
    ALARM_SEEN.store(0, Relaxed);
    match next {
        Some(at) => {
            let ticks = at.saturating_sub(TICKS.now()).clamp(1, MAX_ALARM_TICKS) as u32;
            syst.set_reload(ticks * CYCLES_PER_TICK - 1);
            syst.clear_current();
            syst.enable_counter();
            ALARM_LEN.store(ticks, Relaxed);
        }
        None => {
            syst.disable_counter();
            ALARM_LEN.store(0, Relaxed);
        }
    }
    // A wrap of the old countdown must not fire the new alarm early.
    SCB::clear_pendst();
}

#[exception]
fn SysTick() {
    let len = ALARM_LEN.load(Relaxed);
    if len == 0 {
        return; // stopped
    }
    let target = TICKS.now() + u64::from(len - ALARM_SEEN.load(Relaxed));
    let next = TICKS.advance_to(target); // fires what is due, returns the next tick
    set_alarm(next);
    after_alarm(); // (test bookkeeping, not part of the wiring)
}

/// Adds the whole ticks of the running alarm that have passed to `TICKS`, so
/// that `TICKS.now()` is the time of day (to within a tick). Call it with
/// interrupts disabled, before computing a timeout from `TICKS.now()`.
fn catch_up() {
    let len = ALARM_LEN.load(Relaxed);
    if len == 0 || SCB::is_pendst_pending() {
        return; // stopped, or the handler is about to run
    }
    let left = SYST::get_current();
    if left == 0 {
        return; // just restarted, not loaded yet
    }
    let passed = (len * CYCLES_PER_TICK - 1 - left) / CYCLES_PER_TICK;
    let seen = ALARM_SEEN.load(Relaxed);
    if passed > seen {
        TICKS.advance_to(TICKS.now() + u64::from(passed - seen));
        ALARM_SEEN.store(passed, Relaxed);
    }
}

/// After arming a deadline outside the handler: start the alarm if it is
/// stopped, or bring it forward if the new deadline is earlier.
fn rearm() {
    cortex_m::interrupt::free(|_| {
        catch_up();
        if SCB::is_pendst_pending() {
            return; // the handler runs next and programs the next alarm
        }
        let Some(next) = TICKS.next_expiration() else {
            return;
        };
        let len = ALARM_LEN.load(Relaxed);
        let fires_at = TICKS.now() + u64::from(len - ALARM_SEEN.load(Relaxed));
        if len == 0 || next < fires_at {
            set_alarm(Some(next));
        }
    })
}
// ---- end of wiring ----

static ROOT: StaticSource = StaticSource::new();

/// Deadlines watched by the handler: 0..3 phase A (5, 12, 30), 3..5 phase B.
const N: usize = 5;
#[allow(clippy::declare_interior_mutable_const)]
const FALSE: AtomicBool = AtomicBool::new(false);
/// Set by the waker of the waiter on deadline `i`.
static WOKEN: [AtomicBool; N] = [FALSE; N];
#[allow(clippy::declare_interior_mutable_const)]
const UNSET: AtomicU32 = AtomicU32::new(u32::MAX);
/// Tick at which the handler saw waiter `i` woken; `u32::MAX`: not yet.
static FIRED_AT: [AtomicU32; N] = [UNSET; N];
/// Waiters in the order the handler saw them woken.
static ORDER: [AtomicU32; N] = [UNSET; N];
/// The longest alarm the handler programmed, in ticks.
static LONGEST_ALARM: AtomicU32 = AtomicU32::new(0);
static NFIRED: AtomicUsize = AtomicUsize::new(0);
/// SysTick interrupts taken.
static ALARMS: AtomicUsize = AtomicUsize::new(0);

/// In the handler, after `advance_to`: records which waiters were just woken.
fn after_alarm() {
    ALARMS.store(ALARMS.load(Relaxed) + 1, Relaxed);
    let len = ALARM_LEN.load(Relaxed);
    if len > LONGEST_ALARM.load(Relaxed) {
        LONGEST_ALARM.store(len, Relaxed);
    }
    for i in 0..N {
        if WOKEN[i].load(Relaxed) && FIRED_AT[i].load(Relaxed) == u32::MAX {
            FIRED_AT[i].store(TICKS.now() as u32, Relaxed);
            let n = NFIRED.load(Relaxed);
            ORDER[n].store(i as u32, Relaxed);
            NFIRED.store(n + 1, Relaxed);
        }
    }
}

fn order() -> [u32; N] {
    core::array::from_fn(|i| ORDER[i].load(Relaxed))
}

#[entry]
fn main() -> ! {
    // SysTick on the core clock, its interrupt on, its counter off; from here
    // on only `set_alarm` and `catch_up` touch it.
    let mut syst = cortex_m::Peripherals::take().unwrap().SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.disable_counter();
    syst.enable_interrupt();

    // ---- phase A: 5, 12 and 30 ticks, armed out of order ----
    const AT: [u64; 3] = [5, 12, 30];
    let d30 = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, AT[2]));
    let d5 = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, AT[0]));
    let d12 = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, AT[1]));
    let (d5, d12, d30) = (d5.into_ref(), d12.into_ref(), d30.into_ref());
    let mut w30 = pin!(d30.token().cancelled());
    let mut w5 = pin!(d5.token().cancelled());
    let mut w12 = pin!(d12.token().cancelled());
    check!(poll_once(w30.as_mut(), &flag_waker(&WOKEN[2])).is_pending());
    check!(poll_once(w5.as_mut(), &flag_waker(&WOKEN[0])).is_pending());
    check!(poll_once(w12.as_mut(), &flag_waker(&WOKEN[1])).is_pending());
    check!(TICKS.pending() == 3, "pending = {}", TICKS.pending());
    check!(
        TICKS.next_expiration() == Some(5),
        "next {:?}",
        TICKS.next_expiration()
    );
    check!(ALARM_LEN.load(Relaxed) == 0);

    // Starts the alarm for tick 5 (read in the same critical section: a slow
    // host could otherwise let it fire before the check).
    let len = cortex_m::interrupt::free(|_| {
        rearm();
        ALARM_LEN.load(Relaxed)
    });
    check!(len == 5, "alarm of {} ticks", len);
    let (reason, polls_a) = block_on(d30.token().cancelled());
    let alarms_a = ALARMS.load(Relaxed);

    check!(reason == Reason::DeadlineExceeded, "woke with {:?}", reason);
    check!(
        NFIRED.load(Relaxed) == 3,
        "{} of 3 fired",
        NFIRED.load(Relaxed)
    );
    let ord = order();
    check!(ord[..3] == [0, 1, 2], "fired out of order: {:?}", &ord[..3]);
    for (i, &at) in AT.iter().enumerate() {
        let fired = FIRED_AT[i].load(Relaxed);
        check!(
            u64::from(fired) == at,
            "deadline {} fired at tick {}",
            at,
            fired
        );
    }
    for d in [d5, d12, d30] {
        check!(d.token().reason() == Some(Reason::DeadlineExceeded));
    }
    check!(
        alarms_a <= 6,
        "{} alarm interrupts for 3 deadlines",
        alarms_a
    );
    check!(alarms_a >= 3);
    check!(TICKS.now() == 30, "now = {}", TICKS.now());
    check!(TICKS.pending() == 0 && TICKS.next_expiration().is_none());
    check!(ALARM_LEN.load(Relaxed) == 0, "alarm not stopped");
    check!(!ROOT.is_cancelled());

    // ---- phase B: arming while the alarm is stopped, then while it runs ----
    // `far` is further out than SysTick can time: its gap is split.
    let start_b = TICKS.now();
    let far_ticks = MAX_ALARM_TICKS + 50;
    let far = pin!(PinnedDeadline::with_timeout(
        ROOT.token_ref(),
        &TICKS,
        Duration::from_millis(far_ticks)
    ));
    let far = far.into_ref();
    let far_at = start_b + far_ticks;
    let mut w_far = pin!(far.token().cancelled());
    check!(poll_once(w_far.as_mut(), &flag_waker(&WOKEN[4])).is_pending());
    // The alarm was stopped: rearm starts it, for as long as SysTick can count.
    let len = cortex_m::interrupt::free(|_| {
        rearm();
        ALARM_LEN.load(Relaxed)
    });
    check!(
        u64::from(len) == MAX_ALARM_TICKS,
        "first alarm {} ticks, max {}",
        len,
        MAX_ALARM_TICKS
    );

    // Let a few ticks of the running alarm pass; `catch_up` makes them count.
    let mut spins = 0u32;
    while TICKS.now() < start_b + 3 {
        cortex_m::interrupt::free(|_| catch_up());
        spins += 1;
    }
    // A 10 ms deadline counted from the caught-up clock (read in the same
    // critical section, so `near_at` is its deadline).
    let (now_b, near) = cortex_m::interrupt::free(|_| {
        catch_up();
        let now = TICKS.now();
        (
            now,
            PinnedDeadline::with_timeout(ROOT.token_ref(), &TICKS, Duration::from_millis(10)),
        )
    });
    let near_at = now_b + 10;
    check!(
        near_at < far_at,
        "now {}: the far deadline {} is too close",
        now_b,
        far_at
    );
    let near = pin!(near);
    let near = near.into_ref();
    let mut w_near = pin!(near.token().cancelled());
    check!(poll_once(w_near.as_mut(), &flag_waker(&WOKEN[3])).is_pending());
    check!(TICKS.pending() == 2, "pending = {}", TICKS.pending());
    // The running alarm is later: rearm brings it forward.
    let fires_at = cortex_m::interrupt::free(|_| {
        rearm();
        TICKS.now() + u64::from(ALARM_LEN.load(Relaxed) - ALARM_SEEN.load(Relaxed))
    });
    check!(
        fires_at <= near_at || near.is_cancelled(),
        "alarm at tick {} after rearm, near deadline {}",
        fires_at,
        near_at
    );

    let alarms_before_b = ALARMS.load(Relaxed);
    let (reason, polls_b) = block_on(far.token().cancelled());
    let alarms_b = ALARMS.load(Relaxed) - alarms_before_b;
    check!(reason == Reason::DeadlineExceeded, "woke with {:?}", reason);
    check!(
        NFIRED.load(Relaxed) == 5,
        "{} of 5 fired",
        NFIRED.load(Relaxed)
    );
    let ord = order();
    check!(
        ord[3..5] == [3, 4],
        "phase B fired out of order: {:?}",
        &ord[3..5]
    );
    let (near_fired, far_fired) = (FIRED_AT[3].load(Relaxed), FIRED_AT[4].load(Relaxed));
    check!(
        u64::from(near_fired) >= near_at,
        "near fired early: tick {} < {}",
        near_fired,
        near_at
    );
    check!(
        u64::from(far_fired) == far_at,
        "far fired at tick {}, deadline {}",
        far_fired,
        far_at
    );
    // Expected 4: near, then far's gap in a maximal alarm, its wheel slot's
    // start, and its tick.
    check!(
        alarms_b <= 6,
        "{} alarm interrupts for 2 deadlines",
        alarms_b
    );
    check!(u64::from(LONGEST_ALARM.load(Relaxed)) <= MAX_ALARM_TICKS);
    check!(TICKS.pending() == 0 && ALARM_LEN.load(Relaxed) == 0);
    check!(!ROOT.is_cancelled());

    harness::pass(format_args!(
        "deadline_tickless: 5/12/30 fired in order at ticks {}/{}/{} with {} alarm interrupts \
         ({} polls); armed while stopped or running: deadlines at {} ({} ticks out, > {} per \
         alarm) and {} fired in order at {} and {} with {} alarm interrupts ({} polls, {} \
         catch-up spins)",
        FIRED_AT[0].load(Relaxed),
        FIRED_AT[1].load(Relaxed),
        FIRED_AT[2].load(Relaxed),
        alarms_a,
        polls_a,
        far_at,
        far_ticks,
        MAX_ALARM_TICKS,
        near_at,
        near_fired,
        far_fired,
        alarms_b,
        polls_b,
        spins
    ))
}
