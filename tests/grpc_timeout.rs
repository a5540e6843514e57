//! The `grpc-timeout` codec: the spec's form, its edge cases, round trips.

use std::time::Duration;

use cancel_token::grpc_timeout::{decode, encode, GrpcTimeoutError as E};

#[test]
fn decodes_every_unit() {
    let cases: [(&[u8], Duration); 8] = [
        (b"1H", Duration::from_secs(3600)),
        (b"2M", Duration::from_secs(120)),
        (b"3S", Duration::from_secs(3)),
        (b"4m", Duration::from_millis(4)),
        (b"5u", Duration::from_micros(5)),
        (b"6n", Duration::from_nanos(6)),
        (b"99999999H", Duration::from_secs(99_999_999 * 3600)),
        (b"00000001S", Duration::from_secs(1)),
    ];
    for (value, d) in cases {
        assert_eq!(decode(value), Ok(d), "{:?}", String::from_utf8_lossy(value));
    }
}

#[test]
fn zero_is_a_deadline_already_spent_and_spaces_around_are_stripped() {
    assert_eq!(decode(b"0n"), Ok(Duration::ZERO));
    assert_eq!(decode(b"0H"), Ok(Duration::ZERO));
    assert_eq!(decode(b" 10S\t"), Ok(Duration::from_secs(10)));
}

#[test]
fn malformed_values_say_what_is_wrong() {
    let cases: [(&[u8], E); 16] = [
        (b"", E::Empty),
        (b"  ", E::Empty),
        (b"S", E::NoDigits),
        (b"1", E::MissingUnit),
        (b"123456789S", E::TooManyDigits),
        (b"100000000000000000000000H", E::TooManyDigits),
        (b"1h", E::UnknownUnit(b'h')),
        (b"1s", E::UnknownUnit(b's')),
        (b"1U", E::UnknownUnit(b'U')),
        (b"1N", E::UnknownUnit(b'N')),
        (b"1ms", E::NotADigit(b'm')),
        (b"-1S", E::NotADigit(b'-')),
        (b"+1S", E::NotADigit(b'+')),
        (b"1 S", E::NotADigit(b' ')),
        (b"1.5S", E::NotADigit(b'.')),
        // "µ" is two bytes, 0xc2 0xb5: the first is where a digit belongs.
        ("1\u{b5}".as_bytes(), E::NotADigit(0xc2)),
    ];
    for (value, err) in cases {
        assert_eq!(
            decode(value),
            Err(err),
            "{:?}",
            String::from_utf8_lossy(value)
        );
        assert!(err.to_string().starts_with("malformed grpc-timeout: "));
    }
}

#[test]
fn encodes_in_the_finest_unit_that_fits_in_8_digits() {
    let cases = [
        (Duration::ZERO, "0n"),
        (Duration::from_nanos(99_999_999), "99999999n"),
        (Duration::from_nanos(100_000_000), "100000u"),
        (Duration::new(99, 999_999_999), "99999999u"),
        (Duration::from_secs(100), "100000m"),
        (Duration::new(99_999, 999_999_999), "99999999m"),
        (Duration::from_secs(100_000), "100000S"),
        (Duration::from_secs(99_999_999), "99999999S"),
        (Duration::from_secs(100_000_000), "1666666M"),
        (Duration::from_secs(99_999_999 * 60 + 59), "99999999M"),
        (Duration::from_secs(100_000_000 * 60), "1666666H"),
        (Duration::from_secs(99_999_999 * 3600), "99999999H"),
        (Duration::MAX, "99999999H"),
    ];
    for (d, text) in cases {
        let value = encode(d);
        assert_eq!(value.as_str(), text, "{d:?}");
        assert_eq!(value.as_bytes(), text.as_bytes());
        assert_eq!(value.to_string(), text);
    }
}

/// Truncating never gives a callee more time than its caller has, and loses
/// less than one unit of the one chosen.
#[test]
fn round_trips_never_gain_time_and_lose_under_one_unit() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let n = if cfg!(miri) { 200 } else { 100_000 };
    for i in 0..n {
        // Spread over every unit: up to 2^(i % 64) nanoseconds.
        let bits = i % 64;
        let ns = if bits == 0 { 0 } else { next() >> (64 - bits) };
        let d = Duration::from_nanos(ns);
        let value = encode(d);
        assert!(value.as_bytes().len() <= 9);
        let back = decode(value.as_bytes()).unwrap();
        assert!(back <= d, "{d:?} -> {value} -> {back:?}");
        let unit = match value.as_bytes().last().unwrap() {
            b'n' => Duration::from_nanos(1),
            b'u' => Duration::from_micros(1),
            b'm' => Duration::from_millis(1),
            b'S' => Duration::from_secs(1),
            b'M' => Duration::from_secs(60),
            _ => Duration::from_secs(3600),
        };
        assert!(d - back < unit, "{d:?} -> {value} -> {back:?}");
    }
}
