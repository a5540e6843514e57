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
//! | no allocator | (none) | [`StaticSource`] (`const`, for a `static`); stored in place: [`PinnedChild`], [`PinnedDeadline`], [`PinnedLinked`], [`PinnedOnCancel`] (children and linked sources of static roots can be `static`s too); [`TokenRef`], [`CancelToken`] for static nodes, [`Cancelled`], [`CancelledOwned`], [`RunUntilCancelled`], [`RunUntilCancelledOwned`] and [`CancelFutureExt`]; [`grpc_timeout`]; [`TickDriver`]: deadlines on bare metal, advanced from an interrupt; [`TimerDriver`], [`StaticDriver`] and [`Timers`] for a driver of your own |
//! | `alloc` | `alloc` | [`CancelSource`], [`CancelToken::child`], a tree's clock ([`CancelSource::with_clock`], [`CancelToken::child_with_timeout`], [`CancelToken::remaining`], [`CancelToken::detached`], [`CancelSource::reset_timeout`] and its [`ResetError`]), deadlines on a named driver ([`CancelToken::child_with_timeout_on`], ...), [`CancelToken::timeout`] around a future ([`Timeout`]), [`OnCancel`], [`CancelSource::linked`], [`ManualDriver`], [`SharedTimers`] |
//! | `std` (default) | `std` | blocking [`CancelToken::wait`], spin locks, panic-safe callbacks, [`ThreadDriver`] (and its process-wide `ThreadDriver::global()`) |
//! | tokio | `tokio` | `TokioDriver`: deadlines on a tokio runtime |
//! | tokio-util | `tokio-util` | bridges to tokio-util's `CancellationToken`: `CancelToken::to_cancellation_token` and `CancelToken::child_following` |
//! | smol, async-std | `async-io` | `AsyncIoDriver`: deadlines on async-io's reactor, nothing to spawn |
//! | embassy | `embassy` | `EmbassyDriver`: deadlines on embassy-time, `static` and no-alloc (for [`PinnedDeadline`]s, and heap children with `alloc`), with a run task to spawn; Rust 1.85 |
//! | defmt | `defmt` | `defmt::Format` for [`Reason`], [`Deadline`], [`DriverStopped`] and the tokens and sources (their reason and deadline); no allocator needed |
//!
//! A driver in a `static` ([`TickDriver`], `EmbassyDriver`) is passed as
//! `&TICKS`, to heap children and [`PinnedDeadline`]s alike.
//!
//! `portable-atomic` routes atomics through the `portable-atomic` crate, for
//! targets without compare-and-swap such as `thumbv6m-none-eabi`; there the
//! build stops with an error naming the feature until it is enabled.
//!
//! # Testing `no_std` code on the host
//!
//! Without `std` every lock is a critical section from the `critical-section`
//! crate, whose implementation the firmware provides. Host tests of a crate
//! that uses this one without default features have none, and fail to link
//! with `undefined symbol: _critical_section_1_0_acquire`. Add the host's
//! implementation as a dev-dependency:
//!
//! ```toml
//! [dependencies]
//! cancel-token = { version = "0.1", default-features = false }
//!
//! [dev-dependencies]
//! critical-section = { version = "1", features = ["std"] }
//! ```

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The loom shim is a test build, not a platform: no "non-loom" badges.
#![cfg_attr(docsrs, doc(auto_cfg(hide(cancel_token_loom))))]

#[cfg(all(not(target_has_atomic = "ptr"), not(feature = "portable-atomic")))]
compile_error!(
    "cancel-token: this target has no compare-and-swap; enable the `portable-atomic` \
     feature (and, in the firmware, `portable-atomic/critical-section` with a \
     critical-section implementation)"
);

#[cfg(feature = "alloc")]
extern crate alloc;

mod cause;
mod checks;
#[cfg(feature = "defmt")]
mod defmt;
mod driver;
pub mod grpc_timeout;
mod handle;
mod node;
mod pinned;
mod reason;
mod sync;
mod time;
mod util;
mod wheel;

pub use cause::Cause;
pub use handle::cancelled::{Cancelled, CancelledOwned};
pub use handle::token::CancelToken;
pub use handle::token_ref::TokenRef;
pub use handle::until_cancelled::{CancelFutureExt, RunUntilCancelled, RunUntilCancelledOwned};
pub use pinned::child::{PinnedChild, PinnedDeadline};
pub use pinned::linked::PinnedLinked;
pub use pinned::on_cancel::PinnedOnCancel;
pub use pinned::static_source::StaticSource;
pub use reason::Reason;
pub use time::deadline::Deadline;
pub use time::{DriverStopped, StaticDriver, TimerDriver};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use wheel::timers::SharedTimers;
pub use wheel::timers::{Timers, TimersHandle};

#[cfg(all(feature = "embassy", not(cancel_token_loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "embassy")))]
pub use driver::embassy::EmbassyDriver;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use driver::manual::ManualDriver;
#[cfg(all(feature = "async-io", not(cancel_token_loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "async-io")))]
pub use driver::ms::async_io::AsyncIoDriver;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use driver::ms::thread::ThreadDriver;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use driver::ms::tokio::TokioDriver;
pub use driver::tick::TickDriver;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use handle::clock::ResetError;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use handle::on_cancel::OnCancel;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use handle::source::CancelSource;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use handle::until_cancelled::Timeout;

/// The README's examples and migration tables, run as doctests so that they
/// never drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[doc(hidden)]
pub mod __private;
