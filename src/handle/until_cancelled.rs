//! Futures that run a piece of work until it completes or a token is
//! cancelled: `run_until_cancelled`, its owned form, the `CancelFutureExt`
//! combinator that makes either from any future, and `timeout`, which runs
//! one under a child with a deadline.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::{Cancelled, CancelledOwned, Reason};

/// Runs a future until it completes or its token is cancelled, whichever is
/// first: `Ok(output)`, or `Err(reason)`. Made by
/// [`CancelToken::run_until_cancelled`](crate::CancelToken::run_until_cancelled)
/// and [`CancelFutureExt::until_cancelled`].
///
/// Each poll looks at the token first (one load), so cancellation wins a tie,
/// and once the token is cancelled the work is not polled again (not even by
/// the poll that sees the cancellation). Nothing is allocated: the token's
/// waiter lives inside this future, and is registered only once the work is
/// pending. It is `Send` when the work is.
///
/// # Cancel safety
///
/// Dropping it drops the work where it stands, as dropping the work itself
/// would: it is as cancel safe as the work is. The token is not touched.
///
/// # Examples
///
/// ```
/// # futures_executor::block_on(async {
/// use cancel_token::{CancelSource, Reason, RunUntilCancelled};
///
/// let request = CancelSource::new();
/// let work: RunUntilCancelled<'_, _> = request.run_until_cancelled(async { 7 });
/// assert_eq!(work.await, Ok(7));
/// request.cancel();
/// let never = core::future::pending::<()>();
/// assert_eq!(request.run_until_cancelled(never).await, Err(Reason::Cancelled));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RunUntilCancelled<'a, F> {
    cancelled: Cancelled<'a>,
    work: F,
}

/// [`RunUntilCancelled`] owning its token: `'static` when the work is, and
/// `Send` when the work is, for spawning (tokio-util's
/// `run_until_cancelled_owned`). Made by
/// [`CancelToken::run_until_cancelled_owned`](crate::CancelToken::run_until_cancelled_owned)
/// and [`CancelFutureExt::until_cancelled_owned`].
///
/// Cancel safety and the order of polls are as for [`RunUntilCancelled`].
///
/// ```
/// use cancel_token::{CancelSource, CancelFutureExt, Reason};
///
/// let request = CancelSource::new();
/// let work = core::future::pending::<()>().until_cancelled_owned(request.token());
/// let worker = std::thread::spawn(move || futures_executor::block_on(work));
/// request.cancel();
/// assert_eq!(worker.join().unwrap(), Err(Reason::Cancelled));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RunUntilCancelledOwned<F> {
    cancelled: CancelledOwned,
    work: F,
}

impl<'a, F> RunUntilCancelled<'a, F> {
    pub(crate) fn new(cancelled: Cancelled<'a>, work: F) -> Self {
        RunUntilCancelled { cancelled, work }
    }
}

impl<F> RunUntilCancelledOwned<F> {
    pub(crate) fn new(cancelled: CancelledOwned, work: F) -> Self {
        RunUntilCancelledOwned { cancelled, work }
    }
}

/// Runs a future under a child of a token that has a deadline: `Ok(output)`
/// if it completes in time, or `Err(reason)` once the child is cancelled,
/// [`Reason::DeadlineExceeded`] at the deadline or the reason of an
/// ancestor's cancel (tokio's `time::timeout`, as a child of the token). Made
/// by [`CancelToken::timeout`](crate::CancelToken::timeout) and `timeout_at`
/// on the tree's clock, and by
/// [`CancelToken::timeout_on`](crate::CancelToken::timeout_on) and
/// [`CancelToken::timeout_at_on`](crate::CancelToken::timeout_at_on) on a
/// driver they name.
///
/// It owns the child's source, so the deadline is armed from the call that
/// makes it, not from the first poll, and dropping it (which `.await` does as
/// it completes) drops the child and takes its timer out of the driver. The
/// order of polls and cancel safety are as for [`RunUntilCancelled`].
///
/// ```
/// # futures_executor::block_on(async {
/// use std::time::Duration;
/// use cancel_token::{CancelSource, ManualDriver, Reason, Timeout};
///
/// let driver = ManualDriver::new();
/// let server = CancelSource::new();
/// let call: Timeout<_> = server.timeout_on(&driver, Duration::from_secs(1), async { 7 });
/// assert_eq!(driver.pending(), 1);
/// assert_eq!(call.await, Ok(7));
/// assert_eq!(driver.pending(), 0); // the child went with the future
/// # });
/// ```
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
#[must_use = "futures do nothing unless polled"]
pub struct Timeout<F> {
    cancelled: CancelledOwned,
    work: F,
    /// The child's source, dropped after the waiter and its token, so that
    /// it goes as an unobserved child does (its timer taken out, no cancel).
    source: crate::CancelSource,
}

#[cfg(feature = "alloc")]
impl<F> Timeout<F> {
    fn new(source: crate::CancelSource, work: F) -> Self {
        Timeout {
            cancelled: source.token().cancelled_owned(),
            work,
            source,
        }
    }
}

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl crate::CancelToken {
    /// Runs `work` under a child of this token that expires once `after` has
    /// passed on this tree's clock (tokio's `time::timeout`, as a child of the
    /// token): `Ok(output)`, or `Err(reason)` if the child is cancelled
    /// first, by its deadline ([`Reason::DeadlineExceeded`]) or by an
    /// ancestor. The child is made as
    /// [`child_with_timeout`](Self::child_with_timeout) makes it (its clock,
    /// and its panic without one), and goes with the future; see
    /// [`Timeout`].
    ///
    /// ```
    /// # futures_executor::block_on(async {
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, Reason};
    ///
    /// let driver = ManualDriver::new(); // or TokioDriver::current(), ...
    /// let app = CancelSource::with_clock(driver.clone());
    /// let slow = app.timeout(Duration::from_millis(200), core::future::pending::<()>());
    /// driver.advance_by(Duration::from_millis(200));
    /// assert_eq!(slow.await, Err(Reason::DeadlineExceeded));
    /// let quick = app.timeout(Duration::from_millis(200), async { 7 });
    /// assert_eq!(quick.await, Ok(7));
    /// # });
    /// ```
    #[track_caller]
    pub fn timeout<F: Future>(&self, after: core::time::Duration, work: F) -> Timeout<F> {
        Timeout::new(self.child_with_timeout(after), work)
    }

    /// Like [`timeout`](Self::timeout), with a deadline at `at` on this
    /// tree's clock, as [`child_with_deadline`](Self::child_with_deadline)
    /// makes it (tokio's `time::timeout_at`).
    ///
    /// ```
    /// # futures_executor::block_on(async {
    /// use std::time::{Duration, Instant};
    /// use cancel_token::{CancelSource, ManualDriver, Reason};
    ///
    /// let driver = ManualDriver::new();
    /// let app = CancelSource::with_clock(driver.clone());
    /// let at = Instant::now() + Duration::from_secs(5);
    /// assert_eq!(app.timeout_at(at, async { "done" }).await, Ok("done"));
    /// driver.advance_by(Duration::from_secs(6));
    /// let late = app.timeout_at(at, async { "done" });
    /// assert_eq!(late.await, Err(Reason::DeadlineExceeded)); // due as it was made
    /// # });
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[track_caller]
    pub fn timeout_at<F: Future>(&self, at: std::time::Instant, work: F) -> Timeout<F> {
        Timeout::new(self.child_with_deadline(at), work)
    }

    /// Runs `work` under a child of this token that expires once `after` has
    /// passed on `driver`: `Ok(output)`, or `Err(reason)` if the child is
    /// cancelled first, by its deadline ([`Reason::DeadlineExceeded`]) or by
    /// an ancestor. The child is made as
    /// [`child_with_timeout_on`](Self::child_with_timeout_on) makes it, and goes
    /// with the future; see [`Timeout`].
    ///
    /// ```
    /// # futures_executor::block_on(async {
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, Reason};
    ///
    /// let driver = ManualDriver::new();
    /// let request = CancelSource::new();
    /// let slow = core::future::pending::<()>();
    /// let call = request.timeout_on(&driver, Duration::from_millis(200), slow);
    /// driver.advance_by(Duration::from_millis(200));
    /// assert_eq!(call.await, Err(Reason::DeadlineExceeded));
    ///
    /// let call = request.timeout_on(&driver, Duration::from_millis(200), core::future::pending::<()>());
    /// request.cancel();
    /// assert_eq!(call.await, Err(Reason::Cancelled));
    /// assert_eq!(driver.pending(), 0);
    /// # });
    /// ```
    pub fn timeout_on<D: crate::TimerDriver, F: Future>(
        &self,
        driver: D,
        after: core::time::Duration,
        work: F,
    ) -> Timeout<F> {
        Timeout::new(self.child_with_timeout_on(driver, after), work)
    }

    /// Like [`timeout_on`](Self::timeout_on), with a deadline at `driver`'s instant
    /// `at`, as [`child_with_deadline_on`](Self::child_with_deadline_on) makes it
    /// (tokio's `time::timeout_at`).
    ///
    /// ```
    /// # futures_executor::block_on(async {
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, Reason};
    ///
    /// let driver = ManualDriver::new(); // its instants are durations since its start
    /// let request = CancelSource::new();
    /// let at = Duration::from_secs(5);
    /// assert_eq!(request.timeout_at_on(&driver, at, async { "done" }).await, Ok("done"));
    /// driver.advance_by(at);
    /// let late = request.timeout_at_on(&driver, at, async { "done" });
    /// assert_eq!(late.await, Err(Reason::DeadlineExceeded)); // due as it was made
    /// # });
    /// ```
    pub fn timeout_at_on<D: crate::TimerDriver, F: Future>(
        &self,
        driver: D,
        at: D::Instant,
        work: F,
    ) -> Timeout<F> {
        Timeout::new(self.child_with_deadline_on(driver, at), work)
    }
}

/// One poll: the token, the work unless the token is cancelled, and the
/// token's waiter only if the work is pending, so that work that completes
/// at its first poll takes no lock.
fn poll_both<F: Future>(
    reason_now: Option<Reason>,
    cancelled: Pin<&mut impl Future<Output = Reason>>,
    work: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, Reason>> {
    if let Some(reason) = reason_now {
        return Poll::Ready(Err(reason));
    }
    if let Poll::Ready(out) = work.poll(cx) {
        return Poll::Ready(Ok(out));
    }
    cancelled.poll(cx).map(Err)
}

/// `Future` for a type with fields `cancelled` (a token's waiting future
/// with `reason_now`) and `work`, both pinned structurally (and maybe others,
/// never pinned).
macro_rules! until_cancelled_future {
    ($($ty:tt)*) => {
        impl<F: Future> Future for $($ty)* {
            type Output = Result<F::Output, Reason>;

            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                // SAFETY: both fields are pinned structurally: neither is moved
                // out of the pinned future, it has no `Drop` of its own, and it
                // is never `Unpin` unless both fields are (the waiting future
                // never is).
                let this = unsafe { self.get_unchecked_mut() };
                let reason = this.cancelled.reason_now();
                // SAFETY: as above.
                let cancelled = unsafe { Pin::new_unchecked(&mut this.cancelled) };
                // SAFETY: as above.
                let work = unsafe { Pin::new_unchecked(&mut this.work) };
                poll_both(reason, cancelled, work, cx)
            }
        }
    };
}

until_cancelled_future!(RunUntilCancelled<'_, F>);
until_cancelled_future!(RunUntilCancelledOwned<F>);
#[cfg(feature = "alloc")]
until_cancelled_future!(Timeout<F>);

impl<F> fmt::Debug for RunUntilCancelled<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntilCancelled")
            .field("cancelled", &self.cancelled)
            .finish_non_exhaustive()
    }
}

impl<F> fmt::Debug for RunUntilCancelledOwned<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntilCancelledOwned")
            .field("cancelled", &self.cancelled)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "alloc")]
impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("child", &self.source)
            .finish_non_exhaustive()
    }
}

/// Runs any future until a token is cancelled, as a method of the future
/// (tokio-util's `FutureExt::with_cancellation_token`).
///
/// ```
/// # futures_executor::block_on(async {
/// use cancel_token::{CancelFutureExt, CancelSource, Reason};
///
/// let request = CancelSource::new();
/// assert_eq!(async { 1 }.until_cancelled(&request).await, Ok(1));
/// request.cancel();
/// let slow = core::future::pending::<u32>();
/// assert_eq!(slow.until_cancelled(&request).await, Err(Reason::Cancelled));
/// # });
/// ```
pub trait CancelFutureExt: Future + Sized {
    /// This future, until `token` is cancelled; see [`RunUntilCancelled`].
    ///
    /// ```
    /// # futures_executor::block_on(async {
    /// use cancel_token::{CancelFutureExt, CancelSource, Reason};
    ///
    /// let request = CancelSource::new();
    /// let read = async { "body" };
    /// assert_eq!(read.until_cancelled(&request).await, Ok("body"));
    /// drop(request);
    /// # });
    /// ```
    fn until_cancelled(self, token: &crate::CancelToken) -> RunUntilCancelled<'_, Self> {
        token.run_until_cancelled(self)
    }

    /// This future, until `token` is cancelled, owning the token; see
    /// [`RunUntilCancelledOwned`]: `'static` and `Send` when the future is,
    /// for spawning.
    ///
    /// ```
    /// use cancel_token::{CancelFutureExt, CancelSource, Reason};
    ///
    /// let request = CancelSource::new();
    /// let work = core::future::pending::<()>().until_cancelled_owned(request.token());
    /// let worker = std::thread::spawn(move || futures_executor::block_on(work));
    /// request.cancel();
    /// assert_eq!(worker.join().unwrap(), Err(Reason::Cancelled));
    /// ```
    fn until_cancelled_owned(self, token: crate::CancelToken) -> RunUntilCancelledOwned<Self> {
        token.run_until_cancelled_owned(self)
    }
}

impl<F: Future> CancelFutureExt for F {}
