//! `cancel-token` against `tokio_util::sync::CancellationToken`, workload by
//! workload, in the same run; then a table of the ratios against their targets.
//!
//! Each workload is a criterion group holding one benchmark per crate, named
//! after the crate. Run with `cargo bench --bench compare`.

mod support;

use support::{mean_ns, ratio_cells, show};

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use cancel_token::{CancelSource, CancelToken};
use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Children of the parent in the fan-out and tree workloads.
const CHILDREN: usize = 1000;
/// Threads of the contended workload.
const THREADS: usize = 2;

/// The operations the workloads use, for one crate.
trait Subject {
    /// The benchmark's name within each group.
    const NAME: &'static str;
    /// A long-lived parent.
    type Parent: Sync;
    /// A child of the parent, which can cancel itself.
    type Child: Send + 'static;

    fn parent() -> Self::Parent;
    fn is_cancelled(parent: &Self::Parent) -> bool;
    fn cancel(parent: &Self::Parent);
    fn child(parent: &Self::Parent) -> Self::Child;
    /// Cancels the child and lets go of it (unlinking it from its parent).
    fn cancel_child(child: Self::Child);
    /// Completes once the child is cancelled; owns the child until then.
    fn wait(child: Self::Child) -> impl Future<Output = ()> + Send + 'static;
}

/// This crate.
enum Ours {}

/// A parent as a long-lived user holds it: the source, and a token to make
/// children from without cloning one each time.
struct OursParent {
    source: CancelSource,
    token: CancelToken,
}

impl Subject for Ours {
    const NAME: &'static str = "cancel-token";
    type Parent = OursParent;
    type Child = CancelSource;

    fn parent() -> OursParent {
        let source = CancelSource::new();
        let token = source.token();
        OursParent { source, token }
    }

    fn is_cancelled(parent: &OursParent) -> bool {
        parent.token.is_cancelled()
    }

    fn cancel(parent: &OursParent) {
        parent.source.cancel();
    }

    fn child(parent: &OursParent) -> CancelSource {
        parent.token.child()
    }

    fn cancel_child(child: CancelSource) {
        // Dropping a source cancels it and unlinks it from its parent.
        drop(child);
    }

    fn wait(child: CancelSource) -> impl Future<Output = ()> + Send + 'static {
        let cancelled = child.token().cancelled_owned();
        async move {
            cancelled.await;
            drop(child);
        }
    }
}

/// `tokio_util::sync::CancellationToken`.
enum TokioUtil {}

impl Subject for TokioUtil {
    const NAME: &'static str = "tokio-util";
    type Parent = CancellationToken;
    type Child = CancellationToken;

    fn parent() -> CancellationToken {
        CancellationToken::new()
    }

    fn is_cancelled(parent: &CancellationToken) -> bool {
        parent.is_cancelled()
    }

    fn cancel(parent: &CancellationToken) {
        parent.cancel();
    }

    fn child(parent: &CancellationToken) -> CancellationToken {
        parent.child_token()
    }

    fn cancel_child(child: CancellationToken) {
        child.cancel();
    }

    fn wait(child: CancellationToken) -> impl Future<Output = ()> + Send + 'static {
        child.cancelled_owned()
    }
}

/// The least any cancellation can do, for the fan-out's floor: a flag and a
/// waker slot per child, set and woken one by one. Not a usable token (no
/// tree, no unregistering), only what every one must at least do.
enum Floor {}

/// A floor child: its flag and its task's waker.
#[derive(Default)]
struct FloorSlot {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl FloorSlot {
    fn fire(&self) {
        self.fired.store(true, Release);
        if let Some(waker) = self.waker.lock().expect("not poisoned").take() {
            waker.wake();
        }
    }
}

impl Subject for Floor {
    const NAME: &'static str = "floor";
    type Parent = Mutex<Vec<Arc<FloorSlot>>>;
    type Child = Arc<FloorSlot>;

    fn parent() -> Self::Parent {
        Mutex::default()
    }

    fn is_cancelled(_: &Self::Parent) -> bool {
        false
    }

    fn cancel(parent: &Self::Parent) {
        for slot in parent.lock().expect("not poisoned").drain(..) {
            slot.fire();
        }
    }

    fn child(parent: &Self::Parent) -> Arc<FloorSlot> {
        let slot = Arc::new(FloorSlot::default());
        parent.lock().expect("not poisoned").push(slot.clone());
        slot
    }

    fn cancel_child(child: Arc<FloorSlot>) {
        child.fire();
    }

    fn wait(child: Arc<FloorSlot>) -> impl Future<Output = ()> + Send + 'static {
        std::future::poll_fn(move |cx| {
            if child.fired.load(Acquire) {
                return Poll::Ready(());
            }
            *child.waker.lock().expect("not poisoned") = Some(cx.waker().clone());
            if child.fired.load(Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// Checks per iteration of `check`, so the harness's own cost per iteration
/// does not hide a one-load check; the time reported is for all of them.
const CHECKS: usize = 1024;

/// `is_cancelled` on a live token, `CHECKS` times per iteration.
fn check<S: Subject>(group: &mut Group) {
    let parent = S::parent();
    group.bench_function(S::NAME, |b| b.iter(|| checks::<S>(black_box(&parent))));
}

/// `CHECKS` checks, as a function that holds a reference to a token checks it
/// in a loop. Each check does its whole work: an atomic load is never merged
/// with another or dropped, and tokio-util's lock is taken each time.
#[inline(never)]
fn checks<S: Subject>(parent: &S::Parent) {
    for _ in 0..CHECKS {
        black_box(S::is_cancelled(parent));
    }
}

/// Creating a child of a long-lived parent, cancelling and dropping it.
fn child_create_cancel<S: Subject>(group: &mut Group) {
    let parent = S::parent();
    group.bench_function(S::NAME, |b| {
        b.iter(|| S::cancel_child(black_box(S::child(&parent))))
    });
}

/// Cancelling a parent whose children are each awaited by a task, until every
/// task woke and finished. Spawning the tasks and letting them reach their
/// first `await` is not timed.
fn fanout_1000_waiters<S: Subject>(group: &mut Group) {
    fanout::<S>(group, |(_, all_woke)| all_woke);
}

/// The fan-out's `cancel` call alone: the part of the fan-out that is the
/// crate's own, before the runtime runs the woken tasks (not timed).
fn fanout_cancel_call<S: Subject>(group: &mut Group) {
    fanout::<S>(group, |(cancel, _)| cancel);
}

/// Times the part of each fan-out that `pick` takes from `fanout_times`.
fn fanout<S: Subject>(group: &mut Group, pick: fn((Duration, Duration)) -> Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    group.bench_function(S::NAME, |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += pick(fanout_times::<S>().await);
                }
                total
            })
        })
    });
}

/// How far the fan-out's tasks got.
struct Progress {
    /// Tasks that reached their wait.
    registered: AtomicUsize,
    /// Tasks whose wait has not completed yet.
    pending: AtomicUsize,
    /// Notified by the last task to complete its wait.
    all_woke: Notify,
}

/// One fan-out: the time `cancel` took, and the time until every task woke.
async fn fanout_times<S: Subject>() -> (Duration, Duration) {
    let parent = S::parent();
    let progress = Arc::new(Progress {
        registered: AtomicUsize::new(0),
        pending: AtomicUsize::new(CHILDREN),
        all_woke: Notify::new(),
    });
    for _ in 0..CHILDREN {
        let wait = S::wait(S::child(&parent));
        let progress = progress.clone();
        tokio::spawn(async move {
            // On a current-thread runtime the first poll of `wait` follows in
            // the same poll of this task, so `registered` counts registrations.
            progress.registered.fetch_add(1, Relaxed);
            wait.await;
            if progress.pending.fetch_sub(1, Relaxed) == 1 {
                progress.all_woke.notify_one();
            }
        });
    }
    while progress.registered.load(Relaxed) < CHILDREN {
        tokio::task::yield_now().await;
    }
    let start = Instant::now();
    S::cancel(&parent);
    let cancelled = start.elapsed();
    progress.all_woke.notified().await;
    (cancelled, start.elapsed())
}

/// Cancelling a parent with children and no waiters. Building the tree and
/// dropping it afterwards are not timed.
fn tree_1000_no_waiters<S: Subject>(group: &mut Group) {
    group.bench_function(S::NAME, |b| {
        b.iter_batched(
            || {
                let parent = S::parent();
                let children: Vec<_> = (0..CHILDREN).map(|_| S::child(&parent)).collect();
                (parent, children)
            },
            |tree| {
                S::cancel(&tree.0);
                tree
            },
            BatchSize::PerIteration,
        )
    });
}

/// Two threads each creating and cancelling children of one shared parent;
/// the time of one iteration on every thread at once (the slowest thread).
fn contended_2_threads<S: Subject>(group: &mut Group) {
    group.bench_function(S::NAME, |b| {
        b.iter_custom(|iters| {
            let parent = S::parent();
            let start = Barrier::new(THREADS);
            thread::scope(|scope| {
                let workers: Vec<_> = (0..THREADS)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            let begin = Instant::now();
                            for _ in 0..iters {
                                S::cancel_child(black_box(S::child(&parent)));
                            }
                            begin.elapsed()
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|worker| worker.join().expect("a worker panicked"))
                    .max()
                    .unwrap_or_default()
            })
        })
    });
}

/// Runs `$workload` for both crates in a group named after it; yields the
/// group's name and the ratio `$target` ours/tokio-util should stay under, if any.
macro_rules! compare {
    ($criterion:expr, $workload:ident, $target:expr) => {{
        let mut group = $criterion.benchmark_group(stringify!($workload));
        $workload::<Ours>(&mut group);
        $workload::<TokioUtil>(&mut group);
        group.finish();
        (stringify!($workload), $target)
    }};
}

fn main() {
    let started = SystemTime::now();
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let workloads = [
        compare!(criterion, check, Some(0.1)),
        compare!(criterion, child_create_cancel, Some(0.3)),
        {
            let fanout = compare!(criterion, fanout_1000_waiters, Some(0.5));
            let mut group = criterion.benchmark_group("fanout_1000_waiters");
            fanout_1000_waiters::<Floor>(&mut group);
            group.finish();
            fanout
        },
        compare!(criterion, fanout_cancel_call, None),
        compare!(criterion, tree_1000_no_waiters, Some(0.3)),
        compare!(criterion, contended_2_threads, Some(0.3)),
    ];
    criterion.final_summary();
    print_ratios(&workloads, started);
    let floor = mean_ns("fanout_1000_waiters", Floor::NAME, started);
    let theirs = mean_ns("fanout_1000_waiters", TokioUtil::NAME, started);
    let (ratio, _) = ratio_cells(floor, theirs, None);
    println!(
        "\nfan-out floor (a flag and a waker per child, same runtime and harness): \
         {} ns, {ratio} of tokio-util's",
        show(floor)
    );
}

/// Prints ours/tokio-util per workload from this run's estimates ("n/a" where
/// a benchmark did not run), against its target where it has one.
fn print_ratios(workloads: &[(&str, Option<f64>)], started: SystemTime) {
    println!("\nworkload | cancel-token ns | tokio-util ns | ratio | target");
    println!("---|---|---|---|---");
    for &(workload, target) in workloads {
        let ours = mean_ns(workload, Ours::NAME, started);
        let theirs = mean_ns(workload, TokioUtil::NAME, started);
        let (ratio, target) = ratio_cells(ours, theirs, target);
        println!(
            "{workload} | {} | {} | {ratio} | {target}",
            show(ours),
            show(theirs)
        );
    }
}
