//! `run_until_cancelled`, its owned form, `CancelFutureExt` and `timeout`:
//! outcomes, the order of polls, auto traits, the timer's disarming.

use std::future::{ready, Future, Ready};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use cancel_token::{
    CancelFutureExt, CancelSource, CancelToken, Reason, RunUntilCancelled, RunUntilCancelledOwned,
    TimerDriver,
};

/// Pending forever; counts its polls and its drop.
struct Work {
    polls: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
    ready_after: Option<usize>,
}

impl Work {
    fn new(ready_after: Option<usize>) -> (Self, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let polls = Arc::new(AtomicUsize::new(0));
        let drops = Arc::new(AtomicUsize::new(0));
        let work = Work {
            polls: polls.clone(),
            drops: drops.clone(),
            ready_after,
        };
        (work, polls, drops)
    }
}

impl Future for Work {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<usize> {
        let n = self.polls.fetch_add(1, SeqCst) + 1;
        match self.ready_after {
            Some(k) if n >= k => Poll::Ready(n),
            _ => Poll::Pending,
        }
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(
        futures_util::task::noop_waker_ref(),
    ))
}

#[test]
fn once_cancelled_the_work_is_not_polled_again() {
    let source = CancelSource::new();
    let (work, polls, drops) = Work::new(Some(2));
    let mut fut = pin!(source.run_until_cancelled(work));
    assert!(poll_once(fut.as_mut()).is_pending());
    assert_eq!(polls.load(SeqCst), 1);
    source.cancel();
    // The work would be ready at this poll; the cancel wins and it is not polled.
    assert_eq!(poll_once(fut.as_mut()), Poll::Ready(Err(Reason::Cancelled)));
    assert_eq!(polls.load(SeqCst), 1);
    assert_eq!(drops.load(SeqCst), 0, "dropped with the future, not before");
}

#[test]
fn work_on_a_cancelled_token_is_never_polled_and_is_dropped_with_the_future() {
    let source = CancelSource::new();
    source.cancel();
    let (work, polls, drops) = Work::new(Some(1));
    let fut = source.token().run_until_cancelled_owned(work);
    assert_eq!(futures_executor::block_on(fut), Err(Reason::Cancelled));
    assert_eq!(polls.load(SeqCst), 0);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn work_that_finishes_first_gives_its_output() {
    let source = CancelSource::new();
    let (work, polls, _) = Work::new(Some(3));
    let mut fut = pin!(work.until_cancelled(&source));
    assert!(poll_once(fut.as_mut()).is_pending());
    assert!(poll_once(fut.as_mut()).is_pending());
    assert_eq!(poll_once(fut.as_mut()), Poll::Ready(Ok(3)));
    assert_eq!(polls.load(SeqCst), 3);
    assert!(!source.is_cancelled());
}

#[test]
fn a_cancel_from_another_thread_wakes_it() {
    let source = CancelSource::new();
    let (work, polls, drops) = Work::new(None);
    let fut = work.until_cancelled_owned(source.token());
    let waiter = std::thread::spawn(move || futures_executor::block_on(fut));
    while polls.load(SeqCst) == 0 {
        std::thread::yield_now();
    }
    source.cancel();
    assert_eq!(waiter.join().unwrap(), Err(Reason::Cancelled));
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn a_deadline_reaches_it_as_deadline_exceeded() {
    let driver = cancel_token::ManualDriver::new();
    let root = CancelSource::new();
    let call = root
        .token()
        .child_with_timeout_on(&driver, std::time::Duration::from_millis(5));
    let mut fut = pin!(std::future::pending::<()>().until_cancelled(&call));
    assert!(poll_once(fut.as_mut()).is_pending());
    driver.advance_by(std::time::Duration::from_millis(5));
    assert_eq!(
        poll_once(fut.as_mut()),
        Poll::Ready(Err(Reason::DeadlineExceeded))
    );
}

/// The futures can be named in a struct, and are `Send` (and, owned,
/// `'static`) when their work is.
#[test]
fn the_futures_are_nameable_send_and_owned_static() {
    struct Request<'a> {
        _call: RunUntilCancelled<'a, Ready<u32>>,
    }
    struct Spawned {
        _call: RunUntilCancelledOwned<Ready<u32>>,
    }
    fn send<T: Send>(_: &T) {}
    fn send_static<T: Send + 'static>(_: &T) {}
    let source = CancelSource::new();
    let token: CancelToken = source.token();
    let request = Request {
        _call: token.run_until_cancelled(ready(1)),
    };
    let spawned = Spawned {
        _call: ready(1).until_cancelled_owned(source.token()),
    };
    send(&request._call);
    send_static(&spawned._call);
    send(&source.as_token_ref().run_until_cancelled(ready(1)));
    assert!(format!("{:?}", request._call).starts_with("RunUntilCancelled"));
    assert!(format!("{:?}", spawned._call).starts_with("RunUntilCancelledOwned"));
}

// ---- `timeout` and `timeout_at` ----------------------------------------------

/// Work that completes in time gives its output, and the child's timer is
/// gone once the future is.
#[test]
fn a_timeout_gives_the_output_in_time_and_disarms() {
    use cancel_token::ManualDriver;
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let (work, polls, drops) = Work::new(Some(2));
    let mut call = Box::pin(root.timeout_on(&driver, Duration::from_secs(1), work));
    assert_eq!(driver.pending(), 1, "armed as it is made");
    assert_eq!(poll_once(call.as_mut()), Poll::Pending);
    driver.advance_by(Duration::from_millis(999));
    assert_eq!(poll_once(call.as_mut()), Poll::Ready(Ok(2)));
    assert_eq!(polls.load(SeqCst), 2);
    assert_eq!(drops.load(SeqCst), 0);
    drop(call);
    assert_eq!(drops.load(SeqCst), 1);
    assert_eq!(driver.pending(), 0);
    assert!(!root.is_cancelled());
    futures_executor::block_on(async {
        let at = Duration::from_secs(5);
        assert_eq!(root.timeout_at_on(&driver, at, async { 3 }).await, Ok(3));
    });
    assert_eq!(driver.pending(), 0);
}

/// Late work is stopped at the deadline with `DeadlineExceeded`, and not
/// polled again; its parent is not cancelled.
#[test]
fn a_late_timeout_is_deadline_exceeded() {
    use cancel_token::ManualDriver;
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let (work, polls, drops) = Work::new(None);
    let mut call = Box::pin(root.timeout_on(&driver, Duration::from_secs(1), work));
    assert_eq!(poll_once(call.as_mut()), Poll::Pending);
    driver.advance_by(Duration::from_secs(1));
    assert_eq!(driver.pending(), 0, "fired");
    assert_eq!(
        poll_once(call.as_mut()),
        Poll::Ready(Err(Reason::DeadlineExceeded))
    );
    assert_eq!(polls.load(SeqCst), 1);
    drop(call);
    assert_eq!(drops.load(SeqCst), 1);
    assert!(!root.is_cancelled());
    let at = driver.now();
    let late = futures_executor::block_on(root.timeout_at_on(&driver, at, ready(1)));
    assert_eq!(late, Err(Reason::DeadlineExceeded));
}

/// An ancestor's cancel stops the work with its reason, and the timer is
/// taken out with the child.
#[test]
fn a_parent_cancel_stops_a_timeout_as_cancelled() {
    use cancel_token::ManualDriver;
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let request = root.child();
    let (work, _, drops) = Work::new(None);
    let mut call = Box::pin(request.timeout_on(&driver, Duration::from_secs(60), work));
    assert_eq!(poll_once(call.as_mut()), Poll::Pending);
    root.cancel();
    assert_eq!(driver.pending(), 0, "the cancel disarmed the child");
    assert_eq!(
        poll_once(call.as_mut()),
        Poll::Ready(Err(Reason::Cancelled))
    );
    drop(call);
    assert_eq!(drops.load(SeqCst), 1);
}

/// A timeout dropped before it completes, polled or not, takes its timer
/// out and drops its work, and leaves its parent live.
#[test]
fn a_dropped_timeout_disarms() {
    use cancel_token::ManualDriver;
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let (work, _, drops) = Work::new(None);
    drop(root.timeout_on(&driver, Duration::from_secs(60), work));
    assert_eq!((driver.pending(), drops.load(SeqCst)), (0, 1));
    let (work, _, drops) = Work::new(None);
    let mut call = Box::pin(root.timeout_on(&driver, Duration::from_secs(60), work));
    assert_eq!(poll_once(call.as_mut()), Poll::Pending);
    assert_eq!(driver.pending(), 1);
    drop(call);
    assert_eq!((driver.pending(), drops.load(SeqCst)), (0, 1));
    assert!(!root.is_cancelled());
    // The parent's spare took the child's memory: the next one reuses it.
    let again = root.timeout_on(&driver, Duration::from_secs(60), ready(1));
    assert_eq!(futures_executor::block_on(again), Ok(1));
    assert_eq!(driver.pending(), 0);
}

/// A `Timeout` can be named in a struct and is `Send` (and `'static`) when
/// its work is.
#[test]
fn a_timeout_is_nameable_send_and_static() {
    use cancel_token::{ManualDriver, Timeout};
    struct Call {
        inner: Timeout<Ready<u32>>,
    }
    fn send_static<T: Send + 'static>(_: &T) {}
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let call = Call {
        inner: root.timeout_on(&driver, Duration::from_secs(1), ready(1)),
    };
    send_static(&call.inner);
    assert!(format!("{:?}", call.inner).starts_with("Timeout { child: CancelSource"));
    let worker = std::thread::spawn(move || futures_executor::block_on(call.inner));
    assert_eq!(worker.join().unwrap(), Ok(1));
}

/// On tokio's paused clock: in time, late, and a parent's cancel, with the
/// timer gone after each.
#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn a_timeout_follows_tokio_paused_time() {
    use cancel_token::TokioDriver;
    let driver = TokioDriver::new();
    let root = CancelSource::new();
    let quick = tokio::time::sleep(Duration::from_millis(100));
    let call = root.timeout_on(&driver, Duration::from_millis(200), quick);
    assert_eq!(call.await, Ok(()));
    assert_eq!(driver.pending(), 0);

    let slow = tokio::time::sleep(Duration::from_millis(500));
    let started = tokio::time::Instant::now();
    let call = root.timeout_on(&driver, Duration::from_millis(200), slow);
    assert_eq!(call.await, Err(Reason::DeadlineExceeded));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_millis(500),
        "{waited:?}"
    );
    assert_eq!(driver.pending(), 0);

    let request = root.child();
    let at = driver.now() + Duration::from_secs(60);
    let call = request.timeout_at_on(&driver, at, std::future::pending::<()>());
    let canceller = async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        request.cancel();
    };
    let (out, ()) = tokio::join!(call, canceller);
    assert_eq!(out, Err(Reason::Cancelled));
    assert_eq!(driver.pending(), 0);
    assert!(!root.is_cancelled());
}
