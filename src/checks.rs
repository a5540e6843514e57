//! What the crate checks as it builds: size budgets (64-bit targets) and the
//! public types' auto traits.
//!
//! `tests/sizes.rs` checks the same budgets at run time through the public
//! API; here a node that grows past its budget fails the build itself.
//! Loom's atomics are larger than the real ones, so its builds check no size.

#[cfg(all(target_pointer_width = "64", not(cancel_token_loom)))]
const _: () = {
    use core::mem::size_of;

    use crate::node::kind::TimedNode;
    use crate::node::Node;
    use crate::{CancelToken, Cancelled};

    // A plain node and the future that waits on it fit a cache line.
    assert!(size_of::<Node>() <= 64);
    assert!(size_of::<Cancelled<'_>>() <= 64);
    // A token is one pointer, and `None` takes its null niche.
    assert!(size_of::<CancelToken>() == 8);
    assert!(size_of::<Option<CancelToken>>() == 8);
    // A node with a deadline of its own carries a timer-wheel entry (two
    // links and a tick) and one word for its timers and clock root.
    assert!(size_of::<TimedNode>() <= 96);
};

#[cfg(all(target_pointer_width = "64", feature = "alloc", not(cancel_token_loom)))]
const _: () = {
    use core::mem::size_of;

    use crate::node::kind::ScopedNode;
    use crate::node::Node;
    use crate::CancelSource;

    // A source is one pointer, like a token.
    assert!(size_of::<CancelSource>() == 8);
    assert!(size_of::<Option<CancelSource>>() == 8);
    // A child below a deadline names the node whose deadline it inherits:
    // one pointer more than a plain node.
    assert!(size_of::<ScopedNode>() == size_of::<Node>() + 8);
};

// The public types' auto traits, checked as the crate builds: a change that
// loses one (a raw pointer field without its `unsafe impl`) fails here.
const _: fn() = || {
    use crate::*;

    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<CancelToken>();
    send_sync::<TokenRef<'static>>();
    send_sync::<Cancelled<'static>>();
    send_sync::<CancelledOwned>();
    send_sync::<Reason>();
    send_sync::<Cause>();
    send_sync::<Deadline>();
    send_sync::<StaticSource>();
    send_sync::<PinnedChild<'static>>();
    send_sync::<PinnedDeadline<'static, &'static TickDriver>>();
    send_sync::<PinnedLinked<'static, 2>>();
    send_sync::<PinnedOnCancel<'static, fn(Reason)>>();
    send_sync::<Timers>();
    send_sync::<TimersHandle<'static>>();
    send_sync::<TickDriver>();
    send::<RunUntilCancelled<'static, core::future::Ready<()>>>();
    send::<RunUntilCancelledOwned<core::future::Ready<()>>>();
    #[cfg(feature = "alloc")]
    {
        send_sync::<CancelSource>();
        send_sync::<OnCancel>();
        send_sync::<SharedTimers>();
        send_sync::<ManualDriver>();
        send::<Timeout<core::future::Ready<()>>>();
    }
};
