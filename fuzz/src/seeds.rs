//! The checked-in seed corpus, written as operations.
//!
//! `cargo test` (in `fuzz/`) runs every seed through both harnesses;
//! `CT_FUZZ_WRITE_SEEDS=1 cargo test` also rewrites `corpus/model` and
//! `corpus/threads` from the lists below.

use crate::{run_model, run_threads, Op, Step};

// Slot arguments pick the (arg % live)-th live handle of the pool; with no
// handle dropped before, that is the slot of the same number.
fn root() -> Op {
    Op::new(0, &[])
}
fn child(t: u8) -> Op {
    Op::new(1, &[t])
}
fn linked(ts: &[u8]) -> Op {
    let mut a = [0u8; 3];
    a[..ts.len()].copy_from_slice(ts);
    Op::new(2, &[(ts.len() as u8) << 6 | a[0], a[1], a[2]])
}
/// `b0`, `b1`: see `crate::duration`.
fn timeout(t: u8, absolute: bool, b0: u8, b1: u8) -> Op {
    Op::new(3, &[t | (absolute as u8) << 4, b0, b1])
}
/// `cause`: 0 none, 1 the first, 2 the second.
fn cancel(s: u8, cause: u8) -> Op {
    Op::new(4, &[s | cause << 4])
}
fn drop_src(s: u8) -> Op {
    Op::new(5, &[s])
}
fn token(s: u8) -> Op {
    Op::new(6, &[s])
}
fn clone(t: u8) -> Op {
    Op::new(7, &[t])
}
fn drop_tok(t: u8) -> Op {
    Op::new(8, &[t])
}
fn never() -> Op {
    Op::new(9, &[])
}
fn wait(t: u8, owned: bool) -> Op {
    Op::new(10, &[t | (owned as u8) << 4])
}
fn poll(w: u8, alt: bool) -> Op {
    Op::new(11, &[w | (alt as u8) << 4])
}
fn drop_w(w: u8) -> Op {
    Op::new(12, &[w])
}
fn on_cancel(t: u8) -> Op {
    Op::new(13, &[t])
}
fn disarm(g: u8) -> Op {
    Op::new(14, &[g])
}
fn drop_g(g: u8) -> Op {
    Op::new(15, &[g])
}
fn advance(b0: u8, b1: u8) -> Op {
    Op::new(16, &[b0, b1])
}

fn clock_root() -> Op {
    Op::new(17, &[])
}
/// On the tree's clock; `cause`: 0 none, 1 the first, 2 the second.
fn clock_timeout(t: u8, absolute: bool, cause: u8, b0: u8, b1: u8) -> Op {
    Op::new(18, &[t | (absolute as u8) << 4 | cause << 5, b0, b1])
}
/// `reset_timeout` (`reset_deadline` if `absolute`).
fn reset(s: u8, absolute: bool, b0: u8, b1: u8) -> Op {
    Op::new(19, &[s | (absolute as u8) << 4, b0, b1])
}
/// `reset_timeout(Duration::MAX)`.
fn reset_max(s: u8) -> Op {
    Op::new(19, &[s | 32, 0, 0])
}
fn detach(t: u8) -> Op {
    Op::new(20, &[t])
}

fn model_seeds() -> Vec<(&'static str, Vec<Op>)> {
    vec![
        (
            "clock-timeout-remaining",
            vec![
                clock_root(),
                token(0),
                child(0),
                token(1),
                clock_timeout(1, false, 0, 0, 100),
                token(2),
                clock_timeout(2, true, 1, 0, 50),
                token(3),
                advance(0, 20),
                wait(3, false),
                on_cancel(2),
                advance(0, 30),
                advance(0, 50),
                poll(0, false),
            ],
        ),
        (
            "reset-later-earlier",
            vec![
                clock_root(),
                token(0),
                clock_timeout(0, false, 2, 0, 100),
                token(1),
                child(1),
                token(2),
                clock_timeout(2, false, 0, 0, 80),
                advance(0, 30),
                reset(1, false, 0, 200),
                reset(2, false, 0, 250),
                reset(1, false, 0, 10),
                token(3),
                reset(1, true, 0, 60),
                advance(0, 50),
                reset(1, false, 0, 5),
            ],
        ),
        (
            "reset-covered",
            vec![
                clock_root(),
                token(0),
                clock_timeout(0, false, 0, 0, 50),
                token(1),
                clock_timeout(1, false, 1, 0, 70),
                reset(1, false, 0, 100),
                reset(1, false, 0, 20),
                reset(1, false, 0, 30),
                reset(2, false, 0, 40),
                reset(0, false, 0, 10),
                reset(0, false, 0, 0),
                advance(0, 100),
            ],
        ),
        (
            "reset-refused",
            vec![
                root(),
                token(0),
                timeout(0, false, 0, 10),
                reset(0, false, 0, 5),
                reset(1, false, 0, 5),
                clock_root(),
                token(2),
                child(2),
                timeout(2, false, 0, 10),
                reset(3, false, 0, 5),
                reset(4, false, 0, 50),
                cancel(4, 1),
                reset(4, false, 0, 5),
                reset(2, false, 0, 20),
                reset_max(2),
                reset_max(2),
                advance(0, 100),
            ],
        ),
        (
            "reset-capped",
            vec![
                clock_root(),
                token(0),
                clock_timeout(0, false, 0, 0, 50),
                token(1),
                clock_timeout(1, false, 0, 0, 30),
                reset(2, false, 0, 100),
                reset(1, false, 0, 200),
                cancel(2, 0),
                reset(2, false, 0, 250),
                reset(1, false, 0, 220),
            ],
        ),
        (
            "detached",
            vec![
                clock_root(),
                token(0),
                clock_timeout(0, false, 0, 0, 10),
                token(1),
                detach(1),
                clock_timeout(2, false, 2, 0, 40),
                token(3),
                wait(2, false),
                on_cancel(2),
                root(),
                token(5),
                detach(4),
                drop_src(0),
                advance(0, 40),
                poll(0, true),
                drop_tok(0),
                drop_tok(0),
            ],
        ),
        (
            "waiter-woken-with-cause",
            vec![
                root(),
                token(0),
                wait(0, false),
                wait(0, true),
                cancel(0, 1),
                poll(0, false),
                poll(1, true),
            ],
        ),
        (
            "tree-callbacks",
            vec![
                root(),
                token(0),
                child(0),
                token(1),
                child(1),
                token(2),
                on_cancel(2),
                on_cancel(1),
                on_cancel(0),
                cancel(1, 2),
                cancel(0, 1),
                disarm(0),
                drop_src(0),
            ],
        ),
        (
            "linked-two-roots",
            vec![
                root(),
                root(),
                token(0),
                token(1),
                linked(&[0, 1]),
                token(2),
                wait(2, false),
                on_cancel(2),
                cancel(1, 1),
                poll(0, true),
            ],
        ),
        (
            "diamond",
            vec![
                root(),
                token(0),
                child(0),
                token(1),
                linked(&[1, 0]),
                token(2),
                child(2),
                token(3),
                cancel(1, 1),
                cancel(0, 2),
            ],
        ),
        (
            "timeout-covered",
            vec![
                root(),
                token(0),
                timeout(0, false, 0, 10),
                token(1),
                timeout(1, false, 0, 20),
                timeout(1, false, 0, 5),
                token(2),
                token(3),
                advance(0, 5),
                advance(0, 5),
                advance(0, 50),
            ],
        ),
        (
            "deadline-past-and-zero",
            vec![
                root(),
                token(0),
                advance(0, 100),
                timeout(0, true, 0, 50),
                timeout(0, false, 0, 0),
                timeout(0, false, 0x10, 0),
                token(1),
                token(2),
                token(3),
            ],
        ),
        (
            "never",
            vec![
                never(),
                child(0),
                on_cancel(0),
                wait(0, false),
                timeout(0, false, 5, 3),
                token(0),
                advance(5, 3),
                disarm(0),
                drop_src(0),
                poll(0, true),
            ],
        ),
        (
            "disarm-before-after",
            vec![
                root(),
                token(0),
                on_cancel(0),
                on_cancel(0),
                disarm(0),
                cancel(0, 0),
                disarm(0),
                on_cancel(0),
                drop_g(0),
            ],
        ),
        (
            "drop-cascade",
            vec![
                root(),
                token(0),
                child(0),
                token(1),
                child(1),
                token(2),
                wait(2, false),
                poll(0, true),
                poll(0, false),
                drop_tok(2),
                drop_src(0),
                poll(0, false),
                drop_w(0),
            ],
        ),
        (
            "wheel-levels",
            vec![
                root(),
                token(0),
                timeout(0, false, 11, 3),
                timeout(0, false, 13, 200),
                timeout(0, false, 14, 1),
                timeout(0, false, 15, 255),
                advance(12, 255),
                advance(13, 255),
                advance(14, 2),
                advance(15, 255),
                advance(15, 255),
            ],
        ),
        (
            "linked-born-cancelled",
            vec![
                root(),
                root(),
                token(0),
                token(1),
                cancel(0, 2),
                linked(&[1, 0]),
                linked(&[]),
                linked(&[0, 1, 1]),
                token(2),
                token(3),
                token(4),
            ],
        ),
        (
            "linked-dropped-first",
            vec![
                root(),
                token(0),
                linked(&[0, 0]),
                token(1),
                on_cancel(1),
                drop_src(1),
                cancel(0, 1),
                clone(1),
                drop_tok(0),
            ],
        ),
        (
            "timed-chain-expiry",
            vec![
                root(),
                token(0),
                timeout(0, false, 0, 30),
                token(1),
                child(1),
                token(2),
                timeout(2, false, 0, 10),
                token(3),
                on_cancel(3),
                wait(2, true),
                advance(0, 10),
                advance(0, 20),
                poll(0, false),
            ],
        ),
    ]
}

fn threads_seeds() -> Vec<(&'static str, Vec<Step>)> {
    use Step::{Main as M, Pair as P, Worker as W};
    vec![
        (
            "reset-vs-advance",
            vec![
                M(clock_root()),
                M(token(0)),
                M(clock_timeout(0, false, 1, 0, 10)),
                M(token(1)),
                M(child(1)),
                P(advance(0, 10), reset(1, false, 0, 30)),
                M(advance(0, 30)),
            ],
        ),
        (
            "reset-vs-cancel",
            vec![
                M(clock_root()),
                M(token(0)),
                M(clock_timeout(0, false, 0, 0, 10)),
                M(token(1)),
                M(clock_timeout(1, false, 0, 0, 5)),
                P(reset(1, false, 0, 1), cancel(0, 1)),
                P(reset(2, false, 0, 0), detach(1)),
            ],
        ),
        (
            "cancel-vs-wait",
            vec![
                M(root()),
                M(token(0)),
                P(wait(0, false), cancel(0, 1)),
                M(poll(0, false)),
            ],
        ),
        (
            "cancel-vs-callback",
            vec![
                M(root()),
                M(token(0)),
                P(on_cancel(0), cancel(0, 0)),
                M(disarm(0)),
            ],
        ),
        (
            "cancel-vs-disarm",
            vec![
                M(root()),
                M(token(0)),
                M(on_cancel(0)),
                P(cancel(0, 2), disarm(0)),
            ],
        ),
        (
            "two-waves",
            vec![
                M(root()),
                M(token(0)),
                M(child(0)),
                M(token(1)),
                M(child(1)),
                P(cancel(0, 1), cancel(1, 2)),
            ],
        ),
        (
            "diamond-race",
            vec![
                M(root()),
                M(token(0)),
                M(child(0)),
                M(token(1)),
                M(linked(&[1, 0])),
                M(token(2)),
                M(on_cancel(2)),
                P(cancel(1, 1), cancel(0, 2)),
            ],
        ),
        (
            "advance-vs-cancel",
            vec![
                M(root()),
                M(token(0)),
                M(timeout(0, false, 0, 10)),
                M(token(1)),
                M(child(1)),
                P(advance(0, 10), cancel(1, 1)),
            ],
        ),
        (
            "advance-vs-timeout",
            vec![
                M(root()),
                M(token(0)),
                P(advance(0, 10), timeout(0, false, 0, 5)),
                M(token(1)),
                M(advance(0, 5)),
            ],
        ),
        (
            "worker-cancels",
            vec![
                M(root()),
                M(token(0)),
                M(wait(0, true)),
                M(on_cancel(0)),
                W(cancel(0, 1)),
                M(poll(0, false)),
            ],
        ),
        (
            "drop-vs-child",
            vec![
                M(root()),
                M(token(0)),
                P(drop_src(0), child(0)),
                M(token(0)),
            ],
        ),
        (
            "drop-vs-linked",
            vec![
                M(root()),
                M(root()),
                M(token(0)),
                M(token(1)),
                P(drop_src(0), linked(&[0, 1])),
                M(token(2)),
            ],
        ),
        (
            "repoll-vs-cancel",
            vec![
                M(root()),
                M(token(0)),
                M(wait(0, false)),
                P(poll(0, true), cancel(0, 0)),
                M(poll(0, false)),
            ],
        ),
        (
            "drop-linked-vs-parent",
            vec![
                M(root()),
                M(token(0)),
                M(linked(&[0])),
                M(token(1)),
                M(on_cancel(1)),
                P(drop_src(1), cancel(0, 2)),
            ],
        ),
        (
            "worker-advances",
            vec![
                M(root()),
                M(token(0)),
                M(timeout(0, false, 0, 3)),
                M(token(1)),
                M(wait(1, false)),
                W(advance(0, 3)),
                P(poll(0, false), drop_tok(1)),
            ],
        ),
    ]
}

fn bytes_model(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    ops.iter().for_each(|o| o.encode(&mut out));
    out
}

fn bytes_threads(steps: &[Step]) -> Vec<u8> {
    let mut out = Vec::new();
    steps.iter().for_each(|s| s.encode(&mut out));
    out
}

fn write(dir: &str, name: &str, bytes: &[u8]) {
    if std::env::var_os("CT_FUZZ_WRITE_SEEDS").is_some() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn model_seeds_agree() {
    for (name, ops) in model_seeds() {
        let b = bytes_model(&ops);
        assert_eq!(crate::decode_model(&b), ops, "{name}");
        run_model(&b);
        write("model", name, &b);
    }
}

#[test]
fn threads_seeds_agree() {
    for (name, steps) in threads_seeds() {
        let b = bytes_threads(&steps);
        assert_eq!(crate::decode_threads(&b), steps, "{name}");
        for _ in 0..20 {
            run_threads(&b);
        }
        write("threads", name, &b);
    }
}

/// Every checked-in corpus file runs clean (also those the fuzzer found and
/// someone checked in).
#[test]
fn corpus_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (dir, run) in [("model", run_model as fn(&[u8])), ("threads", run_threads)] {
        for e in std::fs::read_dir(root.join(dir)).into_iter().flatten() {
            run(&std::fs::read(e.unwrap().path()).unwrap());
        }
    }
}
