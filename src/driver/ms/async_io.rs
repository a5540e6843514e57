//! `AsyncIoDriver`: deadlines on async-io's reactor, for smol and async-std.

use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Waker};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::driver::ms::runtime::{timer_driver, MsCore, Owner, Runtime};
use crate::sync::{AtomicUsize, Ordering::*};

/// A timer driver on the reactor of [`async-io`](https://docs.rs/async-io),
/// the runtime behind smol and async-std. Ticks are milliseconds since
/// [`new`](Self::new); instants are [`std::time::Instant`]s.
///
/// There is nothing to spawn: the driver keeps one `async_io::Timer`, set
/// for its earliest deadline and registered with a waker of its own, and
/// async-io's reactor wakes it at that instant. The wake-up fires every due
/// deadline and sets the timer for the next one.
///
/// ```
/// use std::time::Duration;
/// use cancel_token::{AsyncIoDriver, CancelSource, Reason};
///
/// let driver = AsyncIoDriver::new();
///
/// async_io::block_on(async {
///     let root = CancelSource::new();
///     let call = root.token().child_with_timeout_on(&driver, Duration::from_millis(20));
///     let slow = async_io::Timer::after(Duration::from_secs(10));
///     assert_eq!(call.token().run_until_cancelled(slow).await, Err(Reason::DeadlineExceeded));
/// });
/// ```
///
/// Deadlines fire on the thread that drives async-io's reactor when the
/// timer is due: async-io's own `async-io` thread, or a thread in
/// `async_io::block_on` (which smol's and async-std's executors call), and
/// so without any executor at all. Callbacks run by an expiring deadline run
/// there, among the reactor's wake-ups, and must not block. A deadline that
/// is already due when a token arms an earlier one than any before, or when
/// the last handle is dropped, may fire on that thread instead.
///
/// Arming and disarming touch no async-io timer and allocate nothing beyond
/// the child token itself, except that arming a deadline earlier than the
/// one the timer is set for sets it again, and that the last disarm once no
/// handle is left lets the timer go (see *Lifetime*).
///
/// # Lifetime
///
/// Clones share the driver. An armed deadline keeps what it needs to fire
/// (the timer, registered with async-io's reactor, which never stops), as a
/// Go timer needs no owner: a driver made and dropped inside a helper still
/// fires the deadlines armed through it, on time.
///
/// ```
/// use std::time::Duration;
/// use cancel_token::{AsyncIoDriver, CancelSource, CancelToken, Reason};
///
/// fn with_timeout(parent: &CancelToken, d: Duration) -> CancelSource {
///     let driver = AsyncIoDriver::new();
///     parent.child_with_timeout_on(&driver, d)
/// }
///
/// let root = CancelSource::new();
/// let call = with_timeout(&root.token(), Duration::from_millis(20));
/// assert_eq!(call.token().wait(), Reason::DeadlineExceeded);
/// ```
///
/// Once no clone is left and no deadline is armed (at the last clone's drop
/// if none is, else as soon as the last one fires or is disarmed), the
/// driver lets go of its timer and is freed; async-io drops its copy of the
/// waker when its reactor next wakes. The driver never stops, so it never
/// reports [`DriverStopped`](crate::DriverStopped).
///
/// # Panics
///
/// A panic in a callback run by an expiring deadline is reported by the panic
/// hook on the thread firing it and caught there: the driver keeps firing.
#[derive(Clone)]
pub struct AsyncIoDriver {
    owner: Arc<Owner<Reactor>>,
}

/// How the driver's state is woken: its timer, and the turns that set it.
/// Its `Sleeper`'s `closed` is set by the last handle; nothing stops it, as
/// async-io's reactor never does.
struct Reactor {
    /// The timer for the earliest deadline, registered with the state's own
    /// waker. Only the thread taking a turn locks it, so it never waits.
    timer: Mutex<async_io::Timer>,
    /// Turns asked for and not yet begun, plus one while a turn runs: one
    /// thread at a time takes turns (firing, then setting the timer), and a
    /// wake-up during a turn leaves another to that thread rather than
    /// waiting, so a wake-up never blocks (the reactor's thread calls it) and
    /// a callback that arms a deadline does not deadlock.
    turns: AtomicUsize,
}

/// The clock is `std`'s; the reactor wakes the state's waker when the timer
/// is due, and every other wake-up takes a turn at once.
impl Runtime for Reactor {
    type Instant = Instant;

    /// Fires what is due and sets the timer for what is left, now or, if
    /// another thread is doing so, by that thread before it stops.
    fn wake(core: &Arc<MsCore<Self>>) {
        let turns = &core.runtime.turns;
        // Acquire: pairs with the Release decrement that ended the last turn,
        // so this thread's turn follows it. Release: the deadline armed
        // before this call (and its `request`) reach the thread taking turns,
        // which reads the count (Acquire) before it stops.
        if turns.fetch_add(1, AcqRel) != 0 {
            return;
        }
        let waker = Waker::from(core.clone());
        loop {
            turn(core, &waker);
            // AcqRel: as above, for the next turn; the last decrement
            // releases this turn to whoever takes the next one.
            if turns.fetch_sub(1, AcqRel) == 1 {
                return;
            }
            // Wake-ups came during the turn: one more turn serves them all.
            // Relaxed: only this thread takes turns until it stores 1; the
            // Acquire of the `fetch_sub` above ordered their requests first.
            turns.store(1, Relaxed);
        }
    }
}

/// One turn; see `driver::ms` for the protocol, with the timer as the
/// sleeper's wake-up (`waker` is woken by an earlier request, the last
/// handle's drop or the last disarm, through `Reactor::wake`).
fn turn(core: &MsCore<Reactor>, waker: &Waker) {
    let mut timer = core
        .runtime
        .timer
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    loop {
        let due = core.sleeper.fire(core.tick_now());
        let target = core.sleeper.next.target(due);
        // With no handle left no deadline can be armed, and with none
        // armed the timer goes: it holds a waker, so this state. (Asked
        // every turn: it also forgets the waker kept for the last disarm.)
        let end = core.sleeper.should_end(waker);
        let Some(at) = core.wake_instant(target).filter(|_| !end) else {
            *timer = async_io::Timer::never();
            return;
        };
        timer.set_at(at);
        // Registers the timer with the reactor, unless already due.
        if Pin::new(&mut *timer)
            .poll(&mut Context::from_waker(waker))
            .is_pending()
        {
            return;
        }
    }
}

impl AsyncIoDriver {
    /// A driver whose clock starts now. Nothing to spawn: async-io's reactor
    /// fires its deadlines, with or without an executor.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{AsyncIoDriver, CancelSource, Reason};
    ///
    /// let driver = AsyncIoDriver::new();
    /// let root = CancelSource::new();
    /// let call = root.token().child_with_timeout_on(&driver, Duration::from_millis(10));
    /// assert_eq!(driver.pending(), 1);
    /// // No runtime here: async-io's own thread drives the reactor.
    /// assert_eq!(call.token().wait(), Reason::DeadlineExceeded);
    /// assert_eq!(driver.pending(), 0);
    /// ```
    pub fn new() -> AsyncIoDriver {
        let reactor = Reactor {
            timer: Mutex::new(async_io::Timer::never()),
            turns: AtomicUsize::new(0),
        };
        AsyncIoDriver {
            owner: Owner::new(MsCore::new(Instant::now(), reactor)),
        }
    }

    /// The process's async-io driver, made on first use: async-io has one
    /// reactor per process, so one driver serves every smol or async-std
    /// task, as [`ThreadDriver::global`](crate::ThreadDriver::global) does
    /// for threads. To bind an app's tree to it:
    /// `CancelSource::with_clock(AsyncIoDriver::global())`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{AsyncIoDriver, CancelSource, Reason};
    ///
    /// let app = CancelSource::with_clock(AsyncIoDriver::global());
    /// let call = app.child_with_timeout(Duration::from_millis(10));
    /// assert_eq!(async_io::block_on(call.cancelled()), Reason::DeadlineExceeded);
    /// ```
    pub fn global() -> &'static AsyncIoDriver {
        static GLOBAL: std::sync::OnceLock<AsyncIoDriver> = std::sync::OnceLock::new();
        GLOBAL.get_or_init(AsyncIoDriver::new)
    }

    /// See `__private::SleeperProbe`.
    pub(crate) fn probe(&self) -> crate::__private::SleeperProbe {
        self.owner.probe()
    }
}

impl Default for AsyncIoDriver {
    fn default() -> Self {
        Self::new()
    }
}

timer_driver!(
    AsyncIoDriver,
    Instant,
    [],
    /// Sets the timer again if `tick` is earlier than the one it is set for.
    /// Wait-free unless it does.
);
