//! `poll_cancelled`: the waker-level API, polled through a shared pin from
//! several places, as a runtime polls a task header.

use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use cancel_token::{CancelSource, CancelledOwned, Reason};

/// Counts its wake-ups.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counter() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    (count, waker)
}

#[test]
fn the_last_waker_registered_is_woken_once() {
    let source = CancelSource::new();
    let header = pin!(source.token().cancelled_owned());
    let header = header.as_ref();
    let (first, w1) = counter();
    let (second, w2) = counter();
    assert!(header
        .poll_cancelled(&mut Context::from_waker(&w1))
        .is_pending());
    assert!(header
        .poll_cancelled(&mut Context::from_waker(&w2))
        .is_pending());
    source.cancel_with(&std::fmt::Error);
    assert_eq!(first.0.load(SeqCst), 0);
    assert_eq!(second.0.load(SeqCst), 1);
    for _ in 0..3 {
        let ready = header.poll_cancelled(&mut Context::from_waker(&w1));
        assert_eq!(ready, Poll::Ready(Reason::Cancelled), "the same every time");
    }
}

#[test]
fn a_borrowed_waiter_polls_the_same_way() {
    let source = CancelSource::new();
    let token = source.token();
    let waiter = pin!(token.cancelled());
    let (count, waker) = counter();
    let mut cx = Context::from_waker(&waker);
    assert!(waiter.as_ref().poll_cancelled(&mut cx).is_pending());
    drop(source);
    assert_eq!(count.0.load(SeqCst), 1);
    assert_eq!(
        waiter.as_ref().poll_cancelled(&mut cx),
        Poll::Ready(Reason::Cancelled)
    );
}

/// Several threads poll one shared header while another cancels: every
/// poll after the cancel is ready, no wake-up is lost (if a poll was
/// pending, the waker is woken; a waker registered while the cancel wakes
/// may be woken once more, as `AtomicWaker` allows), and the header is
/// linked once (the cancel's walk would loop, and the drop would unlink
/// twice, otherwise).
#[test]
fn threads_polling_one_header_while_it_is_cancelled() {
    let rounds = if cfg!(miri) { 5 } else { 500 };
    for _ in 0..rounds {
        let source = CancelSource::new();
        let header: Arc<Pin<Box<CancelledOwned>>> =
            Arc::new(Box::pin(source.token().cancelled_owned()));
        let (count, waker) = counter();
        let pollers: Vec<_> = (0..3)
            .map(|_| {
                let (header, waker) = (header.clone(), waker.clone());
                std::thread::spawn(move || {
                    let mut cx = Context::from_waker(&waker);
                    (0..4).any(|_| (*header).as_ref().poll_cancelled(&mut cx).is_pending())
                })
            })
            .collect();
        source.cancel();
        let mut pending = false;
        for p in pollers {
            pending |= p.join().unwrap();
        }
        let mut cx = Context::from_waker(&waker);
        let last = (*header).as_ref().poll_cancelled(&mut cx);
        assert_eq!(last, Poll::Ready(Reason::Cancelled));
        if pending {
            assert!(count.0.load(SeqCst) >= 1, "lost wake-up");
        }
    }
}
