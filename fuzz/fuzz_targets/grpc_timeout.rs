//! `grpc_timeout::decode` against a model written from the spec's grammar,
//! and `encode` round trips: any bytes decode as the model says, and every
//! decoded duration encodes to a value that decodes to no more than it, less
//! than one unit below.
#![no_main]

use std::time::Duration;

use cancel_token::grpc_timeout::{decode, encode};
use libfuzzer_sys::fuzz_target;

/// The spec's `TimeoutValue TimeoutUnit`, with spaces and tabs around
/// stripped: `Some(duration)` if well formed.
fn model(value: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?;
    let text = text.trim_matches(|c| c == ' ' || c == '\t');
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u128 = digits.parse().ok()?;
    let nanos_per = match unit {
        'H' => 3_600_000_000_000,
        'M' => 60_000_000_000,
        'S' => 1_000_000_000,
        'm' => 1_000_000,
        'u' => 1_000,
        'n' => 1,
        _ => return None,
    };
    let nanos = n * nanos_per;
    Some(Duration::new(
        (nanos / 1_000_000_000) as u64,
        (nanos % 1_000_000_000) as u32,
    ))
}

fuzz_target!(|data: &[u8]| {
    let decoded = decode(data);
    // A value that is not UTF-8 is malformed for the model; for `decode`,
    // whose input is bytes, too.
    assert_eq!(decoded.ok(), model(data), "{data:?} -> {decoded:?}");
    // Any duration the bytes make, as seconds and nanoseconds.
    if data.len() >= 12 {
        let secs = u64::from_le_bytes(data[..8].try_into().unwrap());
        let nanos = u32::from_le_bytes(data[8..12].try_into().unwrap()) % 1_000_000_000;
        let d = Duration::new(secs, nanos);
        let value = encode(d);
        let back = decode(value.as_bytes()).expect("encode writes a valid value");
        assert!(back <= d, "{d:?} -> {value} -> {back:?}");
        let unit = model(&[b'1', value.as_bytes()[value.as_bytes().len() - 1]]).unwrap();
        // Durations of 99 999 999 hours and more are all written as that.
        let capped = d.min(Duration::from_secs(99_999_999 * 3600));
        assert!(capped - back < unit, "{d:?} -> {value} -> {back:?}");
    }
});
