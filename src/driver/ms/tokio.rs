//! `TokioDriver`: deadlines on a tokio runtime, one background task per driver.

use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;
use std::sync::{Arc, Mutex};

use tokio::runtime::{Handle, Id};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::driver::ms::runtime::{timer_driver, Clock, MsCore, Owner, Runtime, StopGuard};

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
///     let request = server.token().child_with_timeout_on(&driver, Duration::from_millis(50));
///     let work = tokio::time::sleep(Duration::from_secs(3600));
///     let outcome = request.token().run_until_cancelled(work).await;
///     assert_eq!(outcome, Err(Reason::DeadlineExceeded));
///
///     // One that ends in time: dropping its source frees the timer at once.
///     let request = server.token().child_with_timeout_on(&driver, Duration::from_secs(10));
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
///       parent.child_with_timeout_on(&driver, d)
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
///   with `DeadlineExceeded` as it is armed ([`TimerDriver::wake_at`](crate::TimerDriver::wake_at) returns
///   [`DriverStopped`](crate::DriverStopped)). This is the choice [`TimerDriver`](crate::TimerDriver) documents for a
///   stopped driver, extended to the deadlines already armed so that no one
///   waits forever on a deadline that can no longer pass (a thread in
///   [`CancelToken::wait`](crate::CancelToken::wait), another runtime's task).
///
/// # Panics
///
/// A panic in a callback run by an expiring deadline is reported by the panic
/// hook on the driver's task and caught there: the driver keeps firing.
#[derive(Clone)]
pub struct TokioDriver {
    owner: Arc<Owner<Notify>>,
}

impl TokioDriver {
    /// A driver whose task runs on the current tokio runtime: call it from
    /// inside one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, Reason, TokioDriver};
    ///
    /// #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// async fn main() {
    ///     let driver = TokioDriver::new();
    ///     let root = CancelSource::new();
    ///     let call = root.token().child_with_timeout_on(&driver, Duration::from_secs(3600));
    ///     // The clock is paused: tokio skips ahead to the driver's sleep.
    ///     assert_eq!(call.token().cancelled().await, Reason::DeadlineExceeded);
    ///     assert_eq!(driver.pending(), 0);
    /// }
    /// ```
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime (see [`with_handle`](Self::with_handle)).
    // No `Default`: a default value that panics outside a runtime would surprise.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self::with_handle(&Handle::current())
    }

    /// The driver of the current tokio runtime: made on the first call from
    /// inside a runtime, the same one (a clone) on every later call from it,
    /// as [`ThreadDriver::global`](crate::ThreadDriver::global) is for
    /// threads. Its task runs until the runtime shuts down. The way to bind an
    /// app's tree to tokio's clock once:
    /// `CancelSource::with_clock(TokioDriver::current())`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, Reason, TimerDriver, TokioDriver};
    ///
    /// #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// async fn main() {
    ///     let driver = TokioDriver::current();
    ///     let again = TokioDriver::current(); // one per runtime
    ///     assert!(core::ptr::eq(driver.timers().get(), again.timers().get()));
    ///     let app = CancelSource::with_clock(driver);
    ///     let call = app.child_with_timeout(Duration::from_secs(3600));
    ///     // The paused clock skips ahead to the deadline.
    ///     assert_eq!(call.cancelled().await, Reason::DeadlineExceeded);
    /// }
    /// ```
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime.
    pub fn current() -> Self {
        let handle = Handle::current();
        let id = handle.id();
        std::thread_local! {
            static LAST: core::cell::RefCell<Option<(Id, TokioDriver)>> =
                const { core::cell::RefCell::new(None) };
        }
        let last = LAST.with_borrow(|last| match last {
            Some((i, d)) if *i == id && d.is_running() => Some(d.clone()),
            _ => None,
        });
        if let Some(driver) = last {
            return driver;
        }
        /// One driver per running runtime. Drivers whose runtime has shut
        /// down are dropped as the next one is looked up (a runtime's id may
        /// be reused once it has).
        static DRIVERS: Mutex<Vec<(Id, TokioDriver)>> = Mutex::new(Vec::new());
        let driver = {
            let mut drivers = DRIVERS.lock().unwrap_or_else(|e| e.into_inner());
            drivers.retain(|(_, d)| d.is_running());
            match drivers.iter().find(|(i, _)| *i == id) {
                Some((_, d)) => d.clone(),
                None => {
                    let d = TokioDriver::with_handle(&handle);
                    drivers.push((id, d.clone()));
                    d
                }
            }
        };
        LAST.with_borrow_mut(|last| *last = Some((id, driver.clone())));
        driver
    }

    /// A driver whose task runs on `handle`'s runtime; callable from any thread,
    /// for code that holds a runtime's handle but runs outside it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, Reason, TokioDriver};
    ///
    /// let runtime = tokio::runtime::Builder::new_multi_thread()
    ///     .worker_threads(1)
    ///     .enable_time()
    ///     .build()
    ///     .unwrap();
    /// let driver = TokioDriver::with_handle(runtime.handle()); // from outside it
    /// let root = CancelSource::new();
    /// let call = root.token().child_with_timeout_on(&driver, Duration::from_millis(10));
    /// assert_eq!(call.token().wait(), Reason::DeadlineExceeded); // a blocking wait
    /// ```
    pub fn with_handle(handle: &Handle) -> Self {
        let start = {
            let _in_runtime = handle.enter();
            Instant::now()
        };
        let core = MsCore::new(start, Notify::new());
        // The guard is made here, not in the task's body: a task dropped
        // before its first poll (its runtime shut down first, or had already)
        // drops it too, and it marks the driver stopped.
        drop(handle.spawn(run(StopGuard(core.clone()))));
        TokioDriver {
            owner: Owner::new(core),
        }
    }

    /// Whether the background task still runs (false once its runtime shut
    /// down): whether deadlines on this driver can still pass, rather than
    /// expire at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, Reason, TokioDriver};
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread()
    ///     .enable_time()
    ///     .build()
    ///     .unwrap();
    /// let driver = TokioDriver::with_handle(runtime.handle());
    /// assert!(driver.is_running());
    /// drop(runtime); // shut down: its task is dropped with it
    /// assert!(!driver.is_running());
    ///
    /// // A deadline armed now can never pass: it expires as it is armed.
    /// let root = CancelSource::new();
    /// let call = root.token().child_with_timeout_on(&driver, Duration::from_secs(3600));
    /// assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
    /// ```
    pub fn is_running(&self) -> bool {
        self.owner.0.sleeper.is_running()
    }
}

/// The background task: fire what is due, sleep until the next deadline or an
/// earlier request, repeat; see `driver::ms` for the protocol.
async fn run(guard: StopGuard<Notify>) {
    let s = &*guard.0;
    let mut sleep = pin!(tokio::time::sleep_until(s.instant_at(0)));
    loop {
        let due = s.sleeper.fire(s.tick_now());
        // The permit of a `notify_one` that comes after `target` is kept for
        // this future, so the wake-up is armed before `target` is published
        // and before the check whether to end.
        let mut notified = pin!(s.runtime.notified());
        let at = s.wake_instant(s.sleeper.next.target(due));
        if let Some(at) = at {
            sleep.as_mut().reset(at);
        }
        let end = poll_fn(|cx| {
            if s.sleeper.should_end(cx.waker()) {
                Poll::Ready(true)
            } else if notified.as_mut().poll(cx).is_ready()
                || (at.is_some() && sleep.as_mut().poll(cx).is_ready())
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

/// The task's clock is tokio's (paused with it); it sleeps on a `Notify`,
/// whose `notify_one` keeps a permit when the task is not waiting, so no
/// wake-up is lost.
impl Runtime for Notify {
    type Instant = Instant;

    fn wake(core: &Arc<MsCore<Self>>) {
        core.runtime.notify_one();
    }
}

impl Clock for Instant {
    fn now() -> Self {
        Instant::now()
    }
}

timer_driver!(
    TokioDriver,
    Instant,
    ["running": is_running],
    /// Wakes the task if `tick` is earlier than the one it sleeps until.
    /// Wait-free unless it wakes the task (a `Notify::notify_one`).
);
