//! A tree's clock: any driver, kept as a `dyn Clock` by the clock root of its
//! tree, and itself a `TimerDriver` counting instants in ticks.

use core::time::Duration;

use crate::time::{DriverStopped, TimerDriver};
use crate::wheel::clock::Clock;
use crate::wheel::timers::TimersHandle;

/// Every driver that can be kept (`Clone`, shareable, owning what it
/// borrows) can be a tree's clock.
impl<D: TimerDriver + Clone + Send + Sync + 'static> Clock for D {
    fn now_ticks(&self) -> u64 {
        self.ticks_at(self.now())
    }

    fn duration_ticks(&self, d: Duration) -> u64 {
        TimerDriver::duration_ticks(self, d)
    }

    fn ticks_duration(&self, ticks: u64) -> Duration {
        TimerDriver::ticks_duration(self, ticks)
    }

    fn timers(&self) -> TimersHandle<'_> {
        TimerDriver::timers(self)
    }

    fn wake_at(&self, tick: u64) -> Result<(), ()> {
        TimerDriver::wake_at(self, tick).map_err(|DriverStopped| ())
    }

    #[cfg(feature = "std")]
    fn epoch(&self) -> Option<std::time::Instant> {
        TimerDriver::epoch(self)
    }

    fn clone_box(&self) -> alloc::boxed::Box<dyn Clock> {
        alloc::boxed::Box::new(self.clone())
    }
}

/// A tree's clock is a driver whose instants are its ticks, so the generic
/// deadline code serves the forms that name no driver.
impl TimerDriver for dyn Clock {
    type Instant = u64;

    fn now(&self) -> u64 {
        self.now_ticks()
    }

    fn ticks_at(&self, at: u64) -> u64 {
        at
    }

    fn instant_at(&self, ticks: u64) -> u64 {
        ticks
    }

    fn duration_ticks(&self, d: Duration) -> u64 {
        Clock::duration_ticks(self, d)
    }

    fn ticks_duration(&self, ticks: u64) -> Duration {
        Clock::ticks_duration(self, ticks)
    }

    #[cfg(feature = "std")]
    fn epoch(&self) -> Option<std::time::Instant> {
        Clock::epoch(self)
    }

    fn timers(&self) -> TimersHandle<'_> {
        Clock::timers(self)
    }

    fn wake_at(&self, tick: u64) -> Result<(), DriverStopped> {
        Clock::wake_at(self, tick).map_err(|()| DriverStopped)
    }
}
