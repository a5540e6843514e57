//! Parking a thread on a future, for `CancelToken::wait`.

use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

std::thread_local! {
    /// One waker per thread, made on its first blocking wait.
    static WAKER: Waker = Waker::from(Arc::new(Unparker(thread::current())));
}

/// Polls `poll` until ready, parking the thread in between; `None` once
/// `deadline` passes.
pub(crate) fn park_on<T>(
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>,
    deadline: Option<Instant>,
) -> Option<T> {
    WAKER.with(|waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(v) = poll(&mut cx) {
                return Some(v);
            }
            match deadline {
                None => thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return None;
                    }
                    thread::park_timeout(deadline - now);
                }
            }
        }
    })
}
