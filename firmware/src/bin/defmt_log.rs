//! Logging with defmt over semihosting (defmt-semihosting): the library's
//! types through their `defmt::Format` (the `defmt` feature), decoded on the
//! host by `defmt-print`; `scripts/qemu-test.sh` checks the decoded lines
//! named below, and this firmware's `ok:` line comes through defmt too.
//!
//! A `static` root, a pinned child with a pinned linked source under it and
//! the root, and a 20-tick `PinnedDeadline` on a `TickDriver` advanced here in
//! thread mode: each is logged live, after the deadline fires, and after the
//! root is cancelled.
//!
//! qemu-test: defmt
//! qemu-test: features = defmt
//! qemu-test: expect = root: StaticSource { reason: None }
//! qemu-test: expect = token: CancelToken { reason: None, deadline: None }
//! qemu-test: expect = job: TokenRef { reason: None, deadline: Some(Deadline { ticks: 20 }) }
//! qemu-test: expect = job: TokenRef { reason: Some(DeadlineExceeded), deadline: Some(Deadline { ticks: 20 }) }
//! qemu-test: expect = deadline: PinnedDeadline { reason: Some(DeadlineExceeded) }
//! qemu-test: expect = child: PinnedChild { reason: None }
//! qemu-test: expect = linked: PinnedLinked { parents: 2, reason: None }
//! qemu-test: expect = reason: Cancelled, DeadlineExceeded
//! qemu-test: expect = stopped: DriverStopped
//! qemu-test: expect = child: PinnedChild { reason: Some(Cancelled) }
//! qemu-test: expect = linked: PinnedLinked { parents: 2, reason: Some(Cancelled) }
//! qemu-test: expect = root: StaticSource { reason: Some(Cancelled) }
#![no_std]
#![no_main]

use core::pin::pin;

use cancel_token::{
    DriverStopped, PinnedChild, PinnedDeadline, PinnedLinked, Reason, StaticSource, TickDriver,
};
use defmt_semihosting as _; // the global logger
use harness::entry;

static ROOT: StaticSource = StaticSource::new();
static TICKS: TickDriver = TickDriver::new();

#[entry]
fn main() -> ! {
    defmt::println!("root: {}", ROOT);
    defmt::println!("token: {}", ROOT.token());

    let deadline = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 20));
    let deadline = deadline.into_ref();
    let job = deadline.token(); // arms it
    defmt::println!("job: {}", job);
    TICKS.advance_by(20);
    defmt::println!("job: {}", job);
    defmt::println!("deadline: {}", *deadline);

    let child = pin!(PinnedChild::new(ROOT.token_ref()));
    let child = child.into_ref();
    let linked = pin!(PinnedLinked::new([child.token(), ROOT.token_ref()]));
    let linked = linked.into_ref();
    let _ = linked.token(); // links it
    defmt::println!("child: {}", *child);
    defmt::println!("linked: {}", *linked);
    defmt::println!("reason: {}, {}", Reason::Cancelled, Reason::DeadlineExceeded);
    defmt::println!("stopped: {}", DriverStopped);

    ROOT.cancel();
    defmt::println!("child: {}", *child);
    defmt::println!("linked: {}", *linked);
    defmt::println!("root: {}", ROOT);

    let ok = child.token().reason() == Some(Reason::Cancelled)
        && job.reason() == Some(Reason::DeadlineExceeded)
        && TICKS.pending() == 0;
    if ok {
        defmt::println!("ok: {=str} defmt: 12 lines logged ({=str} on {=str})", harness::core_name(), harness::TARGET, harness::MACHINE);
    } else {
        defmt::println!("FAIL: {=str} defmt: wrong reasons", harness::core_name());
    }
    harness::exit(ok)
}
