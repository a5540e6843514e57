//! Cancellation tokens that form a tree, expire at deadlines, and work from
//! `std` servers down to Cortex-M interrupt handlers.
//!
//! A [`CancelSource`] holds the right to cancel; its [`CancelToken`]s only
//! observe. Children follow their parents ([`CancelToken::child`]), linked
//! sources follow any of several ([`CancelSource::linked`]), and dropping a
//! source cancels its token, as Go's `defer cancel()` does.
//!
//! ```
//! use cancel_token::{CancelSource, Reason};
//!
//! # futures_executor::block_on(async {
//! let server = CancelSource::new();
//! let request = server.token().child();
//! let token = request.token();
//!
//! let work = async { 42 };
//! assert_eq!(token.run_until_cancelled(work).await, Ok(42));
//!
//! server.cancel();
//! assert_eq!(token.cancelled().await, Reason::Cancelled);
//! # });
//! ```
//!
//! # Design
//!
//! - [`CancelToken::is_cancelled`] is one atomic load, live or cancelled.
//! - [`CancelToken::cancelled`] allocates nothing: the waiter lives inside the
//!   future and is linked into the token's node (intrusive list).
//! - Cancelling wakes waiters and runs callbacks with no lock held, in batches,
//!   and walks a tree of any depth in constant stack.
//! - Locks are per node and short. With `std` they are spin locks on the state
//!   word; without it they are critical sections (the `critical-section`
//!   crate), so `cancel` may run in an interrupt handler while thread code
//!   registers or drops waiters. The firmware, never this crate, picks the
//!   critical-section implementation.
//!
//! # Tiers and features
//!
//! | tier | feature | what you get |
//! |---|---|---|
//! | no allocator | (none) | [`StaticSource`], [`PinnedChild`], [`PinnedLinked`], [`PinnedOnCancel`], [`TokenRef`], [`CancelToken`] for static nodes, [`Cancelled`] |
//! | `alloc` | `alloc` | [`CancelSource`], [`CancelToken::child`], [`OnCancel`], [`CancelSource::linked`], [`CancelledOwned`] |
//! | `std` (default) | `std` | blocking [`CancelToken::wait`], spin locks, panic-safe callbacks, [`ThreadDriver`] |
//! | tokio | `tokio` | `TokioDriver`: deadlines on a tokio runtime |
//! | smol, async-std | `async-io` | `AsyncIoDriver`: deadlines on async-io's reactor, nothing to spawn |
//! | embassy | `embassy` | `EmbassyDriver`: deadlines on embassy-time, `static` and no-alloc, with a run task to spawn |
//!
//! `portable-atomic` routes atomics through the `portable-atomic` crate, for
//! targets without compare-and-swap such as `thumbv6m-none-eabi`.
//!
//! Of the crates this one builds on: `atomic-waker` holds each waiting future's
//! waker, so re-polling replaces it without the node lock. `event-listener` is
//! used for one std blocking wait, [`ThreadDriver`]'s timer thread sleeping
//! until its next deadline; a blocking [`CancelToken::wait`] does not use it:
//! it parks the thread on the same intrusive waiter as a future does, which
//! needs no second wait list per node. `heapless` is not
//! needed either: every list is intrusive, so no tier stores a fixed-capacity
//! collection. `futures-util` combinators (`select`, `StreamExt::take_until`)
//! work with [`Cancelled`] as with any future; the tests use them.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;

#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
mod callback;
mod cancel;
mod cancelled;
mod deadline;
mod entry;
mod lock;
mod node;
mod panic;
mod pinned_child;
mod pinned_linked;
mod pinned_on_cancel;
mod reason;
mod release;
mod spare;
mod static_source;
mod sync;
mod tick_driver;
mod timers;
mod token;
mod waiter;
mod wheel;

#[cfg(all(feature = "async-io", not(cancel_token_loom)))]
mod async_io_driver;
#[cfg(feature = "std")]
mod blocking;
#[cfg(all(feature = "embassy", not(cancel_token_loom)))]
mod embassy_driver;
#[cfg(feature = "alloc")]
mod linked;
#[cfg(feature = "alloc")]
mod manual_driver;
#[cfg(feature = "std")]
mod next_wake;
#[cfg(feature = "alloc")]
mod on_cancel;
#[cfg(feature = "alloc")]
mod source;
#[cfg(feature = "std")]
mod thread_driver;
#[cfg(feature = "tokio")]
mod tokio_driver;

pub use cancelled::{Cancelled, CancelledOwned};
pub use deadline::Deadline;
pub use pinned_child::{PinnedChild, PinnedDeadline};
pub use pinned_linked::PinnedLinked;
pub use pinned_on_cancel::PinnedOnCancel;
pub use reason::{Cause, Reason};
pub use static_source::StaticSource;
pub use tick_driver::TickDriver;
#[cfg(feature = "alloc")]
pub use timers::SharedTimers;
pub use timers::{DriverStopped, TimerDriver, Timers, TimersHandle};
pub use token::{CancelToken, TokenRef};

#[cfg(all(feature = "async-io", not(cancel_token_loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "async-io")))]
pub use async_io_driver::AsyncIoDriver;
#[cfg(all(feature = "embassy", not(cancel_token_loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "embassy")))]
pub use embassy_driver::EmbassyDriver;
#[cfg(feature = "alloc")]
pub use manual_driver::ManualDriver;
#[cfg(feature = "alloc")]
pub use on_cancel::OnCancel;
#[cfg(feature = "alloc")]
pub use source::CancelSource;
#[cfg(feature = "std")]
pub use thread_driver::ThreadDriver;
#[cfg(feature = "tokio")]
pub use tokio_driver::TokioDriver;

#[doc(hidden)]
pub mod __private {
    //! Items for the crate's own tests and probes. Not part of the API.

    /// Size of a heap node, for size tests.
    pub const NODE_SIZE: usize = core::mem::size_of::<crate::node::Node>();

    /// Size of a heap node with a deadline (a timer-wheel entry), for benches.
    pub const TIMED_NODE_SIZE: usize = core::mem::size_of::<crate::deadline::TimedNode>();

    /// Whether a driver's sleeper (its thread or task) still holds the state
    /// it shares with the driver's handles: for tests that a sleeper ends.
    #[cfg(feature = "std")]
    pub struct SleeperProbe(pub(crate) std::sync::Weak<dyn core::any::Any + Send + Sync>);

    #[cfg(feature = "std")]
    impl SleeperProbe {
        /// Whether anything (a handle, the sleeper, its waker) still holds it.
        pub fn is_alive(&self) -> bool {
            self.0.strong_count() > 0
        }
    }

    /// The probe of a `ThreadDriver`'s thread.
    #[cfg(feature = "std")]
    pub fn thread_sleeper(driver: &crate::ThreadDriver) -> SleeperProbe {
        driver.probe()
    }

    /// The probe of an `AsyncIoDriver`'s state, which its timer's waker holds.
    #[cfg(all(feature = "async-io", not(cancel_token_loom)))]
    pub fn async_io_state(driver: &crate::AsyncIoDriver) -> SleeperProbe {
        driver.probe()
    }

    #[cfg(cancel_token_loom)]
    pub use crate::next_wake::LoomSleeper;

    /// Shared timers freed so far on this thread (under loom, which runs a
    /// model's threads on one, timers are marked freed rather than freed).
    #[cfg(cancel_token_loom)]
    pub fn timers_freed() -> usize {
        crate::timers::FREED.with(core::cell::Cell::get)
    }
}
