//! `cancelled()` futures: registration, wake-up, drop, composition.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use cancel_token::{CancelSource, Reason};
use futures_util::StreamExt;

#[derive(Default)]
struct CountWaker(AtomicUsize);
impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<CountWaker>, Waker) {
    let c = Arc::new(CountWaker::default());
    (c.clone(), Waker::from(c))
}

#[test]
fn pending_until_cancel_then_woken_once() {
    let s = CancelSource::new();
    let t = s.token();
    let (count, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(t.cancelled());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
    s.cancel();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(Reason::Cancelled));
}

#[test]
fn repoll_with_new_waker_wakes_the_new_one() {
    let s = CancelSource::new();
    let t = s.token();
    let (old, w1) = counting();
    let (new, w2) = counting();
    let mut fut = pin!(t.cancelled());
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(&w1))
        .is_pending());
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(&w2))
        .is_pending());
    s.cancel();
    assert_eq!(old.0.load(Ordering::SeqCst), 0);
    assert_eq!(new.0.load(Ordering::SeqCst), 1);
}

#[test]
fn already_cancelled_is_ready_at_once() {
    let s = CancelSource::new();
    s.cancel();
    let t = s.token();
    let (count, waker) = counting();
    let mut fut = pin!(t.cancelled());
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_ready());
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
}

#[test]
fn ancestor_cancel_wakes_descendant_waiters() {
    let root = CancelSource::new();
    let child = root.token().child();
    let grandchild = child.token().child();
    let t = grandchild.token();
    let (count, waker) = counting();
    let mut fut = pin!(t.cancelled());
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    root.cancel();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
}

#[test]
fn dropped_waiter_is_unlinked_and_not_woken() {
    let s = CancelSource::new();
    let t = s.token();
    let (count, waker) = counting();
    for _ in 0..100 {
        let mut fut = Box::pin(t.cancelled());
        assert!(fut
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    s.cancel();
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
}

#[test]
fn many_waiters_more_than_a_batch_all_wake() {
    let s = CancelSource::new();
    let t = s.token();
    let (count, waker) = counting();
    let mut futs: Vec<_> = (0..1000).map(|_| Box::pin(t.cancelled())).collect();
    for f in &mut futs {
        assert!(f
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    s.cancel();
    assert_eq!(count.0.load(Ordering::SeqCst), 1000);
    for f in &mut futs {
        assert!(f.as_mut().poll(&mut Context::from_waker(&waker)).is_ready());
    }
}

#[test]
fn waiter_dropped_after_wake_before_poll_is_fine() {
    let s = CancelSource::new();
    let t = s.token();
    let (_, waker) = counting();
    let mut fut = Box::pin(t.cancelled());
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    s.cancel();
    drop(fut);
}

#[test]
fn owned_future_outlives_source() {
    let s = CancelSource::new();
    let fut = s.token().cancelled_owned();
    drop(s);
    assert_eq!(futures_executor::block_on(fut), Reason::Cancelled);
}

#[test]
fn cross_thread_wake_with_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let root = CancelSource::new();
    let handles: Vec<_> = (0..64)
        .map(|_| {
            let child = root.token().child();
            rt.spawn(async move { child.token().cancelled().await })
        })
        .collect();
    root.cancel();
    for h in handles {
        assert_eq!(rt.block_on(h).unwrap(), Reason::Cancelled);
    }
}

#[test]
fn composes_with_select() {
    let s = CancelSource::new();
    let t = s.token();
    let out = futures_executor::block_on(async {
        let work = pin!(async { 5 });
        let cancelled = pin!(t.cancelled());
        match futures_util::future::select(work, cancelled).await {
            futures_util::future::Either::Left((v, _)) => v,
            futures_util::future::Either::Right(_) => 0,
        }
    });
    assert_eq!(out, 5);
}

#[test]
fn composes_with_take_until() {
    let s = CancelSource::new();
    let t = s.token();
    // An endless stream whose fourth item cancels the token: take_until ends it.
    let stream = futures_util::stream::iter(0..).map(|i| {
        if i == 3 {
            s.cancel();
        }
        i
    });
    let collected: Vec<u32> =
        futures_executor::block_on(stream.take_until(t.cancelled()).collect());
    assert_eq!(collected, vec![0, 1, 2, 3]);
}

#[test]
fn run_until_cancelled_prefers_cancellation_and_supports_question_mark() {
    async fn work(t: &cancel_token::CancelToken) -> Result<u32, Box<dyn std::error::Error>> {
        let v = t.run_until_cancelled(async { 1 }).await?;
        Ok(v + 1)
    }
    let s = CancelSource::new();
    let t = s.token();
    assert_eq!(futures_executor::block_on(work(&t)).unwrap(), 2);
    s.cancel();
    let err = futures_executor::block_on(work(&t)).unwrap_err();
    assert_eq!(err.to_string(), "operation cancelled");
    // A ready future still loses to a cancelled token.
    let r = futures_executor::block_on(t.run_until_cancelled(async { 9 }));
    assert_eq!(r, Err(Reason::Cancelled));
}

#[test]
fn blocking_wait_and_timeout() {
    let s = CancelSource::new();
    let t = s.token();
    assert_eq!(t.wait_timeout(std::time::Duration::from_millis(5)), None);
    let t2 = t.clone();
    let h = std::thread::spawn(move || t2.wait());
    s.cancel();
    assert_eq!(h.join().unwrap(), Reason::Cancelled);
    assert_eq!(
        t.wait_timeout(std::time::Duration::MAX),
        Some(Reason::Cancelled)
    );
}
