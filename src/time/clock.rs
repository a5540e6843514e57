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

#[cfg(test)]
#[cfg(feature = "std")]
mod tests {
    use super::*;
    use crate::wheel::timers::Timers;

    static TIMERS: Timers = Timers::new();

    /// A driver counting microseconds from `epoch`, at tick 40, that has
    /// stopped.
    #[derive(Clone)]
    struct Stopped {
        epoch: std::time::Instant,
    }

    impl TimerDriver for Stopped {
        type Instant = u64;
        fn now(&self) -> u64 {
            40
        }
        fn ticks_at(&self, at: u64) -> u64 {
            at
        }
        fn instant_at(&self, ticks: u64) -> u64 {
            ticks
        }
        fn duration_ticks(&self, d: Duration) -> u64 {
            d.as_micros() as u64
        }
        fn ticks_duration(&self, ticks: u64) -> Duration {
            Duration::from_micros(ticks)
        }
        fn epoch(&self) -> Option<std::time::Instant> {
            Some(self.epoch)
        }
        fn timers(&self) -> TimersHandle<'_> {
            TimersHandle::from_static(&TIMERS)
        }
        fn wake_at(&self, _tick: u64) -> Result<(), DriverStopped> {
            Err(DriverStopped)
        }
    }

    /// A tree's clock is its driver counted in ticks: each method of the
    /// `dyn Clock` driver gives what the driver's does.
    #[test]
    fn a_tree_clock_is_its_driver_in_ticks() {
        let epoch = std::time::Instant::now();
        let driver = Stopped { epoch };
        let clock: &dyn Clock = &driver;
        assert_eq!(TimerDriver::now(clock), 40);
        assert_eq!(TimerDriver::ticks_at(clock, 9), 9);
        assert_eq!(TimerDriver::instant_at(clock, 7), 7);
        assert_eq!(
            TimerDriver::duration_ticks(clock, Duration::from_micros(5)),
            5
        );
        assert_eq!(
            TimerDriver::ticks_duration(clock, 42),
            Duration::from_micros(42)
        );
        assert_eq!(TimerDriver::epoch(clock), Some(epoch));
        assert!(core::ptr::eq(TimerDriver::timers(clock).get(), &TIMERS));
        assert_eq!(TimerDriver::wake_at(clock, 3), Err(DriverStopped));
    }
}
