//! Functions whose release assembly `scripts/asm-probe.sh` checks: each
//! `is_cancelled` must be one load, with no loop, read-modify-write or lock.

use cancel_token::{CancelSource, CancelToken, TokenRef};

/// Through an owned token: one load of the node pointer, one of the state.
#[no_mangle]
#[inline(never)]
pub fn cancel_token_probe_token(token: &CancelToken) -> bool {
    token.is_cancelled()
}

/// Through a borrowed token: the node pointer is the argument.
#[no_mangle]
#[inline(never)]
pub fn cancel_token_probe_token_ref(token: TokenRef<'_>) -> bool {
    token.is_cancelled()
}

fn main() {
    let source = CancelSource::new();
    let token = std::hint::black_box(source.token());
    let live =
        cancel_token_probe_token(&token) || cancel_token_probe_token_ref(token.as_token_ref());
    source.cancel();
    let cancelled =
        cancel_token_probe_token(&token) && cancel_token_probe_token_ref(token.as_token_ref());
    println!("live: {live}, cancelled: {cancelled}");
    assert!(!live && cancelled);
}
