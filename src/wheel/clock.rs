//! `Clock`: a driver with its type erased, as a tree's clock root keeps it.

use core::time::Duration;

use crate::wheel::timers::TimersHandle;

/// What a tree's clock does, for any driver: the driver behind `&dyn Clock`,
/// in ticks. Implemented by every `TimerDriver` that can be kept
/// (`time::clock`); kept boxed by a clock root (`node::kind::ClockNode`).
pub(crate) trait Clock: Send + Sync {
    /// The tick the clock is at.
    fn now_ticks(&self) -> u64;
    /// Ticks in `d`, rounded up.
    fn duration_ticks(&self, d: Duration) -> u64;
    /// The time `ticks` ticks take.
    fn ticks_duration(&self, ticks: u64) -> Duration;
    /// The driver's timers.
    fn timers(&self) -> TimersHandle<'_>;
    /// `TimerDriver::wake_at`; `Err` if the driver has stopped.
    fn wake_at(&self, tick: u64) -> Result<(), ()>;
    /// `TimerDriver::epoch`.
    #[cfg(feature = "std")]
    fn epoch(&self) -> Option<std::time::Instant>;
    /// Another handle on the same driver.
    fn clone_box(&self) -> alloc::boxed::Box<dyn Clock>;
}
