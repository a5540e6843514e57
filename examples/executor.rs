//! A small executor that stops each task whose token is cancelled: the
//! waker-level API for runtime authors.
//!
//! Each task's header holds a `CancelledOwned`, pinned with the task. Before
//! polling a task's future, the executor polls the header with
//! `poll_cancelled` and the task's own waker: a cancelled task is dropped
//! where it stands, without polling its future again, and its waiting costs
//! no future per poll site, no allocation and no lock after the first poll.
//!
//! Run with `cargo run --example executor`.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use cancel_token::{CancelSource, CancelToken, CancelledOwned, Reason, ThreadDriver};

type BoxFuture = Pin<Box<dyn Future<Output = &'static str> + Send>>;

/// A task: its name, its cancellation header and its future.
struct Task {
    name: &'static str,
    /// Pinned with the task (`Pin<Arc<Task>>`), never moved out.
    cancel: CancelledOwned,
    future: Mutex<Option<BoxFuture>>,
    queue: Arc<Queue>,
}

/// The run queue; a task's waker pushes the task back onto it.
#[derive(Default)]
struct Queue(Mutex<VecDeque<Pin<Arc<Task>>>>);

/// Wakes a task by queueing it again.
struct TaskWaker(Pin<Arc<Task>>);

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        let task = self.0.clone();
        self.0.queue.0.lock().unwrap().push_back(task);
    }
}

impl Task {
    /// The header, pinned with the task.
    fn cancel(self: Pin<&Self>) -> Pin<&CancelledOwned> {
        // SAFETY: `cancel` is a field of a pinned task and is never moved out.
        unsafe { self.map_unchecked(|t| &t.cancel) }
    }
}

/// What became of a task.
#[derive(Debug, PartialEq)]
enum Outcome {
    Done(&'static str),
    Stopped(Reason),
}

/// Runs every task to its end, one at a time; returns each task's outcome.
fn run(queue: &Arc<Queue>) -> Vec<(&'static str, Outcome)> {
    let mut outcomes = Vec::new();
    loop {
        let Some(task) = queue.0.lock().unwrap().pop_front() else {
            return outcomes;
        };
        let mut slot = task.future.lock().unwrap();
        let Some(future) = slot.as_mut() else {
            continue; // woken again after it ended
        };
        let waker = Waker::from(Arc::new(TaskWaker(task.clone())));
        let mut cx = Context::from_waker(&waker);
        // The token first: a cancelled task is not polled again.
        let outcome = match task.as_ref().cancel().poll_cancelled(&mut cx) {
            Poll::Ready(reason) => Some(Outcome::Stopped(reason)),
            Poll::Pending => match future.as_mut().poll(&mut cx) {
                Poll::Ready(out) => Some(Outcome::Done(out)),
                Poll::Pending => None,
            },
        };
        if let Some(outcome) = outcome {
            *slot = None; // the future is dropped where it stands
            println!("{:>8}: {outcome:?}", task.name);
            outcomes.push((task.name, outcome));
        }
    }
}

fn spawn(queue: &Arc<Queue>, name: &'static str, token: CancelToken, future: BoxFuture) {
    let task = Arc::pin(Task {
        name,
        cancel: token.cancelled_owned(),
        future: Mutex::new(Some(future)),
        queue: queue.clone(),
    });
    queue.0.lock().unwrap().push_back(task);
}

/// Pending until woken `n` times, then done.
fn yields(n: usize, out: &'static str) -> BoxFuture {
    let mut left = n;
    Box::pin(std::future::poll_fn(move |cx| {
        if left == 0 {
            return Poll::Ready(out);
        }
        left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }))
}

fn main() {
    let queue = Arc::new(Queue::default());
    let server = CancelSource::new();
    let driver = ThreadDriver::new();

    // Finishes before anything is cancelled.
    let quick = server.child();
    spawn(&queue, "quick", quick.token(), yields(2, "answered"));
    // Its own source is cancelled while it runs.
    let stopped = server.child();
    spawn(&queue, "stopped", stopped.token(), yields(1_000, "never"));
    // A deadline passes while it waits.
    let slow = server.child_with_timeout_on(&driver, Duration::from_millis(20));
    spawn(
        &queue,
        "slow",
        slow.token(),
        Box::pin(std::future::pending()),
    );

    stopped.cancel();
    let outcomes = run(&queue);
    assert_eq!(
        outcomes,
        [
            ("stopped", Outcome::Stopped(Reason::Cancelled)),
            ("quick", Outcome::Done("answered")),
        ]
    );
    // `slow` waits without being polled; its deadline wakes it.
    while queue.0.lock().unwrap().is_empty() {
        std::thread::yield_now();
    }
    let outcomes = run(&queue);
    assert_eq!(
        outcomes,
        [("slow", Outcome::Stopped(Reason::DeadlineExceeded))]
    );
    println!(
        "every task ended; the server is live: {}",
        !server.is_cancelled()
    );
}
