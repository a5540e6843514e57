//! embassy-executor (the Cortex-M thread executor) and embassy-time on the
//! core, with deadlines on `EmbassyDriver` and no allocator.
//!
//! A `static` tree: `ROOT` (a `StaticSource`) with two `static` pinned
//! children, `NET` and `SENSORS`. Tasks, each checking its reason:
//!
//! - three `net` workers, each with a pinned child of `NET`, loop making a
//!   pinned grandchild, registering its waiter and dropping it when a timer
//!   wins, and polling their own waiter once and dropping it; PendSV, pended
//!   from the SysTick handler at tick 40, cancels `NET` while they do. Each
//!   ends with `Cancelled`, `SENSORS` and `ROOT` stay live;
//! - two `sensor` tasks await a pinned grandchild of a `PinnedDeadline` on
//!   `EmbassyDriver` (15 and 25 ms): `DeadlineExceeded`, not before the
//!   deadline's tick; then `run_until_cancelled` of a 5 s timer under a
//!   10 ms deadline gives `Err(DeadlineExceeded)`, and a 10 s deadline
//!   cancelled early leaves the driver at once;
//! - a `root` task awaits `ROOT`, which main cancels last: it and `SENSORS`
//!   report `Cancelled`, `NET` keeps its own, and no deadline is left armed.
//!
//! The time driver is `harness::SysTickTime` (SysTick at 1 kHz).
#![no_std]
#![no_main]

use core::pin::{pin, Pin};
use core::time::Duration;

use cancel_token::{EmbassyDriver, PinnedChild, PinnedDeadline, Reason, StaticSource};
use cortex_m::peripheral::SCB;
use embassy_executor::Spawner;
use embassy_futures::select::{select, Either};
use embassy_futures::yield_now;
use embassy_time::{Instant, Timer};
use harness::atomic::{AtomicU32, AtomicUsize, Ordering};
use harness::{check, exception, SysTickTime};

embassy_time_driver::time_driver_impl!(static TIME: SysTickTime = SysTickTime::new());

static DEADLINES: EmbassyDriver = EmbassyDriver::new();
static ROOT: StaticSource = StaticSource::new();
static NET: PinnedChild<'static> = PinnedChild::new(ROOT.token_ref());
static SENSORS: PinnedChild<'static> = PinnedChild::new(ROOT.token_ref());

/// The tick at which PendSV cancels `NET`.
const CANCEL_AT: u64 = 40;
const NET_WORKERS: usize = 3;
const SENSOR_TASKS: usize = 2;

/// Tick at which `NET` was cancelled (0: not yet).
static NET_CANCELLED_AT: AtomicU32 = AtomicU32::new(0);
/// Tasks that finished their checks, by kind.
static NET_DONE: AtomicUsize = AtomicUsize::new(0);
static SENSORS_DONE: AtomicUsize = AtomicUsize::new(0);
static ROOT_DONE: AtomicUsize = AtomicUsize::new(0);
/// Waiters the net workers registered and dropped before the cancel.
static ROUNDS: AtomicUsize = AtomicUsize::new(0);

#[exception]
fn SysTick() {
    TIME.on_tick();
    if Instant::now().as_ticks() == CANCEL_AT {
        SCB::set_pendsv(); // runs as SysTick returns
    }
}

#[exception]
fn PendSV() {
    Pin::static_ref(&NET).cancel();
    NET_CANCELLED_AT.store(Instant::now().as_ticks() as u32, Ordering::Relaxed);
}

#[embassy_executor::task]
async fn deadlines() -> ! {
    DEADLINES.run().await
}

#[embassy_executor::task(pool_size = NET_WORKERS)]
async fn net(id: u64) {
    let net = Pin::static_ref(&NET);
    let mine = pin!(PinnedChild::new(net.token()));
    let mine = mine.into_ref();
    let mut rounds = 0;
    let reason = loop {
        let step = pin!(PinnedChild::new(mine.token()));
        let step = step.into_ref();
        match select(step.token().cancelled(), Timer::after_ticks(1 + id)).await {
            Either::First(reason) => break reason,
            Either::Second(()) => rounds += 1, // the waiter is dropped here
        }
        if let Either::First(reason) = select(mine.token().cancelled(), yield_now()).await {
            break reason;
        }
    };
    let at = NET_CANCELLED_AT.load(Ordering::Relaxed);
    check!(reason == Reason::Cancelled, "net {} woke with {:?}", id, reason);
    check!(u64::from(at) == CANCEL_AT, "net {} woke at tick {}", id, at);
    check!(mine.token().reason() == Some(Reason::Cancelled));
    check!(rounds > 0, "net {} registered no waiter before the cancel", id);
    check!(!ROOT.is_cancelled() && !Pin::static_ref(&SENSORS).is_cancelled());
    ROUNDS.fetch_add(rounds, Ordering::Relaxed);
    NET_DONE.fetch_add(1, Ordering::Release);
}

#[embassy_executor::task(pool_size = SENSOR_TASKS)]
async fn sensor(id: u64) {
    let sensors = Pin::static_ref(&SENSORS);
    let ms = 15 + 10 * id;

    // A deadline awaited through a pinned grandchild.
    let start = Instant::now();
    let job = pin!(PinnedDeadline::with_timeout(
        sensors.token(),
        &DEADLINES,
        Duration::from_millis(ms)
    ));
    let job = job.into_ref();
    let step = pin!(PinnedChild::new(job.token())); // arms the deadline
    let step = step.into_ref();
    check!(DEADLINES.pending() >= 1);
    let reason = step.token().cancelled().await;
    let took = Instant::now().as_ticks() - start.as_ticks();
    check!(reason == Reason::DeadlineExceeded, "sensor {} woke with {:?}", id, reason);
    check!(took >= ms, "sensor {}: {} ms deadline fired after {} ticks", id, ms, took);
    check!(job.token().reason() == Some(Reason::DeadlineExceeded));
    check!(!sensors.is_cancelled());

    // Work that outlives its deadline.
    let call = pin!(PinnedDeadline::with_timeout(
        sensors.token(),
        &DEADLINES,
        Duration::from_millis(10)
    ));
    let call = call.into_ref();
    let out = call.token().run_until_cancelled(Timer::after_secs(5)).await;
    check!(out == Err(Reason::DeadlineExceeded), "sensor {}: {:?}", id, out);

    // A deadline cancelled early leaves the driver at once.
    let long = pin!(PinnedDeadline::with_timeout(
        sensors.token(),
        &DEADLINES,
        Duration::from_secs(10)
    ));
    let long = long.into_ref();
    check!(!long.is_cancelled()); // armed
    let armed = DEADLINES.pending();
    long.cancel();
    check!(DEADLINES.pending() == armed - 1, "cancel left {} armed", DEADLINES.pending());
    check!(long.token().reason() == Some(Reason::Cancelled));
    SENSORS_DONE.fetch_add(1, Ordering::Release);
}

#[embassy_executor::task]
async fn root() {
    let reason = ROOT.token_ref().cancelled().await;
    check!(reason == Reason::Cancelled);
    ROOT_DONE.fetch_add(1, Ordering::Release);
}

/// Sleeps until `done` reaches `n`; fails past `ticks`.
async fn until(what: &str, done: &AtomicUsize, n: usize, ticks: u64) {
    let give_up = Instant::now().as_ticks() + ticks;
    while done.load(Ordering::Acquire) < n {
        check!(Instant::now().as_ticks() < give_up, "{}: {} of {} done", what, done.load(Ordering::Relaxed), n);
        Timer::after_ticks(1).await;
    }
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    TIME.start(cortex_m::Peripherals::take().unwrap().SYST);
    spawner.spawn(deadlines().unwrap());
    for id in 0..NET_WORKERS as u64 {
        spawner.spawn(net(id).unwrap());
    }
    for id in 0..SENSOR_TASKS as u64 {
        spawner.spawn(sensor(id).unwrap());
    }
    spawner.spawn(root().unwrap());

    until("net", &NET_DONE, NET_WORKERS, 500).await;
    until("sensors", &SENSORS_DONE, SENSOR_TASKS, 500).await;
    check!(!ROOT.is_cancelled());
    check!(Pin::static_ref(&SENSORS).token().reason().is_none());

    ROOT.cancel();
    until("root", &ROOT_DONE, 1, 10).await;
    check!(Pin::static_ref(&SENSORS).token().reason() == Some(Reason::Cancelled));
    check!(Pin::static_ref(&NET).token().reason() == Some(Reason::Cancelled));
    check!(DEADLINES.pending() == 0, "{} deadlines left armed", DEADLINES.pending());
    harness::pass(format_args!(
        "embassy: {} net workers cancelled by PendSV at tick {} after {} dropped waiters, {} sensors past their deadlines, root cancelled at tick {}",
        NET_WORKERS,
        NET_CANCELLED_AT.load(Ordering::Relaxed),
        ROUNDS.load(Ordering::Relaxed),
        SENSOR_TASKS,
        Instant::now().as_ticks()
    ))
}
