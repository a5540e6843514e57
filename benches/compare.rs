//! `cancel-token` against `tokio_util::sync::CancellationToken`, workload by
//! workload, in the same run; then a table of the ratios against their targets.
//!
//! Each workload is a criterion group holding one benchmark per crate, named
//! after the crate, and for most a `floor`: the allocations and atomic
//! read-modify-writes the workload cannot avoid, timed alone (see `floor`).
//! The table shows ours/tokio-util and ours/floor. Run with
//! `cargo bench --bench compare` in `benches/` (its own workspace).

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
use criterion::{BatchSize, BenchmarkGroup};
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
    const NAME: &'static str = FLOOR;
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

/// The error of the cause workloads.
#[derive(Debug)]
struct Stop(#[allow(dead_code)] u64);
impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stop")
    }
}
impl std::error::Error for Stop {}
static STOP: Stop = Stop(0);

/// The group of the cause workloads, and its three benchmarks.
const CAUSES: (&str, [&str; 3]) = ("tree_1000_cause", ["none", "static", "owned"]);

/// Cancelling a parent of `CHILDREN` children (ours only) without a cause,
/// with a static one, and with an owned one made in the timed part (one
/// allocation, then one increment per node); building and dropping the tree
/// are not timed. Prints the three means.
fn tree_1000_cause(criterion: &mut criterion::Criterion, started: SystemTime) {
    let mut group = criterion.benchmark_group(CAUSES.0);
    for (i, name) in CAUSES.1.into_iter().enumerate() {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let parent = Ours::parent();
                    let children: Vec<_> = (0..CHILDREN).map(|_| Ours::child(&parent)).collect();
                    (parent, children)
                },
                |tree| {
                    match i {
                        0 => tree.0.source.cancel(),
                        1 => tree.0.source.cancel_with(&STOP),
                        _ => tree
                            .0
                            .source
                            .cancel_with(cancel_token::Cause::new(Stop(black_box(1)))),
                    }
                    tree
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
    let means = CAUSES.1.map(|name| show(mean_ns(CAUSES.0, name, started)));
    println!(
        "\ncancel of a {CHILDREN}-child tree, ns: no cause {}, static cause {}, owned cause {}",
        means[0], means[1], means[2]
    );
}

/// Two threads each creating and cancelling children of one shared parent;
/// the time of one iteration on every thread at once (the slowest thread).
fn contended_2_threads<S: Subject>(group: &mut Group) {
    let parent = S::parent();
    on_threads(group, S::NAME, || {
        S::cancel_child(black_box(S::child(&parent)))
    });
}

#[path = "compare/lifecycle.rs"]
mod lifecycle;
use lifecycle::*;

#[path = "compare/floor.rs"]
mod floor;

/// Benchmarks `op` on a long-lived floor parent, as `floor`.
fn floor_op(group: &mut Group, op: fn(&floor::Node)) {
    let parent = floor::Node::new();
    group.bench_function(FLOOR, |b| b.iter(|| op(black_box(&parent))));
}

/// The name of the floor's benchmark in each group.
const FLOOR: &str = "floor";

/// `check`'s floor: `CHECKS` Acquire loads of a word, in the same loop as
/// `checks` (a load is what observing a flag set by another thread takes).
fn floor_check(group: &mut Group) {
    let node = floor::Node::new();
    group.bench_function(FLOOR, |b| b.iter(|| floor_checks(black_box(&node))));
}

#[inline(never)]
fn floor_checks(node: &floor::Node) {
    for _ in 0..CHECKS {
        black_box(node.is_cancelled());
    }
}

/// `tree_1000_no_waiters`' floor: `floor::cancel_tree` on a root with
/// `CHILDREN` children, built and dropped outside the timing.
fn floor_tree_1000_no_waiters(group: &mut Group) {
    group.bench_function(FLOOR, |b| {
        b.iter_batched(
            || {
                let root = floor::Node::new();
                let mut children = Vec::with_capacity(CHILDREN);
                for _ in 0..CHILDREN {
                    floor::build(&root, &mut children);
                }
                (root, children)
            },
            |tree| {
                floor::cancel_tree(black_box(&tree.0), &tree.1);
                tree
            },
            BatchSize::PerIteration,
        )
    });
}

/// `contended_2_threads`' floor: `floor::spare_reuse` on two threads at once.
fn floor_contended_create_drop(group: &mut Group) {
    let parent = floor::Node::new();
    on_threads(group, FLOOR, || floor::spare_reuse(black_box(&parent)));
}

fn floor_build_1000_live(group: &mut Group) {
    group.bench_function(FLOOR, |b| {
        b.iter_batched(
            || (floor::Node::new(), Vec::with_capacity(CHILDREN)),
            |(parent, mut children)| {
                for _ in 0..CHILDREN {
                    floor::build(black_box(&parent), &mut children);
                }
                (parent, children)
            },
            BatchSize::PerIteration,
        )
    });
}

fn floor_drop_1000_cancelled(group: &mut Group) {
    group.bench_function(FLOOR, |b| {
        b.iter_batched(
            || {
                let parent = floor::Node::new();
                let mut children = Vec::with_capacity(CHILDREN);
                for _ in 0..CHILDREN {
                    floor::build(&parent, &mut children);
                }
                children.iter().for_each(|child| child.cancel());
                (parent, children)
            },
            |(parent, children)| {
                for child in children {
                    floor::drop_cancelled(black_box(&parent), child);
                }
                parent
            },
            BatchSize::PerIteration,
        )
    });
}

fn floor_tree_1000_whole(group: &mut Group) {
    group.bench_function(FLOOR, |b| b.iter(|| floor::tree(black_box(CHILDREN))));
}

fn floor_contended(group: &mut Group) {
    let parent = floor::Node::new();
    on_threads(group, FLOOR, || floor::cancel_then_drop(black_box(&parent)));
}

/// A row of the table: a group, the operations in one of its iterations
/// (its times are shown per operation), the target of ours/tokio-util, and
/// the group whose `floor` benchmark is this workload's floor.
/// A scaling series: one group per size, each with both crates, the floor
/// (which does not depend on the size) in the first; a row each.
fn scaling(
    criterion: &mut criterion::Criterion,
    rows: &mut Vec<Row>,
    series: &'static [(&'static str, usize)],
    ours: fn(&mut Group, usize),
    theirs: fn(&mut Group, usize),
) {
    for (i, &(name, n)) in series.iter().enumerate() {
        let mut group = criterion.benchmark_group(name);
        ours(&mut group, n);
        theirs(&mut group, n);
        if i == 0 {
            floor_op(&mut group, floor::spare_reuse);
        }
        group.finish();
        rows.push(Row {
            group: name,
            per: PER_OP,
            target: None,
            floor: Some(series[0].0),
        });
    }
}

struct Row {
    group: &'static str,
    per: (usize, &'static str),
    target: Option<f64>,
    floor: Option<&'static str>,
}

/// One operation per iteration.
const PER_OP: (usize, &str) = (1, "op");
/// `CHILDREN` children per iteration.
const PER_CHILD: (usize, &str) = (CHILDREN, "child");
/// One tree per iteration.
const PER_TREE: (usize, &str) = (1, "tree");

/// Runs `$workload` for both crates in a group named after it, then `$floor`
/// in the same group; yields its row of the table.
macro_rules! compare {
    ($criterion:expr, $workload:ident, $target:expr, $per:expr, $floor:expr, $floor_group:expr) => {{
        let mut group = $criterion.benchmark_group(stringify!($workload));
        $workload::<Ours>(&mut group);
        $workload::<TokioUtil>(&mut group);
        let floor: fn(&mut Group) = $floor;
        floor(&mut group);
        group.finish();
        Row {
            group: stringify!($workload),
            per: $per,
            target: $target,
            floor: $floor_group,
        }
    }};
}

fn main() {
    let started = SystemTime::now();
    let mut criterion = support::criterion();
    let mut rows = vec![
        compare!(
            criterion,
            check,
            Some(0.1),
            (1, "1024 checks"),
            floor_check,
            Some("check")
        ),
        compare!(
            criterion,
            child_create_cancel,
            Some(0.3),
            PER_OP,
            |group| floor_op(group, floor::spare_reuse),
            Some("child_create_cancel")
        ),
        compare!(
            criterion,
            fanout_1000_waiters,
            Some(0.5),
            PER_TREE,
            fanout_1000_waiters::<Floor>,
            Some("fanout_1000_waiters")
        ),
        compare!(
            criterion,
            fanout_cancel_call,
            None,
            PER_TREE,
            fanout_cancel_call::<Floor>,
            Some("fanout_cancel_call")
        ),
        compare!(
            criterion,
            tree_1000_no_waiters,
            Some(0.3),
            PER_TREE,
            floor_tree_1000_no_waiters,
            Some("tree_1000_no_waiters")
        ),
        compare!(
            criterion,
            contended_2_threads,
            Some(0.3),
            PER_OP,
            floor_contended_create_drop,
            Some("contended_2_threads")
        ),
        compare!(
            criterion,
            child_cancel_then_drop,
            Some(0.3),
            PER_OP,
            |group| floor_op(group, floor::cancel_then_drop),
            Some("child_cancel_then_drop")
        ),
        compare!(
            criterion,
            child_token_given_away,
            Some(0.3),
            PER_OP,
            |group| floor_op(group, floor::token_given_away),
            Some("child_token_given_away")
        ),
        compare!(
            criterion,
            build_1000_live,
            Some(0.7),
            PER_CHILD,
            floor_build_1000_live,
            Some("build_1000_live")
        ),
        compare!(
            criterion,
            drop_1000_cancelled,
            Some(0.5),
            PER_CHILD,
            floor_drop_1000_cancelled,
            Some("drop_1000_cancelled")
        ),
        compare!(
            criterion,
            tree_1000_whole,
            Some(0.4),
            PER_TREE,
            floor_tree_1000_whole,
            Some("tree_1000_whole")
        ),
        compare!(
            criterion,
            contended_cancel_then_drop,
            Some(0.3),
            PER_OP,
            floor_contended,
            Some("contended_cancel_then_drop")
        ),
    ];
    // The scaling workloads: one group per size, the floor (which does not
    // depend on the size) in the first.
    scaling(
        &mut criterion,
        &mut rows,
        &ALIVE,
        with_alive::<Ours>,
        with_alive::<TokioUtil>,
    );
    scaling(
        &mut criterion,
        &mut rows,
        &DEPTHS,
        at_depth::<Ours>,
        at_depth::<TokioUtil>,
    );
    tree_1000_cause(&mut criterion, started);
    criterion.final_summary();
    print_ratios(&rows, started);
    for series in [&ALIVE[..], &DEPTHS[..]] {
        let (first, last) = (series[0].0, series[series.len() - 1].0);
        let growth = |name| {
            let (ratio, _) = ratio_cells(
                mean_ns(last, name, started),
                mean_ns(first, name, started),
                None,
            );
            ratio
        };
        println!(
            "{last} against {first} (flat is 1): cancel-token {}, tokio-util {}",
            growth(Ours::NAME),
            growth(TokioUtil::NAME)
        );
    }
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
/// a benchmark did not run), against its target where it has one, and the
/// workload's floor with ours/floor where it has one. Times are per `per`.
fn print_ratios(rows: &[Row], started: SystemTime) {
    println!(
        "\nworkload | per | cancel-token ns | tokio-util ns | ratio | target | floor ns | ours/floor"
    );
    println!("---|---|---|---|---|---|---|---");
    for row in rows {
        let (n, unit) = row.per;
        let per = |ns: Option<f64>| ns.map(|ns| ns / n as f64);
        let ours = per(mean_ns(row.group, Ours::NAME, started));
        let theirs = per(mean_ns(row.group, TokioUtil::NAME, started));
        let floor = row
            .floor
            .and_then(|group| per(mean_ns(group, FLOOR, started)));
        let (ratio, target) = ratio_cells(ours, theirs, row.target);
        let (over_floor, _) = ratio_cells(ours, floor, None);
        let (floor, over_floor) = match row.floor {
            Some(_) => (show(floor), over_floor),
            None => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "{} | {unit} | {} | {} | {ratio} | {target} | {floor} | {over_floor}",
            row.group,
            show(ours),
            show(theirs)
        );
    }
}
