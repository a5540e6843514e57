//! `TokioDriver`: deadlines on a tokio runtime, one background task per driver.

use core::fmt;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;
use core::time::Duration;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::driver::ms::{self, Sleeper};
use crate::time::{DriverStopped, TimerDriver};
use crate::wheel::timers::TimersHandle;

/// Deadlines on a tokio runtime: every deadline of the driver lives in one
/// [`Timers`](crate::Timers) wheel, and one background task sleeps (`tokio::time::sleep_until`)
/// until the earliest is due, then fires it. Arming and disarming a deadline
/// touch no tokio timer, spawn nothing and allocate nothing beyond the child
/// token itself.
///
/// Ticks are milliseconds since the driver was made; instants are
/// [`tokio::time::Instant`]s, so a paused clock (`tokio::time::pause`,
/// `#[tokio::test(start_paused = true)]`) moves the deadlines with it. With a
/// paused clock, arm deadlines from inside the runtime: outside it,
/// `tokio::time::Instant::now` reads the real clock.
///
/// Clones share the driver (and its task).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cancel_token::{CancelSource, Reason, TokioDriver};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let driver = TokioDriver::new();
///     let server = CancelSource::new();
///
///     // A request that may take 50 ms; its work would take an hour.
///     let request = server.token().child_with_timeout(&driver, Duration::from_millis(50));
///     let work = tokio::time::sleep(Duration::from_secs(3600));
///     let outcome = request.token().run_until_cancelled(work).await;
///     assert_eq!(outcome, Err(Reason::DeadlineExceeded));
///
///     // One that ends in time: dropping its source frees the timer at once.
///     let request = server.token().child_with_timeout(&driver, Duration::from_secs(10));
///     assert_eq!(driver.pending(), 1);
///     drop(request);
///     assert_eq!(driver.pending(), 0);
/// }
/// ```
///
/// # Lifetime
///
/// - An armed deadline keeps the task running, as a Go timer needs no owner:
///   a driver made and dropped inside a helper still fires the deadlines
///   armed through it, on time. The task ends once no clone is left and no
///   deadline is armed: at the last clone's drop if none is, else as soon as
///   the last one fires or is disarmed (its source cancelled or dropped),
///   however far its instant.
///
///   ```
///   use std::time::Duration;
///   use cancel_token::{CancelSource, CancelToken, Reason, TokioDriver};
///
///   fn with_timeout(parent: &CancelToken, d: Duration) -> CancelSource {
///       let driver = TokioDriver::new();
///       parent.child_with_timeout(&driver, d)
///   }
///
///   #[tokio::main(flavor = "current_thread")]
///   async fn main() {
///       let root = CancelSource::new();
///       let call = with_timeout(&root.token(), Duration::from_millis(20));
///       assert_eq!(call.token().cancelled().await, Reason::DeadlineExceeded);
///   }
///   ```
/// - If the runtime shuts down while the task runs, the task is dropped
///   with it and nothing can measure time for this driver any more. Every
///   deadline still armed then expires at once (its token is cancelled with
///   [`Reason::DeadlineExceeded`](crate::Reason::DeadlineExceeded), from the
///   thread dropping the runtime), and a deadline armed later is cancelled
///   with `DeadlineExceeded` as it is armed ([`TimerDriver::wake_at`] returns
///   [`DriverStopped`]). This is the choice [`TimerDriver`] documents for a
///   stopped driver, extended to the deadlines already armed so that no one
///   waits forever on a deadline that can no longer pass (a thread in
///   [`CancelToken::wait`](crate::CancelToken::wait), another runtime's task).
///
/// # Panics
///
/// A panic in a callback run by an expiring deadline is reported by the panic
/// hook on the driver's task and caught there: the driver keeps firing.
pub struct TokioDriver {
    owner: Arc<Owner>,
}

/// Shared by every clone; dropping it (with the last clone) ends the task.
struct Owner {
    shared: Arc<Shared>,
}

/// What the driver's handles and its task share.
struct Shared {
    /// The task is the sleeper; its future holds the stop guard.
    sleeper: Sleeper,
    /// Tick 0.
    start: Instant,
    /// Wakes the task for an earlier tick or to end. `notify_one` keeps a
    /// permit when the task is not waiting, so no wake-up is lost.
    notify: Notify,
}

impl Shared {
    /// The tick the clock is at (whole milliseconds since `start`).
    fn tick_now(&self) -> u64 {
        ms::ms_floor(Instant::now().saturating_duration_since(self.start))
    }

    fn instant_at(&self, ticks: u64) -> Instant {
        Instant::from_std(ms::ms_instant(self.start.into_std(), ticks))
    }
}

impl TokioDriver {
    /// A driver whose task runs on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime (see [`with_handle`](Self::with_handle)).
    // No `Default`: a default value that panics outside a runtime would surprise.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self::with_handle(&Handle::current())
    }

    /// A driver whose task runs on `handle`'s runtime; callable from any thread.
    pub fn with_handle(handle: &Handle) -> Self {
        let shared = Arc::new(Shared {
            sleeper: Sleeper::new(),
            start: {
                let _in_runtime = handle.enter();
                Instant::now()
            },
            notify: Notify::new(),
        });
        // The guard is made here, not in the task's body: a task dropped
        // before its first poll (its runtime shut down first, or had already)
        // drops it too, and it marks the driver stopped.
        drop(handle.spawn(run(StopGuard(shared.clone()))));
        TokioDriver {
            owner: Arc::new(Owner { shared }),
        }
    }

    /// How many deadlines are armed.
    pub fn pending(&self) -> usize {
        self.owner.shared.sleeper.timers.pending()
    }

    /// Whether the background task still runs (false once its runtime shut down).
    pub fn is_running(&self) -> bool {
        self.owner.shared.sleeper.is_running()
    }
}

/// The background task: fire what is due, sleep until the next deadline or an
/// earlier request, repeat; see `driver::ms` for the protocol.
async fn run(guard: StopGuard) {
    let s = &*guard.0;
    let mut sleep = pin!(tokio::time::sleep_until(s.start));
    loop {
        let due = s.sleeper.fire(s.tick_now());
        // The permit of a `notify_one` that comes after `target` is kept for
        // this future, so the wake-up is armed before `target` is published
        // and before the check whether to end.
        let mut notified = pin!(s.notify.notified());
        let target = s.sleeper.next.target(due);
        if target != u64::MAX {
            sleep.as_mut().reset(s.instant_at(target));
        }
        let end = poll_fn(|cx| {
            if s.sleeper.should_end(cx.waker()) {
                Poll::Ready(true)
            } else if notified.as_mut().poll(cx).is_ready()
                || (target != u64::MAX && sleep.as_mut().poll(cx).is_ready())
            {
                Poll::Ready(false)
            } else {
                Poll::Pending
            }
        })
        .await;
        if end {
            return;
        }
    }
}

/// Dropped with the task's future, whether it ended or its runtime shut down
/// (polled or not).
struct StopGuard(Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.sleeper.stopped();
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.sleeper.close();
        self.shared.notify.notify_one();
    }
}

impl Clone for TokioDriver {
    fn clone(&self) -> Self {
        TokioDriver {
            owner: self.owner.clone(),
        }
    }
}

impl TimerDriver for TokioDriver {
    type Instant = Instant;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn ticks_at(&self, at: Instant) -> u64 {
        ms::ms_ceil(at.saturating_duration_since(self.owner.shared.start))
    }

    fn instant_at(&self, ticks: u64) -> Instant {
        self.owner.shared.instant_at(ticks)
    }

    fn duration_ticks(&self, d: Duration) -> u64 {
        ms::ms_ceil(d)
    }

    fn timers(&self) -> TimersHandle<'_> {
        TimersHandle::from_shared(&self.owner.shared.sleeper.timers)
    }

    /// Wakes the task if `tick` is earlier than the one it sleeps until.
    /// Wait-free unless it wakes the task (a `Notify::notify_one`).
    fn wake_at(&self, tick: u64) -> Result<(), DriverStopped> {
        let s = &self.owner.shared;
        if s.sleeper.request(tick)? {
            s.notify.notify_one();
        }
        Ok(())
    }
}

impl fmt::Debug for TokioDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.owner.shared;
        f.debug_struct("TokioDriver")
            .field("now", &s.tick_now())
            .field("pending", &self.pending())
            .field("running", &self.is_running())
            .finish()
    }
}
