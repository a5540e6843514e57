//! The `std` runtime drivers (`thread`, `tokio`, `async_io`), each its
//! sleeper's loop on one millisecond core (`runtime`), and here the wake
//! protocol they share: `Sleeper`, and `NextWake`, the tick a driver's
//! sleeper sleeps until, shared with `wake_at` so that only a request for an
//! *earlier* tick wakes it.
//!
//! # Protocol
//!
//! The sleeper (a driver's task or thread; for `AsyncIoDriver`, turns taken
//! by whichever thread wakes it, one at a time, with its async-io timer as
//! the sleep and the next turn, owed to a wake-up during one, as the armed
//! wake-up) loops:
//!
//! 1. `served(now)`: requests at or before `now` are about to be served by
//!    the `Timers::advance_to(now)` that follows, so they are forgotten.
//! 2. `due = advance(now)`.
//! 3. Arm its wake-up (a `Notify` permit, an event listener), *then*
//!    `target(due)`: the earlier of `due` and every request still standing.
//! 4. Unless `should_end`, sleep until `target`, or until woken.
//!
//! `wake_at(t)` calls `request(t)` and wakes the sleeper only if it returns
//! `true`, that is if `t` is earlier than what the sleeper will wake at.
//!
//! # Why no request is lost
//!
//! `wake_at(t)` follows the insertion of a deadline at `t` (under the timers'
//! lock). If its `request` is ordered before the sleeper's `target` (both are
//! read-modify-writes of one atomic, so they are totally ordered), `target`
//! sees `t`. If after, `request` sees the sleeper's target: it wakes the
//! sleeper (whose wake-up was armed before `target`) when `t` is earlier, and
//! otherwise the sleeper wakes at a tick no later than `t` anyway.
//!
//! # Why the sleeper neither ends early nor lingers
//!
//! The sleeper ends once no handle is left (`closed`) and no deadline is
//! armed, so that a deadline armed through a handle since dropped still
//! fires. With no handle, no deadline can be armed any more, only disarmed
//! or fired. `should_end` reads `closed` after arming its wake-up, so a last
//! handle's drop (`close`, then a wake-up) that comes later wakes it. Once
//! `closed`, it checks the wheel under the timers' lock and, if a deadline
//! is armed, leaves its waker there (`Timers::wake_when_empty`): the disarm
//! that empties the wheel takes it under that lock and wakes it, so the
//! sleeper either sees the wheel empty or is woken by that disarm. The
//! deadlines it fires itself are gone before it checks.
//!
//! # Memory ordering
//!
//! `request` releases and `served` acquires: a request that `served` forgets
//! (at or before `now`) was made after its deadline was inserted, so that
//! insertion happens before the `advance(now)` that serves it.

#[cfg(all(feature = "async-io", not(cancel_token_loom)))]
pub(crate) mod async_io;
pub(crate) mod runtime;
pub(crate) mod thread;
#[cfg(feature = "tokio")]
pub(crate) mod tokio;

use crate::sync::{AtomicBool, AtomicU64, Ordering::*};

use crate::{DriverStopped, Timers};

/// What a runtime driver's handles share with its sleeper, besides the clock
/// and the way to wake it: the deadlines, the next wake, whether the last
/// handle is gone (`closed`, so the sleeper ends with the last deadline) and
/// whether the sleeper has ended (`running`).
pub(crate) struct Sleeper {
    /// Every deadline of the driver; armed tokens hold it too.
    pub(crate) timers: crate::SharedTimers,
    /// The tick the sleeper sleeps until.
    pub(crate) next: NextWake,
    closed: AtomicBool,
    running: AtomicBool,
}

impl Sleeper {
    pub(crate) fn new() -> Self {
        Sleeper {
            timers: Timers::new_shared(),
            next: NextWake::new(),
            closed: AtomicBool::new(false),
            running: AtomicBool::new(true),
        }
    }

    /// From the last handle's drop: the sleeper ends once no deadline is
    /// armed (the caller then wakes it, to check).
    pub(crate) fn close(&self) {
        // Release: pairs with the Acquire load in `should_end`.
        self.closed.store(true, Release);
    }

    /// From the sleeper, once its wake-up is armed: whether it is to end, as
    /// no handle is left and no deadline is armed. If a handle is gone but a
    /// deadline is armed, `waker` is woken when the last one is disarmed.
    pub(crate) fn should_end(&self, waker: &core::task::Waker) -> bool {
        // Acquire: pairs with the Release store in `close`.
        self.closed.load(Acquire) && !self.timers.wake_when_empty(waker)
    }

    /// Whether the sleeper still exists.
    pub(crate) fn is_running(&self) -> bool {
        // Acquire: pairs with the Release store in `stopped`.
        self.running.load(Acquire)
    }

    /// From the sleeper as it goes away (a drop guard, so also when its
    /// runtime drops it unpolled): deadlines armed from now on fail with
    /// `DriverStopped`. Every deadline still armed (there is none if it ended
    /// by `should_end`; its runtime may have gone away) expires now, and the
    /// wheel stays at the end of time so that one armed later is due at once
    /// (even one armed by a `wake_at` that saw `running` still set).
    pub(crate) fn stopped(&self) {
        // Release: pairs with the Acquire load in `request`.
        self.running.store(false, Release);
        advance(&self.timers, u64::MAX);
        // The waker may hold the sleeper's state, which holds the timers.
        self.timers.forget_idle();
    }

    /// From `wake_at`: whether the sleeper must be woken for `tick`, or
    /// `DriverStopped` if it is gone. Wait-free.
    pub(crate) fn request(&self, tick: u64) -> Result<bool, DriverStopped> {
        if !self.is_running() {
            return Err(DriverStopped);
        }
        Ok(self.next.request(tick))
    }

    /// From the sleeper, at tick `now`: forgets the requests this serves and
    /// fires what is due; returns the next tick due (`u64::MAX` for none).
    pub(crate) fn fire(&self, now: u64) -> u64 {
        self.next.served(now);
        advance(&self.timers, now)
    }
}

/// The tick a driver's sleeper will next call `Timers::advance_to` at; `u64::MAX`
/// when it sleeps until woken.
pub(crate) struct NextWake(AtomicU64);

impl NextWake {
    /// No request yet.
    pub(crate) fn new() -> Self {
        NextWake(AtomicU64::new(u64::MAX))
    }

    /// From `wake_at`: asks for a call of `advance` at `tick`. Returns whether
    /// that is earlier than the sleeper's current target, so it must be woken.
    /// Wait-free (one `fetch_min`).
    pub(crate) fn request(&self, tick: u64) -> bool {
        // AcqRel: the Release half publishes the deadline's insertion to the
        // `served` that forgets this request (see the module docs). The
        // Acquire half is not needed: the target read here carries no data,
        // and the wake-up it leads to synchronises by its own primitive.
        self.0.fetch_min(tick, AcqRel) > tick
    }

    /// From the sleeper, before `advance(now)`: forgets the requests that call serves.
    pub(crate) fn served(&self, now: u64) {
        // AcqRel: the Acquire half acquires the insertions of the requests it
        // forgets (pairs with the Release in `request`); the Release half is
        // not needed (what the sleeper did before publishes nothing).
        let _ = self
            .0
            .fetch_update(AcqRel, Acquire, |t| (t <= now).then_some(u64::MAX));
    }

    /// From the sleeper, after `advance` returned `due` (`u64::MAX` for none):
    /// the tick to sleep until. Requests made from now on compare against it.
    pub(crate) fn target(&self, due: u64) -> u64 {
        // AcqRel, though Relaxed would do: the total order with `request` that
        // the module docs use is this atomic's modification order, which holds
        // at any ordering, and the insertions of the requests read here are
        // acquired by the next `served` before the `advance` that serves them.
        self.0.fetch_min(due, AcqRel).min(due)
    }
}

/// Calls `timers.advance_to(now)` and returns the next tick due (`u64::MAX` for
/// none). A panic from a callback run by an expiring token (already reported
/// by the panic hook) is caught so the driver keeps firing the others: the
/// sleeper is shared by every token of the driver, and one bad callback must
/// not stop them all.
pub(crate) fn advance(timers: &crate::Timers, now: u64) -> u64 {
    loop {
        let fired =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| timers.advance_to(now)));
        if let Ok(next) = fired {
            return next.unwrap_or(u64::MAX);
        }
    }
}

/// A driver that is only its sleeper's bookkeeping, for loom models of the
/// protocol: the model plays the sleeper (`fire`, `target`, `wait_woken`,
/// `should_end`) and the last handle's drop (`close`). Ticks are
/// milliseconds; instants are ticks. `wake_at` wakes `wait_woken` when its
/// request says the sleeper must be woken.
#[cfg(cancel_token_loom)]
#[derive(Clone)]
pub struct LoomSleeper(std::sync::Arc<Sleeper>, std::sync::Arc<loom::sync::Notify>);

#[cfg(cancel_token_loom)]
impl LoomSleeper {
    /// A sleeper with no deadline and a handle.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        LoomSleeper(
            std::sync::Arc::new(Sleeper::new()),
            std::sync::Arc::new(loom::sync::Notify::new()),
        )
    }

    /// See `Sleeper::close`.
    pub fn close(&self) {
        self.0.close();
    }

    /// See `Sleeper::fire`.
    pub fn fire(&self, now: u64) -> u64 {
        self.0.fire(now)
    }

    /// See `NextWake::target`: the tick the sleeper sleeps until, after a
    /// `fire` that returned `due`.
    pub fn target(&self, due: u64) -> u64 {
        self.0.next.target(due)
    }

    /// Sleeps until a `wake_at` wakes the sleeper (or returns at once if one
    /// did since the last call).
    pub fn wait_woken(&self) {
        self.1.wait();
    }

    /// See `Sleeper::should_end`.
    pub fn should_end(&self, waker: &core::task::Waker) -> bool {
        self.0.should_end(waker)
    }

    /// How many deadlines are armed.
    pub fn pending(&self) -> usize {
        self.0.timers.pending()
    }
}

#[cfg(cancel_token_loom)]
impl crate::TimerDriver for LoomSleeper {
    type Instant = u64;

    fn now(&self) -> u64 {
        self.0.timers.now()
    }

    fn ticks_at(&self, at: u64) -> u64 {
        at
    }

    fn instant_at(&self, ticks: u64) -> u64 {
        ticks
    }

    fn duration_ticks(&self, d: core::time::Duration) -> u64 {
        crate::time::ticks_ceil(d, runtime::MS_HZ)
    }

    fn ticks_duration(&self, ticks: u64) -> core::time::Duration {
        core::time::Duration::from_millis(ticks)
    }

    fn timers(&self) -> crate::TimersHandle<'_> {
        crate::TimersHandle::from_shared(&self.0.timers)
    }

    /// Wakes `wait_woken` when the request says so, as a runtime driver
    /// wakes its sleeper.
    fn wake_at(&self, tick: u64) -> Result<(), DriverStopped> {
        if self.0.request(tick)? {
            self.1.notify();
        }
        Ok(())
    }
}
