//! `AsyncIoDriver`: deadlines on async-io's reactor, for smol and async-std.

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::time::Instant;

use crate::next_wake::{self, Sleeper};
use crate::sync::WakerSlot;
use crate::timers::{DriverStopped, TimerDriver, TimersHandle};

/// What the driver's handles and its run future share.
struct Shared {
    /// The run future is the sleeper; its drop stops it.
    sleeper: Sleeper,
    /// Tick 0.
    start: Instant,
    /// The run future's waker: woken for an earlier tick or to end.
    waker: WakerSlot,
}

impl Shared {
    /// The tick the clock is at (whole milliseconds since `start`).
    fn tick_now(&self) -> u64 {
        next_wake::ms_floor(self.start.elapsed())
    }

    /// The instant of tick `ticks`, if `Instant` can represent it.
    fn checked_instant_at(&self, ticks: u64) -> Option<Instant> {
        self.start.checked_add(Duration::from_millis(ticks))
    }
}

/// Shared by every clone; dropping it (with the last clone) ends the run future.
struct Owner {
    shared: Arc<Shared>,
}

/// A timer driver on the reactor of [`async-io`](https://docs.rs/async-io),
/// the runtime behind smol and async-std. Ticks are milliseconds since
/// [`new`](Self::new); instants are [`std::time::Instant`]s.
///
/// async-io has no spawn, so `new` also returns the driver's run future,
/// [`AsyncIoRun`], for you to spawn on your executor:
///
/// ```
/// use std::time::Duration;
/// use cancel_token::{AsyncIoDriver, CancelSource, Reason};
///
/// let (driver, run) = AsyncIoDriver::new();
/// smol::spawn(run).detach(); // async-std: `async_std::task::spawn(run);`
///
/// smol::block_on(async {
///     let root = CancelSource::new();
///     let call = root.token().child_with_timeout(&driver, Duration::from_millis(20));
///     let slow = smol::Timer::after(Duration::from_secs(10));
///     assert_eq!(call.token().run_until_cancelled(slow).await, Err(Reason::DeadlineExceeded));
/// });
/// ```
///
/// **Deadlines fire only while the run future is being polled.** Arming one
/// before the executor first polls it is fine: it picks every armed deadline
/// up when it starts. A run future that exists but is never polled fires
/// nothing, and the driver cannot tell.
///
/// One async-io timer serves every deadline of the driver: arming and
/// disarming touch no async-io timer and allocate nothing beyond the child
/// token itself; the run future is woken only when a token arms a deadline
/// earlier than the one it sleeps until.
///
/// Clones share the driver (and its run future). Keep one for as long as its
/// deadlines should fire, for instance in the server's state.
///
/// # Shutdown
///
/// - Dropping the last clone completes the run future. Deadlines still armed
///   then never fire; their tokens keep working (cancel, drop, children) as
///   tokens of a [`ManualDriver`](crate::ManualDriver) that is never advanced.
/// - If the run future is dropped while a clone is alive (it was never
///   spawned, or its executor was dropped), nothing can fire this driver's
///   deadlines any more. Every deadline still armed then expires at once (its
///   token is cancelled with
///   [`Reason::DeadlineExceeded`](crate::Reason::DeadlineExceeded), from the
///   thread dropping the future), and a deadline armed later is cancelled with
///   `DeadlineExceeded` as it is armed ([`TimerDriver::wake_at`] returns
///   [`DriverStopped`]; [`is_running`](Self::is_running) tells). This is the
///   choice [`TimerDriver`] documents for a stopped driver, extended to the
///   deadlines already armed so that no one waits forever on a deadline that
///   can no longer pass.
///
/// # Panics
///
/// A panic in a callback run by an expiring deadline is reported by the panic
/// hook on the run future's thread and caught there: the driver keeps firing.
pub struct AsyncIoDriver {
    owner: Arc<Owner>,
}

/// The future that fires an [`AsyncIoDriver`]'s deadlines: spawn it on your
/// executor (`smol::spawn(run).detach()`, `async_std::task::spawn(run)`).
///
/// It sleeps on an `async_io::Timer` until the earliest deadline is due,
/// fires every due deadline (cancelling those tokens, running their callbacks
/// on the executor's thread), and sleeps again. It completes once every
/// [`AsyncIoDriver`] handle is dropped; dropped before that, it stops the
/// driver (see [`AsyncIoDriver`]'s *Shutdown*).
#[must_use = "deadlines fire only while the run future is polled: spawn it"]
pub struct AsyncIoRun {
    shared: Arc<Shared>,
    /// One timer for the earliest deadline, re-armed with `set_at`.
    timer: async_io::Timer,
    /// The tick `timer` is set for, if it is set and has not fired.
    armed: Option<u64>,
}

impl AsyncIoDriver {
    /// A driver whose clock starts now, and its run future, to be spawned.
    ///
    /// ```
    /// let (driver, run) = cancel_token::AsyncIoDriver::new();
    /// let task = smol::spawn(run);
    /// drop(driver); // the last handle: the run future completes
    /// smol::block_on(task);
    /// ```
    pub fn new() -> (AsyncIoDriver, AsyncIoRun) {
        let shared = Arc::new(Shared {
            sleeper: Sleeper::new(),
            start: Instant::now(),
            waker: WakerSlot::new(),
        });
        let run = AsyncIoRun {
            shared: shared.clone(),
            timer: async_io::Timer::never(),
            armed: None,
        };
        let owner = Arc::new(Owner { shared });
        (AsyncIoDriver { owner }, run)
    }

    /// How many deadlines are armed.
    pub fn pending(&self) -> usize {
        self.owner.shared.sleeper.timers.pending()
    }

    /// Whether the run future still exists (false once it was dropped, or
    /// completed): while it is, deadlines can fire, if it is polled.
    pub fn is_running(&self) -> bool {
        self.owner.shared.sleeper.is_running()
    }
}

impl Clone for AsyncIoDriver {
    fn clone(&self) -> Self {
        AsyncIoDriver {
            owner: self.owner.clone(),
        }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.sleeper.close();
        self.shared.waker.wake();
    }
}

impl TimerDriver for AsyncIoDriver {
    type Instant = Instant;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn ticks_at(&self, at: Instant) -> u64 {
        next_wake::ms_ceil(at.saturating_duration_since(self.owner.shared.start))
    }

    /// The instant of tick `ticks`, or, past what `Instant` can represent,
    /// about 30 years after the driver's start.
    fn instant_at(&self, ticks: u64) -> Instant {
        next_wake::ms_instant(self.owner.shared.start, ticks)
    }

    fn duration_ticks(&self, d: Duration) -> u64 {
        next_wake::ms_ceil(d)
    }

    fn timers(&self) -> TimersHandle<'_> {
        TimersHandle::from_shared(&self.owner.shared.sleeper.timers)
    }

    /// Wakes the run future if `tick` is earlier than the one it sleeps until.
    /// Wait-free.
    fn wake_at(&self, tick: u64) -> Result<(), DriverStopped> {
        let s = &self.owner.shared;
        if s.sleeper.request(tick)? {
            s.waker.wake();
        }
        Ok(())
    }
}

/// Fire what is due, sleep until the next deadline or an earlier request,
/// repeat; see `next_wake` for the protocol.
impl Future for AsyncIoRun {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let s = &*this.shared;
        loop {
            // Registered before reading `closed` and before `target`: a last
            // drop or an earlier request that comes after wakes this waker.
            s.waker.register(cx.waker());
            if s.sleeper.is_closed() {
                return Poll::Ready(());
            }
            let now = s.tick_now();
            let due = s.sleeper.fire(now);
            let target = s.sleeper.next.target(due);
            if target <= now {
                continue;
            }
            if this.armed != Some(target) {
                this.armed = Some(target);
                match s.checked_instant_at(target).filter(|_| target != u64::MAX) {
                    Some(at) => this.timer.set_at(at),
                    None => this.timer = async_io::Timer::never(),
                }
            }
            match Pin::new(&mut this.timer).poll(cx) {
                Poll::Ready(_) => this.armed = None,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for AsyncIoRun {
    fn drop(&mut self) {
        // Whether it completed, was never spawned, or its executor went away.
        self.shared.sleeper.stopped();
    }
}

impl fmt::Debug for AsyncIoDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncIoDriver")
            .field("now", &self.owner.shared.tick_now())
            .field("pending", &self.pending())
            .field("running", &self.is_running())
            .finish()
    }
}

impl fmt::Debug for AsyncIoRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncIoRun")
            .field("armed", &self.armed)
            .finish()
    }
}
