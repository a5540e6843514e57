//! Size budgets of the no-allocator types on a 32-bit core, printed and
//! checked. They are what a `static` root, a pinned child in a stack frame, a
//! waiting future, a `static` tick driver and a pinned deadline cost in RAM.
//!
//! The budgets are this crate's own promises: StaticSource and PinnedChild
//! (one node each) fit in 32 bytes, a Cancelled waiter too. For deadlines:
//! a TickDriver is its timer wheel (1608 bytes on 32-bit, see src/wheel.rs)
//! plus 24 bytes of clock and lock state (current tick, scheduled tick, alarm
//! hook, flag); a PinnedDeadline is a node (32), its wheel entry (two links
//! and the deadline tick, 16), a pointer to the driver's timers (4) and its
//! driver (a `&'static` reference, 4): 56 bytes, a multiple of its tick's
//! 8-byte alignment. A PinnedOnCancel is a
//! callback entry (links, state, the function that runs it, the runner's
//! flag) plus the user's function and a pointer to its node. A PinnedLinked
//! with N parents is a node (32) plus, per parent, a callback entry holding a
//! pointer back to the node (28) and the parent's pointer (4). A budget that is raised
//! must be raised here on purpose, never to make a failure go away.
#![no_std]
#![no_main]

use core::mem::{align_of, size_of};

use cancel_token::{
    CancelToken, Cancelled, PinnedChild, PinnedDeadline, PinnedLinked, PinnedOnCancel, Reason,
    StaticSource, TickDriver, TokenRef,
};

/// A pinned callback with a plain function (a closure capturing nothing is
/// smaller still; each captured value adds its size).
type PinnedFnCallback = PinnedOnCancel<'static, fn(Reason)>;
use harness::{entry, hprintln};

/// (name, size, align, budget in bytes)
fn table() -> [(&'static str, usize, usize, usize); 11] {
    [
        (
            "StaticSource",
            size_of::<StaticSource>(),
            align_of::<StaticSource>(),
            32,
        ),
        (
            "PinnedChild",
            size_of::<PinnedChild<'static>>(),
            align_of::<PinnedChild<'static>>(),
            32,
        ),
        (
            "Cancelled",
            size_of::<Cancelled<'static>>(),
            align_of::<Cancelled<'static>>(),
            32,
        ),
        (
            "TokenRef",
            size_of::<TokenRef<'static>>(),
            align_of::<TokenRef<'static>>(),
            4,
        ),
        (
            "CancelToken",
            size_of::<CancelToken>(),
            align_of::<CancelToken>(),
            4,
        ),
        (
            "Option<CancelToken>",
            size_of::<Option<CancelToken>>(),
            align_of::<Option<CancelToken>>(),
            4,
        ),
        ("Reason", size_of::<Reason>(), align_of::<Reason>(), 1),
        (
            "TickDriver",
            size_of::<TickDriver>(),
            align_of::<TickDriver>(),
            1632,
        ),
        (
            "PinnedDeadline",
            size_of::<PinnedDeadline<'static, &'static TickDriver>>(),
            align_of::<PinnedDeadline<'static, &'static TickDriver>>(),
            56,
        ),
        (
            "PinnedOnCancel<fn>",
            size_of::<PinnedFnCallback>(),
            align_of::<PinnedFnCallback>(),
            36,
        ),
        (
            "PinnedLinked<2>",
            size_of::<PinnedLinked<'static, 2>>(),
            align_of::<PinnedLinked<'static, 2>>(),
            96,
        ),
    ]
}

#[entry]
fn main() -> ! {
    let mut over = None;
    for (name, size, align, budget) in table() {
        let verdict = if size <= budget { "ok" } else { "OVER" };
        hprintln!(
            "size_of {:<20} {:>3} bytes (align {}), budget {:>3}: {}",
            name,
            size,
            align,
            budget,
            verdict
        );
        if size > budget && over.is_none() {
            over = Some((name, size, budget));
        }
    }
    hprintln!(
        "size_of node (internal)       {:>3} bytes",
        cancel_token::__private::NODE_SIZE
    );
    hprintln!(
        "size_of timed node (internal) {:>3} bytes",
        cancel_token::__private::TIMED_NODE_SIZE
    );
    if let Some((name, size, budget)) = over {
        harness::fail(format_args!(
            "sizes: {} is {} bytes, budget {}",
            name, size, budget
        ));
    }
    let [s, p, c, _, _, _, _, t, d, cb, l] = table();
    harness::pass(format_args!(
        "sizes: StaticSource {} B, PinnedChild {} B, Cancelled {} B, TickDriver {} B, \
         PinnedDeadline {} B, PinnedOnCancel<fn> {} B, PinnedLinked<2> {} B within budgets",
        s.1, p.1, c.1, t.1, d.1, cb.1, l.1
    ))
}
