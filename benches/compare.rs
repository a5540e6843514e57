//! `cancel-token` against `tokio_util::sync::CancellationToken`, workload by
//! workload, in the same run; then a table of the ratios against their targets.
//!
//! Each workload is a criterion group holding one benchmark per crate, named
//! after the crate, and for most a `floor`: the allocations and atomic
//! read-modify-writes the workload cannot avoid, timed alone (see `floor`).
//! The table shows ours/tokio-util and ours/floor. Run with
//! `cargo bench --bench compare`.

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

/// What the workloads of user code need beyond `Subject`, for both crates.
trait Tree: Subject {
    /// A handle observing a child, which can be given away (to a task, a
    /// struct, a `Vec`) and outlive the child.
    type Token: Send + 'static;

    /// A long-lived parent that is a child of `parent`: a link of a chain.
    fn child_parent(parent: &Self::Parent) -> Self::Parent;
    /// A token of the child, to give away.
    fn token(child: &Self::Child) -> Self::Token;
    /// Cancels the child explicitly, keeping it.
    fn cancel_explicitly(child: &Self::Child);
}

impl Tree for Ours {
    type Token = CancelToken;

    fn child_parent(parent: &OursParent) -> OursParent {
        let source = parent.token.child();
        let token = source.token();
        OursParent { source, token }
    }

    fn token(child: &CancelSource) -> CancelToken {
        child.token()
    }

    fn cancel_explicitly(child: &CancelSource) {
        child.cancel();
    }
}

impl Tree for TokioUtil {
    type Token = CancellationToken;

    fn child_parent(parent: &CancellationToken) -> CancellationToken {
        parent.child_token()
    }

    fn token(child: &CancellationToken) -> CancellationToken {
        child.clone()
    }

    fn cancel_explicitly(child: &CancellationToken) {
        child.cancel();
    }
}

/// Creating a child of a long-lived parent, cancelling it explicitly, then
/// dropping it (a cancelled child is not kept as the parent's spare).
fn child_cancel_then_drop<S: Tree>(group: &mut Group) {
    let parent = S::parent();
    group.bench_function(S::NAME, |b| {
        b.iter(|| {
            let child = black_box(S::child(&parent));
            S::cancel_explicitly(&child);
            drop(child);
        })
    });
}

/// Creating a child and giving its token away (here to a variable the
/// compiler cannot see through, as a spawned task or a struct holds it),
/// dropping the source (tokio-util: cancelling the child, as its users do for
/// the same effect), then the token.
fn child_token_given_away<S: Tree>(group: &mut Group) {
    let parent = S::parent();
    group.bench_function(S::NAME, |b| {
        b.iter(|| {
            let child = S::child(&parent);
            let token = black_box(S::token(&child));
            S::cancel_child(child);
            drop(token);
        })
    });
}

/// Building `CHILDREN` children of one parent, all kept alive. The parent and
/// the `Vec` (with room for them all) are made, and the tree dropped, outside
/// the timing.
fn build_1000_live<S: Tree>(group: &mut Group) {
    group.bench_function(S::NAME, |b| {
        b.iter_batched(
            || (S::parent(), Vec::with_capacity(CHILDREN)),
            |(parent, mut children)| {
                for _ in 0..CHILDREN {
                    children.push(S::child(&parent));
                }
                (parent, children)
            },
            BatchSize::PerIteration,
        )
    });
}

/// Dropping `CHILDREN` children of a live parent, each cancelled explicitly
/// before (building and cancelling them are not timed, nor is the parent's drop).
fn drop_1000_cancelled<S: Tree>(group: &mut Group) {
    group.bench_function(S::NAME, |b| {
        b.iter_batched(
            || {
                let parent = S::parent();
                let children: Vec<_> = (0..CHILDREN).map(|_| S::child(&parent)).collect();
                children.iter().for_each(S::cancel_explicitly);
                (parent, children)
            },
            |(parent, children)| {
                drop(children);
                parent
            },
            BatchSize::PerIteration,
        )
    });
}

/// A whole tree's life, timed as a whole: a root, `CHILDREN` children
/// collected into a `Vec`, the root cancelled, everything dropped.
fn tree_1000_whole<S: Tree>(group: &mut Group) {
    group.bench_function(S::NAME, |b| {
        b.iter(|| {
            let root = S::parent();
            let children: Vec<_> = (0..CHILDREN).map(|_| S::child(&root)).collect();
            S::cancel(black_box(&root));
            drop(children);
            drop(root);
        })
    });
}

/// Two threads each creating, cancelling explicitly and dropping children of
/// one shared parent; the time of one iteration on every thread at once.
fn contended_cancel_then_drop<S: Tree>(group: &mut Group) {
    let parent = S::parent();
    on_threads(group, S::NAME, || {
        let child = black_box(S::child(&parent));
        S::cancel_explicitly(&child);
        drop(child);
    });
}

/// Times `op` run by `THREADS` threads at once, each `iters` times; the time
/// is the slowest thread's.
fn on_threads(group: &mut Group, name: &str, op: impl Fn() + Sync) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Barrier::new(THREADS);
            thread::scope(|scope| {
                let workers: Vec<_> = (0..THREADS)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            let begin = Instant::now();
                            for _ in 0..iters {
                                op();
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

/// Children kept alive at once in the scaling workload; each is a group.
const ALIVE: [(&str, usize); 3] = [
    ("alive_1k", 1_000),
    ("alive_100k", 100_000),
    ("alive_1M", 1_000_000),
];

/// One more child created and dropped (tokio-util: cancelled) while `n`
/// children of the same parent are alive. Building and dropping those is not
/// timed.
fn with_alive<S: Tree>(group: &mut Group, n: usize) {
    let parent = S::parent();
    let alive: Vec<_> = (0..n).map(|_| S::child(&parent)).collect();
    group.bench_function(S::NAME, |b| {
        b.iter(|| S::cancel_child(black_box(S::child(&parent))))
    });
    drop(alive);
}

/// Depths of the chains in the depth workload; each is a group.
const DEPTHS: [(&str, usize); 3] = [("depth_1", 1), ("depth_1k", 1_000), ("depth_100k", 100_000)];

/// A child created and dropped (tokio-util: cancelled) at the leaf of a
/// chain `depth` parents deep. Building the chain and dropping it (leaf
/// first) are not timed.
fn at_depth<S: Tree>(group: &mut Group, depth: usize) {
    let mut chain = vec![S::parent()];
    for _ in 1..depth {
        let next = S::child_parent(chain.last().expect("not empty"));
        chain.push(next);
    }
    let leaf = chain.last().expect("not empty");
    group.bench_function(S::NAME, |b| {
        b.iter(|| S::cancel_child(black_box(S::child(leaf))))
    });
    while let Some(link) = chain.pop() {
        drop(link);
    }
}

/// The floors of the workloads above: the heap allocations and the atomic
/// read-modify-writes (RMWs) a path cannot avoid, on plain atomics and boxes,
/// timed alone. Not a usable token: nothing is linked in a list, no waiter
/// is woken; only the operations any tree of this design must do. Atomic
/// loads cost about what plain ones do when uncontended: the floors make
/// them where the design needs one (a last reference seen by a load) but do
/// not count them.
///
/// Why these RMWs cannot be avoided, with a node per token in a tree whose
/// parent cancels its linked children:
/// - linking a child into its parent's list and unlinking it each take the
///   parent's lock and release it: two RMWs each, on the parent's word. The
///   child's reference on the parent (which keeps the parent's memory alive
///   while a child may still reach it) is added in the same RMW as the
///   unlock, and given back in the unlink's unlock when the child is freed
///   in the same step;
/// - cancelling a node is one RMW of its word, which decides the one winner
///   among concurrent cancellers (`cancel_if_idle_lock_free` in `src/cancel.rs`);
/// - a second handle on a node (a token given away) is a reference count:
///   one RMW to take it, one to give it back while another remains. The last
///   reference is seen by a load, as `CancelSource::drop` sees it
///   (`Node::is_unobserved`) before `free_unobserved` in `src/release.rs`,
///   and costs no RMW;
/// - a child freed after its unlink (a token outlived its source; or the
///   canceller took it out of the list) gives its reference on the parent
///   back with one RMW of its own;
/// - a node is a heap allocation of 64 bytes (a node's size on 64-bit
///   targets), freed when the last handle goes; a child made after an
///   unobserved child was dropped reuses that memory (the parent's spare).
mod floor {
    use std::hint::{black_box, spin_loop};
    use std::sync::atomic::{AtomicUsize, Ordering::*};

    /// The lock bit and one reference, placed as in a node's state word.
    const LOCKED: usize = 1 << 3;
    const CANCELLED: usize = 1;
    const REF_ONE: usize = 1 << 8;

    /// A node: a state word, padded to a node's 64 bytes.
    #[repr(C)]
    pub struct Node {
        state: AtomicUsize,
        _rest: [usize; 7],
    }

    impl Node {
        /// A node with one reference, not on the heap (a long-lived parent).
        pub fn new() -> Node {
            Node {
                state: AtomicUsize::new(REF_ONE),
                _rest: [0; 7],
            }
        }

        /// One allocation of 64 bytes; `black_box` keeps the compiler from
        /// eliding the allocation and the free that goes with it.
        pub fn boxed() -> Box<Node> {
            black_box(Box::new(Node::new()))
        }

        /// Takes the lock: one RMW when uncontended. While it is held, waits
        /// as a node's lock does (spin hints in growing bursts, then yielding
        /// the time slice), so that contention costs what it must.
        fn lock(&self) {
            let mut spins = 0u32;
            // Acquire: pairs with the Release of `unlock_adding`.
            while self.state.fetch_or(LOCKED, Acquire) & LOCKED != 0 {
                while self.state.load(Relaxed) & LOCKED != 0 {
                    if spins < 64 {
                        spins += 1;
                        for _ in 0..(1u32 << spins.min(6)) {
                            spin_loop();
                        }
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
        }

        /// Releases the lock adding `bits` to the word: one RMW.
        fn unlock_adding(&self, bits: usize) {
            // Release: what was done under the lock happens-before the next holder.
            self.state.fetch_add(bits.wrapping_sub(LOCKED), Release);
        }

        /// Links a child: lock, and unlock taking the child's reference.
        pub fn link(&self) {
            self.lock();
            self.unlock_adding(REF_ONE);
        }

        /// Unlinks a child freed in the same step: lock, and unlock giving
        /// back the child's reference.
        pub fn unlink_freeing(&self) {
            self.lock();
            self.unlock_adding(REF_ONE.wrapping_neg());
        }

        /// Unlinks a child that lives on (a token holds it): lock and unlock.
        pub fn unlink(&self) {
            self.lock();
            self.unlock_adding(0);
        }

        /// Cancels: one RMW.
        pub fn cancel(&self) {
            // Release: publishes what the canceller did before.
            self.state.fetch_or(CANCELLED, Release);
        }

        /// Takes the lock to cancel the node's children (the root of a tree).
        pub fn lock_for_cancel(&self) {
            self.lock();
        }

        /// Releases the lock taken by `lock_for_cancel`, marking the node
        /// cancelled in the same RMW: while the lock is held no child links,
        /// so the mark can wait until the children are cancelled.
        pub fn unlock_cancelled(&self) {
            self.unlock_adding(CANCELLED);
        }

        /// Whether the node is cancelled: a load.
        pub fn is_cancelled(&self) -> bool {
            // Acquire: pairs with the Release of the canceller's RMW.
            self.state.load(Acquire) & CANCELLED != 0
        }

        /// Takes a second reference: one RMW.
        pub fn inc_ref(&self) {
            // Relaxed: made from an existing reference.
            self.state.fetch_add(REF_ONE, Relaxed);
        }

        /// Gives back a reference that is not the last: one RMW.
        pub fn dec_ref(&self) {
            // Release: our uses happen-before whoever frees the node.
            self.state.fetch_sub(REF_ONE, Release);
        }

        /// Whether the caller's reference is the last: a load, no RMW.
        pub fn is_last(&self) -> bool {
            // Acquire: pairs with the other owners' Release decrements.
            self.state.load(Acquire) >> 8 == 1
        }
    }

    /// Frees a node whose last reference the caller holds, checked by a load.
    pub fn free(node: Box<Node>) {
        assert!(node.is_last());
        drop(node);
    }

    /// `child_cancel_then_drop`: a child allocated and linked (2 RMWs),
    /// cancelled (1), unlinked and freed (2): one allocation, 5 RMWs.
    pub fn cancel_then_drop(parent: &Node) {
        let child = Node::boxed();
        parent.link();
        child.cancel();
        parent.unlink_freeing();
        free(child);
    }

    /// `child_token_given_away`: a child allocated and linked (2 RMWs), a
    /// token of it made (1), the source dropped: the child cancelled (1),
    /// unlinked (2) and the source's reference given back (1); the token
    /// dropped: its last reference (a load), the reference on the parent
    /// given back (1), freed. One allocation, 8 RMWs.
    pub fn token_given_away(parent: &Node) {
        let child = Node::boxed();
        parent.link();
        child.inc_ref();
        child.cancel();
        parent.unlink();
        child.dec_ref();
        parent.dec_ref();
        free(child);
    }

    /// `build_1000_live`, per child: one allocation, linked (2 RMWs).
    // A box per child, as each node is its own allocation in a tree.
    #[allow(clippy::vec_box)]
    pub fn build(parent: &Node, children: &mut Vec<Box<Node>>) {
        let child = Node::boxed();
        parent.link();
        children.push(child);
    }

    /// `drop_1000_cancelled`, per child (cancelled before): unlinked and
    /// freed (2 RMWs), one free.
    pub fn drop_cancelled(parent: &Node, child: Box<Node>) {
        parent.unlink_freeing();
        free(child);
    }

    /// The cancel of a root whose children have nothing to wake or run: the
    /// root's lock taken (1 RMW), each child cancelled (1), which takes it
    /// out of the list, and the lock released marking the root cancelled (1).
    pub fn cancel_tree(root: &Node, children: &[Box<Node>]) {
        root.lock_for_cancel();
        for child in children {
            child.cancel();
        }
        root.unlock_cancelled();
    }

    /// `tree_1000_whole`: the root and `children` children allocated, each
    /// child linked (2 RMWs); `cancel_tree` (1 per child, 2 per tree); each
    /// child dropped: its last reference (a load), its reference on the root
    /// given back (1), freed; the root freed. Per child one allocation and 4
    /// RMWs; per tree one allocation and 2 RMWs.
    pub fn tree(children: usize) {
        let root = Node::boxed();
        let nodes: Vec<_> = (0..children)
            .map(|_| {
                let child = Node::boxed();
                root.link();
                child
            })
            .collect();
        cancel_tree(&root, &nodes);
        for child in nodes {
            root.dec_ref();
            free(child);
        }
        free(root);
    }

    /// A child created and dropped unobserved, reusing the parent's spare
    /// memory: linked (2 RMWs) and unlinked (2), no allocation.
    pub fn spare_reuse(parent: &Node) {
        parent.link();
        parent.unlink_freeing();
    }
}

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
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
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
    for (i, (name, n)) in ALIVE.into_iter().enumerate() {
        let mut group = criterion.benchmark_group(name);
        with_alive::<Ours>(&mut group, n);
        with_alive::<TokioUtil>(&mut group, n);
        if i == 0 {
            floor_op(&mut group, floor::spare_reuse);
        }
        group.finish();
        rows.push(Row {
            group: name,
            per: PER_OP,
            target: None,
            floor: Some(ALIVE[0].0),
        });
    }
    for (i, (name, depth)) in DEPTHS.into_iter().enumerate() {
        let mut group = criterion.benchmark_group(name);
        at_depth::<Ours>(&mut group, depth);
        at_depth::<TokioUtil>(&mut group, depth);
        if i == 0 {
            floor_op(&mut group, floor::spare_reuse);
        }
        group.finish();
        rows.push(Row {
            group: name,
            per: PER_OP,
            target: None,
            floor: Some(DEPTHS[0].0),
        });
    }
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
