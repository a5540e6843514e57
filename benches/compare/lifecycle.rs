//! The workloads of whole life cycles, as users write them: explicit
//! cancels, tokens held elsewhere, many children alive, deep chains.

use super::*;

/// What the workloads of user code need beyond `Subject`, for both crates.
pub(crate) trait Tree: Subject {
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
pub(crate) fn child_cancel_then_drop<S: Tree>(group: &mut Group) {
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
pub(crate) fn child_token_given_away<S: Tree>(group: &mut Group) {
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
pub(crate) fn build_1000_live<S: Tree>(group: &mut Group) {
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
pub(crate) fn drop_1000_cancelled<S: Tree>(group: &mut Group) {
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
pub(crate) fn tree_1000_whole<S: Tree>(group: &mut Group) {
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
pub(crate) fn contended_cancel_then_drop<S: Tree>(group: &mut Group) {
    let parent = S::parent();
    on_threads(group, S::NAME, || {
        let child = black_box(S::child(&parent));
        S::cancel_explicitly(&child);
        drop(child);
    });
}

/// Times `op` run by `THREADS` threads at once, each `iters` times; the time
/// is the slowest thread's.
pub(crate) fn on_threads(group: &mut Group, name: &str, op: impl Fn() + Sync) {
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
pub(crate) const ALIVE: [(&str, usize); 3] = [
    ("alive_1k", 1_000),
    ("alive_100k", 100_000),
    ("alive_1M", 1_000_000),
];

/// One more child created and dropped (tokio-util: cancelled) while `n`
/// children of the same parent are alive. Building and dropping those is not
/// timed.
pub(crate) fn with_alive<S: Tree>(group: &mut Group, n: usize) {
    let parent = S::parent();
    let alive: Vec<_> = (0..n).map(|_| S::child(&parent)).collect();
    group.bench_function(S::NAME, |b| {
        b.iter(|| S::cancel_child(black_box(S::child(&parent))))
    });
    drop(alive);
}

/// Depths of the chains in the depth workload; each is a group.
pub(crate) const DEPTHS: [(&str, usize); 3] =
    [("depth_1", 1), ("depth_1k", 1_000), ("depth_100k", 100_000)];

/// A child created and dropped (tokio-util: cancelled) at the leaf of a
/// chain `depth` parents deep. Building the chain and dropping it (leaf
/// first) are not timed.
pub(crate) fn at_depth<S: Tree>(group: &mut Group, depth: usize) {
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
