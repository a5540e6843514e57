//! Size budgets of the no-allocator types on a 32-bit core, printed and
//! checked. They are what a `static` root, a pinned child in a stack frame and
//! a waiting future cost in RAM.
//!
//! The budgets are this crate's own promises: StaticSource and PinnedChild
//! (one node each) fit in 32 bytes, a Cancelled waiter too. A budget that is
//! raised must be raised here on purpose, never to make a failure go away.
#![no_std]
#![no_main]

use core::mem::{align_of, size_of};

use cancel_token::{CancelToken, Cancelled, PinnedChild, Reason, StaticSource, TokenRef};
use harness::{entry, hprintln};

/// (name, size, align, budget in bytes)
fn table() -> [(&'static str, usize, usize, usize); 7] {
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
    if let Some((name, size, budget)) = over {
        harness::fail(format_args!(
            "sizes: {} is {} bytes, budget {}",
            name, size, budget
        ));
    }
    let [s, p, c, ..] = table();
    harness::pass(format_args!(
        "sizes: StaticSource {} B, PinnedChild {} B, Cancelled {} B within budgets",
        s.1, p.1, c.1
    ))
}
