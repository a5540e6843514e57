//! Items for the crate's own tests and probes. Not part of the API.

/// Size of a heap node, for size tests.
pub const NODE_SIZE: usize = core::mem::size_of::<crate::node::Node>();

/// Size of a heap node with a deadline (a timer-wheel entry), for benches.
pub const TIMED_NODE_SIZE: usize = core::mem::size_of::<crate::node::kind::TimedNode>();

/// Size of a heap node below a deadline that has none of its own.
#[cfg(feature = "alloc")]
pub const SCOPED_NODE_SIZE: usize = core::mem::size_of::<crate::node::kind::ScopedNode>();

/// Size of a clock root's node (`CancelSource::with_clock`), for size tests.
#[cfg(feature = "alloc")]
pub const CLOCK_NODE_SIZE: usize = core::mem::size_of::<crate::node::kind::ClockNode>();

#[cfg(all(debug_assertions, feature = "std", not(cancel_token_loom)))]
std::thread_local! {
    static DEADLINE_STEPS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Counts one step of the search for a token's effective deadline.
#[cfg(all(debug_assertions, feature = "std", not(cancel_token_loom)))]
pub(crate) fn count_deadline_step() {
    DEADLINE_STEPS.with(|n| n.set(n.get() + 1));
}

/// Steps taken on this thread so far by searches for a token's effective
/// deadline (debug builds with `std`), for tests that the search takes the
/// same number of steps at any depth.
#[cfg(all(debug_assertions, feature = "std", not(cancel_token_loom)))]
pub fn deadline_steps() -> usize {
    DEADLINE_STEPS.with(core::cell::Cell::get)
}

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
pub use crate::driver::ms::LoomSleeper;

/// Shared timers freed so far on this thread (under loom, which runs a
/// model's threads on one, timers are marked freed rather than freed).
#[cfg(cancel_token_loom)]
pub fn timers_freed() -> usize {
    crate::wheel::timers::FREED.with(core::cell::Cell::get)
}
