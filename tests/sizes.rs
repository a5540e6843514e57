//! Static size budgets (64-bit targets).

#[cfg(target_pointer_width = "64")]
#[test]
fn node_and_future_fit_a_cache_line() {
    use core::mem::size_of;
    let node = cancel_token::__private::NODE_SIZE;
    let fut = size_of::<cancel_token::Cancelled<'_>>();
    assert!(node <= 64, "node: {node} bytes");
    assert!(fut <= 64, "Cancelled: {fut} bytes");
    assert_eq!(size_of::<cancel_token::CancelToken>(), 8);
    assert_eq!(size_of::<Option<cancel_token::CancelToken>>(), 8);
}

/// A source is one pointer, like a token: it is returned in a register, and a
/// linked source's registrations live beside its node.
#[cfg(all(target_pointer_width = "64", feature = "alloc"))]
#[test]
fn a_source_is_one_pointer() {
    use core::mem::size_of;
    assert_eq!(size_of::<cancel_token::CancelSource>(), 8);
    assert_eq!(size_of::<Option<cancel_token::CancelSource>>(), 8);
}

/// A child below a deadline names the node whose deadline it inherits: one
/// pointer more than a plain node.
#[cfg(all(target_pointer_width = "64", feature = "alloc"))]
#[test]
fn a_child_below_a_deadline_is_one_pointer_larger() {
    let plain = cancel_token::__private::NODE_SIZE;
    let scoped = cancel_token::__private::SCOPED_NODE_SIZE;
    assert_eq!(scoped, plain + 8);
}

/// A node with a deadline of its own is a plain node, its wheel entry (two
/// links and the tick) and one word naming its timers and its tree's clock
/// root; a clock root adds its driver and its clock's timers.
#[cfg(all(target_pointer_width = "64", feature = "alloc"))]
#[test]
fn a_node_with_a_deadline_is_96_bytes() {
    let timed = cancel_token::__private::TIMED_NODE_SIZE;
    let clock = cancel_token::__private::CLOCK_NODE_SIZE;
    std::println!("timed node: {timed} bytes, clock root: {clock} bytes");
    assert_eq!(timed, 96, "timed node");
    assert_eq!(clock, 136, "clock root");
}
