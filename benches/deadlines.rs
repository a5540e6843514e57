//! Deadlines: `TokioDriver` against tokio's own timeout idioms (also around
//! work that awaits, beside that workload's floor), and how the cost of one
//! deadline scales with the number already armed; then a table.
//!
//! Run with `cargo bench --bench deadlines` in `benches/` (its own workspace).

mod support;

use support::{mean_ns, ratio_cells, show};

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::{pending, Future};
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::Context;
use std::time::{Duration, Instant, SystemTime};

use cancel_token::{CancelSource, ManualDriver, TokioDriver};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// The timeout every benchmark arms; none fires during a run.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Timeouts created before the runtime runs its other tasks: many requests
/// in flight (each new node is allocated), then one at a time (a parent's
/// spare node is reused). The group names the pattern.
const BATCHES: [(&str, usize); 2] = [("timeout_create_cancel", 256), ("timeout_one_at_a_time", 1)];
/// Deadlines already armed in the scaling benchmarks.
const PENDING: [(&str, usize); 3] = [("1k", 1_000), ("100k", 100_000), ("1M", 1_000_000)];

/// Counts the bytes live on the heap while `COUNTING` is set.
struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

fn count(bytes: usize, sign: isize) {
    if COUNTING.load(Relaxed) {
        LIVE_BYTES.fetch_add(sign * bytes as isize, Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; only sizes are counted.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(layout.size(), -1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(layout.size(), -1);
        count(new_size, 1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// The runtimes the timeouts run on: the suffix of their groups, and their
/// name in the table.
const FLAVORS: [(&str, &str); 2] = [("", "current-thread"), ("_multi_thread", "multi-thread")];

/// A current-thread runtime, where everything a benchmark causes (spawned
/// tasks included) runs on the measuring thread and is timed; or, for the
/// suffix `_multi_thread`, tokio's default multi-thread one (a worker per
/// core), where spawned tasks may also run on another worker.
fn runtime(flavor: &str) -> Runtime {
    let mut builder = if flavor.is_empty() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_time().build().expect("a tokio runtime")
}

/// Yields to the runtime until `done() ` holds.
async fn settle(done: impl Fn() -> bool) {
    while !done() {
        tokio::task::yield_now().await;
    }
}

/// Times `iters` timeouts in batches of `batch`: `arm` creates one (and keeps
/// it in the batch if it needs to), the runtime then runs whatever that
/// started, `disarm` cancels or drops the batch, and the runtime runs again
/// until `finished`. Returns the total time. The loop runs in a task, as a
/// request handler does, so what it spawns goes to its worker's own queue.
fn timed_batches<B: Default + Send + 'static>(
    runtime: &Runtime,
    batch_size: usize,
    iters: u64,
    mut arm: impl FnMut(&mut B) + Send + 'static,
    mut disarm: impl FnMut(&mut B) + Send + 'static,
    started: impl Fn(u64) -> bool + Send + Sync + 'static,
    finished: impl Fn(u64) -> bool + Send + Sync + 'static,
) -> Duration {
    let task = runtime.spawn(async move {
        let mut batch = B::default();
        let begin = Instant::now();
        let mut done = 0u64;
        while done < iters {
            let n = (iters - done).min(batch_size as u64);
            for _ in 0..n {
                arm(&mut batch);
            }
            done += n;
            settle(|| started(done)).await;
            disarm(&mut batch);
            settle(|| finished(done)).await;
        }
        begin.elapsed()
    });
    runtime.block_on(task).expect("the timed task panicked")
}

/// `parent.child_with_timeout_on(&driver, 10 s)`, then dropped (cancelled, its
/// timer released) before it fires.
fn ours(group: &mut Group, runtime: &Runtime, batch: usize) {
    let driver = runtime.block_on(async { TokioDriver::new() });
    let root = CancelSource::new();
    let parent = root.token();
    group.bench_function("cancel-token", |b| {
        b.iter_custom(|iters| {
            let (parent, driver) = (parent.clone(), driver.clone());
            timed_batches::<Vec<CancelSource>>(
                runtime,
                batch,
                iters,
                move |batch| batch.push(parent.child_with_timeout_on(&driver, black_box(TIMEOUT))),
                |batch| batch.clear(),
                |_| true,
                |_| true,
            )
        })
    });
    assert_eq!(driver.pending(), 0);
}

/// The same on the tree's clock: `root.child_with_timeout(10 s)` below a
/// root bound to the runtime's driver (`TokioDriver::current()`), naming no
/// driver, then dropped.
fn ours_on_tree_clock(group: &mut Group, runtime: &Runtime, batch: usize) {
    let driver = runtime.block_on(async { TokioDriver::current() });
    let root = CancelSource::with_clock(driver.clone());
    let parent = root.token();
    group.bench_function("cancel-token-tree-clock", |b| {
        b.iter_custom(|iters| {
            let parent = parent.clone();
            timed_batches::<Vec<CancelSource>>(
                runtime,
                batch,
                iters,
                move |batch| batch.push(parent.child_with_timeout(black_box(TIMEOUT))),
                |batch| batch.clear(),
                |_| true,
                |_| true,
            )
        })
    });
    assert_eq!(driver.pending(), 0);
}

/// The tokio-util idiom: a child token and a spawned task that cancels it
/// after 10 s unless it is cancelled first.
fn idiom(group: &mut Group, runtime: &Runtime, batch: usize) {
    let parent = CancellationToken::new();
    group.bench_function("tokio-util-idiom", |b| {
        b.iter_custom(|iters| {
            let started = Arc::new(AtomicUsize::new(0));
            let finished = Arc::new(AtomicUsize::new(0));
            let (parent, counters) = (parent.clone(), (started.clone(), finished.clone()));
            timed_batches::<Vec<CancellationToken>>(
                runtime,
                batch,
                iters,
                move |batch| {
                    let child = parent.child_token();
                    let theirs = child.clone();
                    let (started, finished) = (counters.0.clone(), counters.1.clone());
                    tokio::spawn(async move {
                        started.fetch_add(1, Relaxed);
                        tokio::select! {
                            _ = tokio::time::sleep(TIMEOUT) => theirs.cancel(),
                            _ = theirs.cancelled() => {}
                        }
                        finished.fetch_add(1, Relaxed);
                    });
                    batch.push(child);
                },
                |batch| batch.drain(..).for_each(|child| child.cancel()),
                move |n| started.load(Relaxed) as u64 >= n,
                move |n| finished.load(Relaxed) as u64 >= n,
            )
        })
    });
}

/// A bare `tokio::time::timeout(10 s, future)`, polled once (which registers
/// its timer), then dropped.
fn timeout(group: &mut Group, runtime: &Runtime) {
    group.bench_function("tokio-timeout", |b| {
        b.iter_custom(|iters| {
            timed_batches::<()>(
                runtime,
                BATCHES[0].1,
                iters,
                |_| {
                    let mut cx = Context::from_waker(std::task::Waker::noop());
                    let fut = pin!(tokio::time::timeout(black_box(TIMEOUT), pending::<()>()));
                    assert!(fut.poll(&mut cx).is_pending());
                },
                |_| {},
                |_| true,
                |_| true,
            )
        })
    });
}

/// The group of the timeouts that live across an `.await`; the flavor's
/// suffix follows.
const ACROSS_AWAIT: &str = "timeout_across_await";

/// What each request awaits under its timeout: a future that is pending once
/// (it wakes its task and yields to the runtime) and ready on its next poll.
fn work() -> impl Future<Output = ()> {
    tokio::task::yield_now()
}

/// Runs `requests` (a loop that times itself) in a task, as a request handler
/// runs, and returns its time.
fn in_task(
    runtime: &Runtime,
    requests: impl Future<Output = Duration> + Send + 'static,
) -> Duration {
    runtime
        .block_on(runtime.spawn(requests))
        .expect("the timed task panicked")
}

/// A request at a time, each a `child_with_timeout_on(&driver, 10 s)` whose token
/// runs the request's work until it is cancelled (as `tokio::time::timeout`
/// runs it until it times out), then the child dropped.
fn ours_across_await(group: &mut Group, runtime: &Runtime) {
    let driver = runtime.block_on(async { TokioDriver::new() });
    let root = CancelSource::new();
    let parent = root.token();
    group.bench_function("cancel-token", |b| {
        b.iter_custom(|iters| {
            let (parent, driver) = (parent.clone(), driver.clone());
            in_task(runtime, async move {
                let begin = Instant::now();
                for _ in 0..iters {
                    let request = parent.child_with_timeout_on(&driver, black_box(TIMEOUT));
                    let done = request.token().run_until_cancelled(work()).await;
                    black_box(done).expect("the work finishes first");
                    drop(request);
                }
                begin.elapsed()
            })
        })
    });
    assert_eq!(driver.pending(), 0);
}

/// The tokio-util idiom around the same work: a child token, a spawned task
/// that cancels it after 10 s unless it is cancelled first, the work run
/// until the child is cancelled, then the child cancelled (which ends the
/// task). The time runs until every spawned task finished.
fn idiom_across_await(group: &mut Group, runtime: &Runtime) {
    let parent = CancellationToken::new();
    group.bench_function("tokio-util-idiom", |b| {
        b.iter_custom(|iters| {
            let parent = parent.clone();
            in_task(runtime, async move {
                let finished = Arc::new(AtomicUsize::new(0));
                let begin = Instant::now();
                for _ in 0..iters {
                    let request = parent.child_token();
                    let theirs = request.clone();
                    let finished = finished.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = tokio::time::sleep(TIMEOUT) => theirs.cancel(),
                            _ = theirs.cancelled() => {}
                        }
                        finished.fetch_add(1, Relaxed);
                    });
                    let done = request.run_until_cancelled(work()).await;
                    black_box(done).expect("the work finishes first");
                    request.cancel();
                }
                settle(|| finished.load(Relaxed) as u64 >= iters).await;
                begin.elapsed()
            })
        })
    });
}

/// A bare `tokio::time::timeout(10 s, the same work)`.
fn timeout_across_await(group: &mut Group, runtime: &Runtime) {
    group.bench_function("tokio-timeout", |b| {
        b.iter_custom(|iters| {
            in_task(runtime, async move {
                let begin = Instant::now();
                for _ in 0..iters {
                    let done = tokio::time::timeout(black_box(TIMEOUT), work()).await;
                    black_box(done).expect("the work finishes first");
                }
                begin.elapsed()
            })
        })
    });
}

/// The floor of a timeout across an `.await`: what `ours_across_await`
/// cannot avoid, timed alone in the same loop. Made of:
/// - the await itself (`work()`, with its trip through the runtime), which
///   every way above pays;
/// - the clock read a timeout's deadline is computed from
///   (`tokio::time::Instant::now`);
/// - the child linked into its parent and unlinked, each the parent's lock
///   taken and released: four atomic read-modify-writes (RMWs) on the
///   parent's word, the release carrying the child's reference on the
///   parent (one at a time, the parent's spare memory is reused: no
///   allocation);
/// - the deadline put into the driver's timer wheel and taken out, each
///   under the wheel's lock: one RMW to take it and a store to release it,
///   twice;
/// - the work's waker registered with the child and unregistered once the
///   work is done (the child may be cancelled while the work is pending, so
///   a canceller must find it): the child's lock taken and released twice,
///   four RMWs on its word.
///
/// Ten RMWs in all, no allocation. What this leaves out is avoidable by
/// design: e.g. the reference a token handed to `run_until_cancelled`
/// takes and gives back (it could borrow the source's), or a cancel RMW
/// (a child dropped unobserved needs none).
fn floor_across_await(group: &mut Group, runtime: &Runtime) {
    group.bench_function("floor", |b| {
        b.iter_custom(|iters| {
            in_task(runtime, async move {
                let (parent, child) = (floor::Word::default(), floor::Word::default());
                let wheel = floor::WheelLock::default();
                let begin = Instant::now();
                for _ in 0..iters {
                    black_box(tokio::time::Instant::now());
                    black_box(&parent).lock_unlock();
                    black_box(&wheel).lock_unlock();
                    black_box(&child).lock_unlock();
                    work().await;
                    black_box(&child).lock_unlock();
                    black_box(&wheel).lock_unlock();
                    black_box(&parent).lock_unlock();
                }
                begin.elapsed()
            })
        })
    });
}

/// The locks of `floor_across_await`, on plain atomics.
mod floor {
    use std::hint::spin_loop;
    use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::*};

    /// A node's state word, whose lock bit sits beside bits others change
    /// (references, flags), so its unlock is a read-modify-write too.
    #[derive(Default)]
    pub struct Word(AtomicUsize);

    const LOCKED: usize = 1 << 3;

    impl Word {
        /// Takes and releases the lock: two RMWs.
        pub fn lock_unlock(&self) {
            // Acquire: pairs with the Release below.
            while self.0.fetch_or(LOCKED, Acquire) & LOCKED != 0 {
                while self.0.load(Relaxed) & LOCKED != 0 {
                    spin_loop();
                }
            }
            // Release: what was done under the lock happens-before the next holder.
            self.0.fetch_sub(LOCKED, Release);
        }
    }

    /// A lock alone in its byte, as the timer wheel's: released by a store.
    #[derive(Default)]
    pub struct WheelLock(AtomicU8);

    impl WheelLock {
        /// Takes and releases the lock: one RMW and a store.
        pub fn lock_unlock(&self) {
            // Acquire: pairs with the Release below.
            while self
                .0
                .compare_exchange_weak(0, 1, Acquire, Relaxed)
                .is_err()
            {
                spin_loop();
            }
            // Release: as above.
            self.0.store(0, Release);
        }
    }
}

/// The clock read every timeout starts with (`tokio::time::Instant::now`),
/// which all three ways above pay once per timeout.
fn clock_read(group: &mut Group, runtime: &Runtime) {
    let _context = runtime.enter();
    group.bench_function("clock-read", |b| b.iter(tokio::time::Instant::now));
}

/// One arm and disarm (`child_with_timeout_on` then drop) on a `ManualDriver`
/// with `n` deadlines already armed, spread uniformly over 1 s to 1 h.
fn arm_disarm_with_pending(group: &mut Group, name: &str, n: usize) {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let parent = root.token();
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let armed: Vec<CancelSource> = (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let us = 1_000_000 + seed % 3_599_000_000;
            parent.child_with_timeout_on(&driver, Duration::from_micros(us))
        })
        .collect();
    assert_eq!(driver.pending(), n);
    group.bench_function(name, |b| {
        b.iter(|| {
            drop(black_box(
                parent.child_with_timeout_on(&driver, black_box(TIMEOUT)),
            ))
        })
    });
    drop(armed);
    assert_eq!(driver.pending(), 0);
}

/// Depths of the chains in the depth benchmarks.
const DEPTHS: [(&str, usize); 2] = [("depth_1", 1), ("depth_100k", 100_000)];

/// A chain `depth` deep below a one-hour deadline on `driver`: the deadline's
/// source first, then `depth - 1` children without one of their own.
fn chain(driver: &ManualDriver, root: &CancelSource, depth: usize) -> Vec<CancelSource> {
    let mut chain = vec![root
        .token()
        .child_with_timeout_on(driver, Duration::from_secs(3600))];
    for _ in 1..depth {
        let next = chain.last().unwrap().token().child();
        chain.push(next);
    }
    chain
}

/// A chain `depth` deep below a one-hour deadline on the tree's clock, below
/// a root bound to `driver` (kept first in the chain).
fn clock_chain(driver: &ManualDriver, depth: usize) -> Vec<CancelSource> {
    let root = CancelSource::with_clock(driver.clone());
    let mut chain = vec![root.child_with_timeout(Duration::from_secs(3600)), root];
    chain.swap(0, 1);
    for _ in 1..depth {
        let next = chain.last().unwrap().child();
        chain.push(next);
    }
    chain
}

/// `deadline()` at the leaf of a chain, and a timeout made and dropped there,
/// at depth 1 and 100k; and on the tree's clock, `remaining()` and
/// `deadline()` at the leaf, and a timeout naming no driver made and dropped
/// there.
fn at_depth(criterion: &mut Criterion) {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let mut group = criterion.benchmark_group("deadline_query");
    for (name, depth) in DEPTHS {
        let chain = chain(&driver, &root, depth);
        let leaf = chain.last().unwrap().token();
        group.bench_function(name, |b| b.iter(|| black_box(&leaf).deadline()));
        drop((leaf, chain));
    }
    group.finish();
    let mut group = criterion.benchmark_group("timeout_at_depth");
    for (name, depth) in DEPTHS {
        let chain = chain(&driver, &root, depth);
        let leaf = chain.last().unwrap().token();
        group.bench_function(name, |b| {
            b.iter(|| {
                drop(black_box(
                    leaf.child_with_timeout_on(&driver, black_box(TIMEOUT)),
                ))
            })
        });
        drop((leaf, chain));
    }
    group.finish();
    for (group_name, what) in [
        ("remaining_query", 0),
        ("deadline_query_tree_clock", 1),
        ("timeout_at_depth_tree_clock", 2),
    ] {
        let mut group = criterion.benchmark_group(group_name);
        for (name, depth) in DEPTHS {
            let chain = clock_chain(&driver, depth);
            let leaf = chain.last().unwrap().token();
            group.bench_function(name, |b| match what {
                0 => b.iter(|| black_box(&leaf).remaining()),
                1 => b.iter(|| black_box(&leaf).deadline().map(|d| d.ticks())),
                _ => b.iter(|| drop(black_box(leaf.child_with_timeout(black_box(TIMEOUT))))),
            });
            drop((leaf, chain));
        }
        group.finish();
    }
}

/// Heap bytes per armed deadline, counted by the global allocator while
/// arming `n` on a `ManualDriver` (the handles' vector is reserved first).
fn bytes_per_deadline(n: usize) -> f64 {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let parent = root.token();
    let mut armed = Vec::with_capacity(n);
    LIVE_BYTES.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
    for _ in 0..n {
        armed.push(parent.child_with_timeout_on(&driver, TIMEOUT));
    }
    COUNTING.store(false, Relaxed);
    let bytes = LIVE_BYTES.load(Relaxed);
    drop(armed);
    bytes as f64 / n as f64
}

fn main() {
    let started = SystemTime::now();
    let mut criterion = support::criterion();

    for (flavor, _) in FLAVORS {
        let runtime = runtime(flavor);
        for (i, (name, batch)) in BATCHES.into_iter().enumerate() {
            let mut group = criterion.benchmark_group(format!("{name}{flavor}"));
            ours(&mut group, &runtime, batch);
            ours_on_tree_clock(&mut group, &runtime, batch);
            idiom(&mut group, &runtime, batch);
            if i == 0 && flavor.is_empty() {
                timeout(&mut group, &runtime);
                clock_read(&mut group, &runtime);
            }
            group.finish();
        }
        let mut group = criterion.benchmark_group(format!("{ACROSS_AWAIT}{flavor}"));
        ours_across_await(&mut group, &runtime);
        idiom_across_await(&mut group, &runtime);
        timeout_across_await(&mut group, &runtime);
        floor_across_await(&mut group, &runtime);
        group.finish();
    }

    let mut group = criterion.benchmark_group("arm_disarm_pending");
    for (name, n) in PENDING {
        arm_disarm_with_pending(&mut group, name, n);
    }
    group.finish();
    at_depth(&mut criterion);
    criterion.final_summary();

    let bytes = bytes_per_deadline(100_000);
    print_table(started, bytes);
}

/// The measured means, their ratios and targets, from this run's estimates.
fn print_table(started: SystemTime, bytes: f64) {
    let mean = |group: &str, function: &str| mean_ns(group, function, started);
    let many = BATCHES[0].0;
    let ours = mean(many, "cancel-token");
    let timeout = mean(many, "tokio-timeout");
    let clock = mean(many, "clock-read");
    let pending: Vec<_> = PENDING
        .iter()
        .map(|&(name, _)| mean("arm_disarm_pending", name))
        .collect();

    println!("\nworkload | ns | against | ns | ratio | target");
    println!("---|---|---|---|---|---");
    for (flavor, runtime) in FLAVORS {
        for (name, batch) in BATCHES {
            let group = format!("{name}{flavor}");
            let pattern = if batch == 1 {
                "one at a time"
            } else {
                "256 in flight"
            };
            row(
                &format!("timeout create+cancel, {pattern}, {runtime} runtime"),
                mean(&group, "cancel-token"),
                "tokio-util idiom",
                mean(&group, "tokio-util-idiom"),
                Some(0.1),
            );
            row(
                &format!("the same on the tree's clock, {pattern}, {runtime} runtime"),
                mean(&group, "cancel-token-tree-clock"),
                "naming the driver",
                mean(&group, "cancel-token"),
                None,
            );
        }
    }
    row(
        "timeout create+cancel, 256 in flight, current-thread runtime",
        ours,
        "tokio::time::timeout",
        timeout,
        None,
    );
    for (flavor, runtime) in FLAVORS {
        let group = format!("{ACROSS_AWAIT}{flavor}");
        let ours = mean(&group, "cancel-token");
        let what = format!("timeout across an await, one at a time, {runtime} runtime");
        for (against, function, target) in [
            ("tokio::time::timeout", "tokio-timeout", Some(1.0)),
            ("tokio-util idiom", "tokio-util-idiom", None),
            ("floor", "floor", None),
        ] {
            row(&what, ours, against, mean(&group, function), target);
        }
    }
    row(
        "arm+disarm, 100k pending (ManualDriver)",
        pending[1],
        "1k pending",
        pending[0],
        None,
    );
    row(
        "arm+disarm, 1M pending (ManualDriver)",
        pending[2],
        "1k pending",
        pending[0],
        Some(1.5),
    );
    for (group, what) in [
        ("deadline_query", "deadline() at the leaf"),
        ("timeout_at_depth", "timeout create+drop at the leaf"),
        (
            "remaining_query",
            "remaining() on the tree's clock at the leaf",
        ),
        (
            "deadline_query_tree_clock",
            "deadline() on the tree's clock at the leaf",
        ),
        (
            "timeout_at_depth_tree_clock",
            "timeout (tree's clock) create+drop at the leaf",
        ),
    ] {
        row(
            &format!("{what}, chain 100k deep (ManualDriver)"),
            mean(group, DEPTHS[1].0),
            "1 deep",
            mean(group, DEPTHS[0].0),
            None,
        );
    }
    println!(
        "\nof each timeout above, {} ns is the clock read (tokio::time::Instant::now)",
        show(clock)
    );
    println!(
        "heap bytes per pending deadline (counting allocator, 100k armed): {bytes:.1}; \
         size_of node with deadline entry: {} bytes (a node without: {}); \
         plus the caller's 8-byte CancelSource",
        cancel_token::__private::TIMED_NODE_SIZE,
        cancel_token::__private::NODE_SIZE,
    );
}

fn row(what: &str, ours: Option<f64>, against: &str, theirs: Option<f64>, target: Option<f64>) {
    let (ratio, target) = ratio_cells(ours, theirs, target);
    println!(
        "{what} | {} | {against} | {} | {ratio} | {target}",
        show(ours),
        show(theirs)
    );
}
