//! The no-allocator tier: sources and callbacks stored in place.
//!
//! A [`StaticSource`](static_source::StaticSource) is a root in a `static`;
//! the `Pinned*` types are children, linked sources and callbacks pinned in a
//! stack frame, a task or a `static` cell. This layer may use `handle` (for
//! [`TokenRef`](crate::TokenRef)), `driver`, `time`, `node`, `util` and `sync`.

pub(crate) mod child;
pub(crate) mod linked;
pub(crate) mod on_cancel;
pub(crate) mod static_source;
