//! `ThreadDriver`: deadlines fired by one background thread per driver.

use std::sync::{Arc, OnceLock};
use std::task::Waker;
use std::time::Instant;

use event_listener::{Event, Listener};

use crate::driver::ms::runtime::{timer_driver, MsCore, Owner, Runtime, StopGuard};

/// Deadlines with no async runtime: every deadline of the driver lives in one
/// [`Timers`](crate::Timers) wheel, and one background thread (named `cancel-token-timer`)
/// sleeps until the earliest is due, then fires it. Arming a deadline wakes
/// the thread only when it is earlier than the tick the thread sleeps until;
/// disarming wakes it only to end it (see *Lifetime*).
///
/// Ticks are milliseconds since the driver was made; instants are
/// [`std::time::Instant`]s. Clones share the driver (and its thread).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cancel_token::{CancelSource, Reason, ThreadDriver};
///
/// let driver = ThreadDriver::new();
/// let root = CancelSource::new();
///
/// // A call that may take 20 ms: block until it expires.
/// let call = root.token().child_with_timeout_on(&driver, Duration::from_millis(20));
/// assert_eq!(call.token().wait(), Reason::DeadlineExceeded);
/// assert_eq!(driver.pending(), 0);
///
/// // One that ends in time: dropping its source frees the timer at once.
/// let call = root.token().child_with_timeout_on(&driver, Duration::from_secs(10));
/// assert_eq!(driver.pending(), 1);
/// drop(call);
/// assert_eq!(driver.pending(), 0);
/// ```
///
/// # Lifetime
///
/// An armed deadline keeps the thread running, as a Go timer needs no
/// owner: a driver made and dropped inside a helper still fires the
/// deadlines armed through it, on time.
///
/// ```
/// use std::time::Duration;
/// use cancel_token::{CancelSource, CancelToken, Reason, ThreadDriver};
///
/// fn with_timeout(parent: &CancelToken, d: Duration) -> CancelSource {
///     let driver = ThreadDriver::new();
///     parent.child_with_timeout_on(&driver, d)
/// }
///
/// let root = CancelSource::new();
/// let call = with_timeout(&root.token(), Duration::from_millis(20));
/// assert_eq!(call.token().wait(), Reason::DeadlineExceeded);
/// ```
///
/// The thread ends (it is not joined) once no clone is left and no deadline
/// is armed: at the last clone's drop if none is, else as soon as the last
/// one fires or is disarmed (its source cancelled or dropped), however far
/// its instant. So a driver per call leaves no thread behind.
///
/// # Panics
///
/// [`new`](Self::new) panics if the thread cannot be spawned. A panic in a
/// callback run by an expiring deadline is reported by the panic hook on the
/// timer thread and caught there: the driver keeps firing.
#[derive(Clone)]
pub struct ThreadDriver {
    owner: Arc<Owner<Event>>,
}

impl ThreadDriver {
    /// A driver with its own timer thread, shared by its clones.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, Reason, ThreadDriver};
    ///
    /// let driver = ThreadDriver::new();
    /// let clone = driver.clone(); // the same thread and deadlines
    /// let root = CancelSource::new();
    /// let call = root.token().child_with_timeout_on(&clone, Duration::from_millis(10));
    /// assert_eq!(driver.pending(), 1);
    /// assert_eq!(call.token().wait(), Reason::DeadlineExceeded);
    /// assert_eq!(driver.pending(), 0);
    /// ```
    ///
    /// # Panics
    ///
    /// If the thread cannot be spawned.
    pub fn new() -> Self {
        let core = MsCore::new(Instant::now(), Event::new());
        let theirs = core.clone();
        std::thread::Builder::new()
            .name("cancel-token-timer".into())
            .spawn(move || run(theirs))
            .expect("failed to spawn the cancel-token-timer thread");
        ThreadDriver {
            owner: Owner::new(core),
        }
    }

    /// The process-wide driver, started on first use: for a library that
    /// imposes its own timeouts without asking its caller for a driver, as
    /// Go's timers need none.
    ///
    /// Its thread runs until the process exits. Deadlines on it fire from
    /// that thread, so a callback run by one must not block it for long:
    /// every user of the global driver shares it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelToken, Reason, ThreadDriver};
    ///
    /// /// A library call that gives up after 20 ms, whatever its caller's token allows.
    /// fn fetch(caller: &CancelToken) -> Reason {
    ///     let call = caller.child_with_timeout_on(ThreadDriver::global(), Duration::from_millis(20));
    ///     call.token().wait()
    /// }
    ///
    /// let root = cancel_token::CancelSource::new();
    /// assert_eq!(fetch(&root.token()), Reason::DeadlineExceeded);
    /// assert!(!root.is_cancelled());
    /// ```
    ///
    /// # Panics
    ///
    /// On first use, if the thread cannot be spawned (as [`new`](Self::new)).
    pub fn global() -> &'static ThreadDriver {
        static GLOBAL: OnceLock<ThreadDriver> = OnceLock::new();
        GLOBAL.get_or_init(ThreadDriver::new)
    }

    /// See `__private::SleeperProbe`.
    pub(crate) fn probe(&self) -> crate::__private::SleeperProbe {
        self.owner.probe()
    }
}

/// The timer thread: fire what is due, sleep until the next deadline or an
/// earlier request, repeat; see `driver::ms` for the protocol.
fn run(core: Arc<MsCore<Event>>) {
    // Left in the timers once the handles are gone, for the last disarm.
    let waker = Waker::from(core.clone());
    let guard = StopGuard(core);
    let s = &*guard.0;
    loop {
        let due = s.sleeper.fire(s.tick_now());
        // Listen before publishing the target and checking whether to end: a
        // `wake_at`, last drop or last disarm that comes later notifies it.
        let listener = s.runtime.listen();
        let target = s.sleeper.next.target(due);
        if s.sleeper.should_end(&waker) {
            return;
        }
        match s.wake_instant(target) {
            Some(at) => {
                listener.wait_deadline(at);
            }
            None => listener.wait(),
        }
    }
}

impl Default for ThreadDriver {
    fn default() -> Self {
        Self::new()
    }
}

/// The timer thread's clock is `std`'s; it sleeps on an event listener.
impl Runtime for Event {
    type Instant = Instant;

    /// There is one listener at most: the thread's.
    fn wake(core: &Arc<MsCore<Self>>) {
        core.runtime.notify(usize::MAX);
    }
}

timer_driver!(
    ThreadDriver,
    Instant,
    [],
    /// Wakes the thread if `tick` is earlier than the one it sleeps until.
    /// Wait-free unless it wakes the thread (an `Event::notify`).
);
