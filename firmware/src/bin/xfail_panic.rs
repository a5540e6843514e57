//! Harness self-test, expected to FAIL: a panic must print `FAIL:` and exit
//! QEMU with a failure status (not hang), or CI could never see a failing
//! test. scripts/qemu-test.sh inverts the verdict for `xfail_*` binaries.
#![no_std]
#![no_main]

use harness::entry;

#[entry]
fn main() -> ! {
    let v = core::hint::black_box(3);
    harness::check!(v == 3);
    if v == 3 {
        panic!("deliberate panic, v = {}", v);
    }
    harness::pass(format_args!("xfail_panic: did not panic"))
}
