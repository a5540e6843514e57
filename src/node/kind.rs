//! The shapes of a node: what a node is the head of, and the only code that
//! dispatches on it.
//!
//! Every node starts with a `Node`. Some are the first field of a larger
//! `#[repr(C)]` struct, told apart by the shape half of their class byte:
//! a [`TimedNode`] (with a deadline), a [`ScopedNode`] (a heap child below a
//! deadline, naming it) and a [`LinkedNode`] (a linked source, with its
//! registrations). What the engine does by shape is here: freeing a box,
//! disarming a timed node as it is cancelled, and taking an unobserved one
//! out of its timers as it is freed. The rest of `node` only asks a node its
//! shape (`Node::is_timed` and the like).

use core::ptr::NonNull;

#[cfg(feature = "alloc")]
use crate::node::callback::{self, Callback, Fire};
#[cfg(feature = "alloc")]
use crate::node::state::State;
use crate::node::Node;
#[cfg(feature = "alloc")]
use crate::sync::UnsafeCell;
#[cfg(feature = "alloc")]
use crate::wheel::clock::Clock;
#[cfg(feature = "alloc")]
use crate::wheel::timers::TimersHandle;
use crate::wheel::timers::{Timers, TimersId};
use crate::wheel::WheelEntry;
use crate::Cause;
#[cfg(feature = "alloc")]
use crate::Reason;

/// How a node's memory is owned: the low two bits of its class byte (bit 2
/// marks foreign timers, bit 3 a clock root).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Ownership {
    /// In a `static`: never freed, not counted. Zero, so a `StaticSource` is
    /// all zeros and goes in `.bss` rather than `.data`.
    Static = 0,
    /// A box (of the node's shape), freed when its count reaches zero.
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    Heap = 1,
    /// The `static` behind `CancelToken::never`: never cancelled either.
    Never = 2,
    /// Pinned by its owner, who waits for the borrow count to reach zero.
    Pinned = 3,
}

/// What a node is the head of: bits 4 to 6 of its class byte (bit 7 marks an
/// expiry cause).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Shape {
    /// A bare `Node`.
    Plain = 0,
    /// A [`TimedNode`]: a node with a deadline.
    Timed = 0x10,
    /// A [`LinkedNode`]: a linked source, cancelled when any of its parents is.
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    AnyOf = 0x20,
    /// A [`ScopedNode`]: a heap child without a deadline of its own below one
    /// that has one, which it names.
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    Scoped = 0x40,
}

/// A node's ownership and shape in one byte, kept in its own entry's `class`:
/// fixed at construction, so reading it needs no atomic. Bits 0 and 1 are
/// its `Ownership`, 4 to 6 its `Shape`; the flags: bit 2 marks a timed node
/// on other timers than its tree's clock (see [`Home`]), bit 3 a clock root,
/// and the top bit a timed node that keeps a cause for its expiry (see
/// [`TimedNode::set_expiry_cause`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Class(u8);

/// The bit of a class byte for a timed node made with a cause for its expiry.
const EXPIRY_CAUSE: u8 = 0x80;
/// The bit of a class byte for a timed node that is a clock root
/// ([`ClockNode`]).
#[cfg(feature = "alloc")]
const CLOCK_ROOT: u8 = 0x08;
/// The bit of a class byte for a timed node whose timers are not its clock
/// root's, in a tree that has one (see [`Home`]).
const FOREIGN_TIMERS: u8 = 0x04;
/// The bits of a class byte that hold its `Ownership`.
const OWNERSHIP_BITS: u8 = 0x03;
/// The bits of a class byte that hold its `Shape`.
const SHAPE_BITS: u8 = 0x70;

impl Class {
    /// A bare node, owned as `ownership`.
    pub(crate) const fn plain(ownership: Ownership) -> Class {
        Class::new(ownership, Shape::Plain)
    }

    pub(crate) const fn new(ownership: Ownership, shape: Shape) -> Class {
        Class(ownership as u8 | shape as u8)
    }

    /// The byte kept in the entry.
    pub(crate) const fn byte(self) -> u8 {
        self.0
    }

    /// The class whose byte is `byte`, as [`byte`](Self::byte) made it.
    pub(crate) const fn from_byte(byte: u8) -> Class {
        Class(byte)
    }

    /// The low two bits. A read of the byte and a mask: on every child's drop.
    #[inline(always)]
    pub(crate) fn ownership(self) -> Ownership {
        let bits = self.0 & OWNERSHIP_BITS;
        debug_assert!(bits <= Ownership::Pinned as u8, "class {:#04x}", self.0);
        // SAFETY: a class byte is made only by `Class::new` (or read back by
        // `from_byte` from what `byte` gave), from an `Ownership` in the low
        // two bits and a `Shape` in bits 4 to 6, plus the flag bits 2, 3 and 7
        // (`FOREIGN_TIMERS`, `CLOCK_ROOT`, `EXPIRY_CAUSE`): the low two bits
        // are a discriminant.
        unsafe { core::mem::transmute::<u8, Ownership>(bits) }
    }

    /// Whether the node is the head of `shape`, one other than `Plain`: a bit
    /// test, as each such shape is one bit of the high half.
    #[inline(always)]
    pub(crate) fn is(self, shape: Shape) -> bool {
        debug_assert!(shape != Shape::Plain);
        self.0 & shape as u8 != 0
    }

    /// Bits 4 to 6. A read of the byte and a mask: on every child's drop.
    #[inline(always)]
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))] // only boxes need it
    pub(crate) fn shape(self) -> Shape {
        let bits = self.0 & SHAPE_BITS;
        debug_assert!(
            matches!(bits, 0 | 0x10 | 0x20 | 0x40),
            "class {:#04x}",
            self.0
        );
        // SAFETY: as in `ownership`: the high half less the expiry-cause bit
        // is a `Shape` discriminant.
        unsafe { core::mem::transmute::<u8, Shape>(bits) }
    }

    /// Whether the node is a timed one whose slot holds the cause of its
    /// expiry while it is live.
    pub(crate) fn has_expiry_cause(self) -> bool {
        self.0 & EXPIRY_CAUSE != 0
    }

    /// Whether the node is a clock root: a [`ClockNode`].
    #[cfg(feature = "alloc")]
    pub(crate) fn is_clock_root(self) -> bool {
        self.0 & CLOCK_ROOT != 0
    }

    /// Whether the node is a timed one whose timers are not its tree's
    /// clock root's (see [`Home`]).
    fn has_foreign_timers(self) -> bool {
        self.0 & FOREIGN_TIMERS != 0
    }
}

// ---- timed nodes -------------------------------------------------------------

/// A node with a deadline. `#[repr(C)]` with the node first, so a node pointer
/// of a timed node is also a pointer to this (`Shape::Timed` says so).
///
/// 96 bytes on 64-bit targets: the node (64), its wheel entry (24: two links
/// and the tick) and one word, [`Home`], that names both its timers and its
/// tree's clock root. A shared timers' generation, which a `Deadline` needs
/// to tell them from later timers at the same address, is kept in the
/// padding of the node's own list entry (`list::Entry::generation`); 32-bit
/// targets, whose entry has no padding, keep it here (`generation`): 56
/// bytes there.
///
/// `extra` is its owner's, last, so every `TimedNode<X>` starts as a
/// `TimedNode` (`X = ()`) and is used through one: a `PinnedDeadline` keeps
/// its driver there, in what would be the trailing padding on 32-bit targets.
/// It is written only as the node is made.
#[repr(C)]
pub(crate) struct TimedNode<X = ()> {
    pub(crate) node: Node,
    /// Its link in its timers' wheel, and the deadline's tick (`u64::MAX`
    /// for a clock root's, which never fires); fixed.
    entry: WheelEntry,
    /// Its timers and its clock root; fixed (a clock root's is written once
    /// after it is boxed, before it is shared).
    home: Home,
    /// The generation of its timers, if shared (see `list::Entry::generation`).
    #[cfg(all(feature = "alloc", not(target_pointer_width = "64")))]
    generation: u32,
    pub(crate) extra: X,
}

/// A timed node's timers and the clock root of its tree, in one word: a
/// pointer whose low bit (both pointees are at least 2-aligned) says what it
/// points to. The timers are static, or shared and held by the node from
/// its arming until it is disarmed (by its cancel) or taken out (by its
/// unobserved drop), and not followed after; the clock root is alive while
/// the node is, as an ancestor (or the node itself).
///
/// - `TIMERS` (0, so the pointer is used as it is): the node's timers. In a
///   tree with no clock root, the common case of a deadline on a named
///   driver (`child_with_timeout_on`), the node has no clock. If its class
///   has `FOREIGN_TIMERS` (a deadline on another driver than its tree's
///   clock), the clock root is its parent's ([`clock_root`]: one step more
///   per such node passed).
/// - `ON_CLOCK`: the clock root, whose timers the node's are
///   (`ClockExtra::timers`): every deadline that names no driver, and a
///   named one on the tree's own clock; and a clock root, naming itself.
#[derive(Clone, Copy)]
struct Home(NonNull<u8>);

const _: () = assert!(
    core::mem::align_of::<Timers>() >= 2 && core::mem::align_of::<Node>() >= 2,
    "the low bit of a `Home` is its tag"
);

impl Home {
    /// The node's own timers.
    const TIMERS: usize = 0;
    /// The clock root, whose timers are the node's.
    #[cfg(feature = "alloc")]
    const ON_CLOCK: usize = 1;
    /// The bits of the tag.
    const TAG: usize = 1;

    /// `ptr` tagged `tag`.
    fn new<T>(ptr: NonNull<T>, tag: usize) -> Home {
        // SAFETY: a non-null pointer that is at least 2-aligned, plus less
        // than 2, is not null; `wrapping_add` keeps its provenance.
        Home(unsafe { NonNull::new_unchecked(ptr.as_ptr().cast::<u8>().wrapping_add(tag)) })
    }

    /// What the pointer points to.
    #[inline(always)]
    fn tag(self) -> usize {
        self.0.as_ptr() as usize & Self::TAG
    }

    /// The pointer `new` was given, with its provenance.
    #[inline(always)]
    fn ptr<T>(self) -> NonNull<T> {
        // SAFETY: `new` added the tag to a non-null pointer.
        unsafe { NonNull::new_unchecked(self.0.as_ptr().wrapping_sub(self.tag()).cast()) }
    }
}

impl TimedNode {
    /// [`with_extra`](TimedNode::with_extra), with nothing extra.
    ///
    /// # Safety
    /// As for `with_extra`.
    #[cfg(feature = "alloc")]
    #[inline(always)] // on every timed child's creation: builds the node in place
    pub(crate) unsafe fn new(
        ownership: Ownership,
        refs: usize,
        at: u64,
        timers: TimersHandle<'_>,
        clock: Option<NonNull<Node>>,
    ) -> Self {
        // SAFETY: by the caller's guarantee.
        unsafe { TimedNode::with_extra(ownership, refs, at, timers.id(), clock, ()) }
    }
}

impl<X> TimedNode<X> {
    /// A timed node due at `at` on `timers`, below a parent whose tree's
    /// clock root is `clock` ([`clock_root`] of the parent).
    ///
    /// # Safety
    /// `clock` is a live clock root, alive as long as the node (the clock
    /// root of the parent the node is made under, which outlives it).
    #[inline(always)]
    pub(crate) unsafe fn with_extra(
        ownership: Ownership,
        refs: usize,
        at: u64,
        timers: TimersId,
        clock: Option<NonNull<Node>>,
        extra: X,
    ) -> Self {
        let mut class = Class::new(ownership, Shape::Timed);
        let ptr = timers.ptr;
        let home = match clock {
            None => Home::new(ptr, Home::TIMERS),
            // Compared by address alone: the clock root's timers and these
            // are both alive, so the same address is the same timers.
            // SAFETY: a live clock root, by the caller's guarantee.
            #[cfg(feature = "alloc")]
            Some(root) if unsafe { root_timers(root) }.ptr == ptr => {
                Home::new(root, Home::ON_CLOCK)
            }
            Some(_) => {
                class.0 |= FOREIGN_TIMERS;
                Home::new(ptr, Home::TIMERS)
            }
        };
        #[cfg_attr(
            not(all(feature = "alloc", target_pointer_width = "64")),
            allow(unused_mut)
        )]
        let mut node = Node::new(class, refs);
        // Kept for every node, read only for those not on their clock's timers.
        #[cfg(all(feature = "alloc", target_pointer_width = "64"))]
        {
            node.entry.generation = timers.generation();
        }
        TimedNode {
            node,
            entry: WheelEntry::new(at),
            home,
            #[cfg(all(feature = "alloc", not(target_pointer_width = "64")))]
            generation: timers.generation(),
            extra,
        }
    }

    /// The deadline's tick; `u64::MAX` for a clock root's (never).
    #[inline(always)]
    pub(crate) fn at(&self) -> u64 {
        self.entry.when()
    }

    /// Gives the node, not yet shared, `cause` for its expiry: its slot holds
    /// it while the node is live (such a node keeps no spare, so nothing else
    /// writes the slot then), and its deadline's firing cancels it with it
    /// ([`expiry_cause`]). Another cancel overwrites it with its own cause.
    pub(crate) fn set_expiry_cause(&mut self, cause: Cause) {
        self.node.entry.class |= EXPIRY_CAUSE;
        // SAFETY: `&mut`: the node is not shared yet.
        self.node
            .slot
            .with_mut(|s| unsafe { *s = crate::node::Slot::cause(Some(cause)) });
    }
}

/// The cause `node`'s own deadline cancels it with: the one it was made
/// with, if it is a timed node made with one and is still live; `None`
/// otherwise. Read under the node's lock, as a cancel writes the slot under
/// it, so a cancel that comes first leaves `None` (the caller's cancel then
/// does nothing).
pub(crate) fn expiry_cause(node: &Node) -> Option<Cause> {
    if !node.class().has_expiry_cause() {
        return None;
    }
    let guard = node.lock();
    if guard.is_cancelled() {
        return None;
    }
    // SAFETY: under the lock of a live node made with an expiry cause: its
    // slot holds that cause (invariant 9 of the `node` module), and only a
    // cancel, which needs this lock, writes it. The clone is the caller's.
    node.slot.with(|s| unsafe { Option::clone(&(*s).cause) })
}

impl TimedNode {
    /// The timers this node's deadline is kept in, until it is disarmed.
    ///
    /// # Safety
    /// The node is not disarmed yet, or its timers are static.
    #[inline(always)]
    pub(crate) unsafe fn timers(&self) -> &Timers {
        // SAFETY: by the caller's guarantee.
        unsafe { self.timers_ptr().as_ref() }
    }

    /// The address of this node's timers: to follow only while it holds them.
    #[inline(always)]
    fn timers_ptr(&self) -> NonNull<Timers> {
        #[cfg(feature = "alloc")]
        if self.home.tag() == Home::ON_CLOCK {
            // SAFETY: the clock root, alive while this node is.
            return unsafe { root_timers(self.home.ptr()) }.ptr;
        }
        // Untagged: the pointer as it is.
        self.home.0.cast()
    }

    /// Which timers this node's deadline is kept in, to compare (with its
    /// generation, so also after they are gone).
    #[inline]
    pub(crate) fn timers_id(&self) -> TimersId {
        #[cfg(feature = "alloc")]
        if self.home.tag() == Home::ON_CLOCK {
            // SAFETY: the clock root, alive while this node is.
            return unsafe { root_timers(self.home.ptr()) };
        }
        #[cfg(all(feature = "alloc", target_pointer_width = "64"))]
        let generation = self.node.entry.generation;
        #[cfg(all(feature = "alloc", not(target_pointer_width = "64")))]
        let generation = self.generation;
        TimersId {
            ptr: self.home.0.cast(),
            #[cfg(feature = "alloc")]
            generation,
        }
    }

    /// Whether the node's tree has a clock root: a `clock` that is `Some`,
    /// without following anything.
    #[inline]
    pub(crate) fn has_clock(&self) -> bool {
        self.home.tag() != Home::TIMERS || self.node.class().has_foreign_timers()
    }

    /// The clock root of the node's tree (see [`ClockNode`]), if it has one:
    /// itself for a clock root. Alive while this node is, as an ancestor.
    #[inline(always)]
    pub(crate) fn clock(&self) -> Option<NonNull<Node>> {
        if self.home.tag() != Home::TIMERS {
            return Some(self.home.ptr());
        }
        if self.node.class().has_foreign_timers() {
            return self.foreign_clock();
        }
        None
    }

    /// [`clock`](Self::clock) of a node on other timers than its tree's
    /// clock: its parent's.
    #[cold]
    #[inline(never)]
    fn foreign_clock(&self) -> Option<NonNull<Node>> {
        clock_root(self.node.parent?)
    }

    pub(crate) fn entry_ptr(this: NonNull<TimedNode>) -> NonNull<WheelEntry> {
        // SAFETY: in bounds; no reference is created.
        unsafe { NonNull::new_unchecked(core::ptr::addr_of_mut!((*this.as_ptr()).entry)) }
    }
}

/// The timed node whose wheel entry is `e`.
///
/// # Safety
/// `e` is the entry of a live `TimedNode`, derived from that node's pointer.
pub(crate) unsafe fn node_of(e: NonNull<WheelEntry>) -> NonNull<Node> {
    let offset = core::mem::offset_of!(TimedNode, entry);
    // SAFETY: `e` points `offset` bytes into a `TimedNode`.
    unsafe { NonNull::new_unchecked(e.as_ptr().byte_sub(offset).cast::<Node>()) }
}

/// Takes a timed node's entry out of its wheel, if it is there, and gives up
/// its hold on its timers, as the node is being cancelled, under its lock;
/// nothing for other shapes.
///
/// # Safety
/// `this` is a live node with its whole provenance, cancelled by the caller
/// (so this runs once); if it is timed with shared timers, it was inserted
/// (armed, or found due), which is when the node took its hold.
#[inline]
pub(crate) unsafe fn disarm_on_cancel(this: NonNull<Node>) {
    // SAFETY: live, by the caller's guarantee.
    if unsafe { this.as_ref() }.is_timed() {
        let t = this.cast::<TimedNode>();
        // SAFETY: live, and a timed node.
        let timed = unsafe { t.as_ref() };
        // SAFETY: the entry belongs to these timers, and a node is cancelled once.
        unsafe { Timers::disarm(timed.timers_ptr(), TimedNode::entry_ptr(t)) };
    }
}

/// Takes the entry of an unobserved timed node out of its wheel and gives up
/// its hold on its timers, as it is freed; false, touching nothing, if its
/// deadline is firing (that cancel then disarms it).
///
/// # Safety
/// `this` is a live, armed, uncancelled timed node with its whole provenance
/// that no canceller but its timers can reach (the caller holds its parent's
/// lock and found it still linked).
#[cfg(feature = "alloc")]
#[inline(never)] // keeps `free_alone`, inlined in every child's drop, small
pub(crate) unsafe fn take_out_unobserved(this: NonNull<Node>) -> bool {
    let t = this.cast::<TimedNode>();
    // SAFETY: live.
    let timed = unsafe { t.as_ref() };
    // SAFETY: the node holds its timers (armed, not cancelled) and only
    // they can still reach it.
    unsafe { Timers::take_out(timed.timers_ptr(), TimedNode::entry_ptr(t)) }
}

// ---- clock roots -------------------------------------------------------------

/// The node that binds a tree to a clock: a timed node whose deadline never
/// fires (`u64::MAX`), keeping its driver and its driver's timers. Its
/// descendants name it (heap children are scoped under it; timed ones on its
/// clock keep it as their [`Home`], in place of their timers), so a node
/// finds its tree's clock in one step at any depth. 136 bytes on 64-bit
/// targets, 80 on 32-bit ones.
#[cfg(feature = "alloc")]
pub(crate) type ClockNode = TimedNode<ClockExtra>;

/// What a clock root keeps beyond a timed node.
#[cfg(feature = "alloc")]
pub(crate) struct ClockExtra {
    /// Its clock's timers: those of every timed node below that names it
    /// (`Home::ON_CLOCK`), itself included.
    timers: TimersId,
    clock: alloc::boxed::Box<dyn Clock>,
    /// 1 once a deadline in the tree was moved earlier (`time::deadline::reset`):
    /// from then on a token's nearest deadline may not be its earliest, and
    /// finding it walks the deadlines above (`time::deadline::effective`).
    moved_earlier: crate::sync::AtomicU8,
}

/// A new heap clock root on `clock`, its own `clock`, with one reference;
/// linked to `parent`, if any (then a child bound to another clock).
///
/// One with a source (`cancellable`) holds `clock`'s timers, as a timed
/// node does, for its cancel's disarm (or its take-out) to give back. One
/// that nothing can cancel (a detached root, whose handles are tokens) takes
/// no hold: it is freed uncancelled, and its clock keeps the timers alive.
#[cfg(feature = "alloc")]
pub(crate) fn new_clock_root(
    parent: Option<NonNull<Node>>,
    clock: alloc::boxed::Box<dyn Clock>,
    cancellable: bool,
) -> NonNull<Node> {
    debug_assert!(cancellable || parent.is_none(), "a child can be cancelled");
    let timers = clock.timers().id();
    let extra = ClockExtra {
        timers,
        clock,
        moved_earlier: crate::sync::AtomicU8::new(0),
    };
    // SAFETY: no clock root to follow; it names itself once boxed.
    let mut root =
        unsafe { TimedNode::with_extra(Ownership::Heap, 1, u64::MAX, timers, None, extra) };
    root.node.entry.class |= CLOCK_ROOT;
    root.node.parent = parent;
    if cancellable {
        root.extra.clock.timers().get().hold();
    }
    let this = NonNull::from(alloc::boxed::Box::leak(alloc::boxed::Box::new(root)));
    // SAFETY: just made, and not shared yet.
    unsafe { (*this.as_ptr()).home = Home::new(this, Home::ON_CLOCK) };
    let this = this.cast();
    if let Some(parent) = parent {
        // SAFETY: the parent is alive (the caller borrows its token); the
        // child is pinned in its box and unlinks itself before its owner
        // lets go.
        unsafe { parent.as_ref().link_child(this, State::EMPTY) };
    }
    this
}

/// The timers of a clock root's clock.
///
/// # Safety
/// `root` is a live clock root (a [`ClockNode`], with its provenance).
#[cfg(feature = "alloc")]
#[inline]
unsafe fn root_timers(root: NonNull<Node>) -> TimersId {
    // SAFETY: by the caller's guarantee.
    unsafe { root.cast::<ClockNode>().as_ref() }.extra.timers
}

/// The clock of a clock root.
///
/// # Safety
/// `root` is a live clock root (a [`ClockNode`], with its provenance); the
/// clock lives as long as it.
#[cfg(feature = "alloc")]
pub(crate) unsafe fn clock_of<'a>(root: NonNull<Node>) -> &'a dyn Clock {
    // SAFETY: by the caller's guarantee.
    unsafe { &*root.cast::<ClockNode>().as_ref().extra.clock }
}

/// Whether a deadline in the tree of clock root `root` was ever moved
/// earlier. Relaxed: a read racing the move may see the tree before it; one
/// that happens after it sees the flag, by coherence.
///
/// # Safety
/// As for [`clock_of`].
#[cfg(feature = "alloc")]
pub(crate) unsafe fn moved_earlier(root: NonNull<Node>) -> bool {
    // SAFETY: by the caller's guarantee.
    let extra = unsafe { &root.cast::<ClockNode>().as_ref().extra };
    extra.moved_earlier.load(crate::sync::Ordering::Relaxed) != 0
}

/// Marks the tree of clock root `root`: a deadline in it moves earlier.
/// Relaxed: see [`moved_earlier`].
///
/// # Safety
/// As for [`clock_of`].
#[cfg(feature = "alloc")]
pub(crate) unsafe fn mark_moved_earlier(root: NonNull<Node>) {
    // SAFETY: by the caller's guarantee.
    let extra = unsafe { &root.cast::<ClockNode>().as_ref().extra };
    extra.moved_earlier.store(1, crate::sync::Ordering::Relaxed);
}

/// The clock root of `node`'s tree, found through its holder: `None` if no
/// clock root is at or above it. One step, and one more for each holder on
/// it whose deadline is on another driver than the clock (`Home::FOREIGN`).
pub(crate) fn clock_root(node: NonNull<Node>) -> Option<NonNull<Node>> {
    let mut holder = holder(node)?;
    loop {
        // SAFETY: holders are timed nodes, alive while `node` is.
        let t = unsafe { holder.cast::<TimedNode>().as_ref() };
        if !t.node.class().has_foreign_timers() {
            return t.clock();
        }
        holder = crate::node::kind::holder(t.node.parent?)?;
    }
}

// ---- scoped nodes ------------------------------------------------------------

/// A heap child with no deadline of its own whose parent has one, at or
/// above it: it names the node whose deadline is its own effective deadline
/// (its *holder*), so that finding it takes one step at any depth.
/// `Shape::Scoped` says a node is one. 72 bytes on 64-bit targets, one
/// pointer more than a plain node (`tests/sizes.rs`).
#[cfg(feature = "alloc")]
#[repr(C)]
pub(crate) struct ScopedNode {
    pub(crate) node: Node,
    /// The nearest timed ancestor; fixed. Alive while this node is: a child
    /// keeps its ancestors alive (a reference, or a borrow).
    holder: NonNull<Node>,
}

/// The node whose deadline is `node`'s effective deadline: the nearest
/// timed node at or above it, or `None` if there is none.
///
/// One step for heap nodes, which name their holder (`ScopedNode`) or know
/// they have none; a pinned node without a deadline asks its parent, as
/// pinned nodes cannot grow a field (their sizes are budgets).
///
/// A timed node's own deadline is its effective one: a heap child whose
/// parent expires no later on the same driver is made without a deadline,
/// and a pinned one takes its parent's when that is earlier (`capped`).
#[inline(always)] // on every child's creation: one byte compared
pub(crate) fn holder(node: NonNull<Node>) -> Option<NonNull<Node>> {
    #[cfg(all(debug_assertions, feature = "std", not(cancel_token_loom)))]
    crate::__private::count_deadline_step();
    // SAFETY: the caller keeps the node alive.
    if unsafe { node.as_ref() }.class() == Class::plain(Ownership::Heap) {
        // A plain heap node without a holder: most parents.
        return None;
    }
    holder_of_other(node)
}

/// [`holder`] for nodes other than plain heap ones without a holder.
#[inline(never)]
fn holder_of_other(mut node: NonNull<Node>) -> Option<NonNull<Node>> {
    loop {
        // SAFETY: a node keeps its ancestors alive (reference or borrow).
        let n = unsafe { node.as_ref() };
        if n.is_timed() {
            return Some(node);
        }
        #[cfg(feature = "alloc")]
        if n.is_scoped() {
            // SAFETY: scoped nodes are `ScopedNode`s, and `node` has their provenance.
            return Some(unsafe { node.cast::<ScopedNode>().as_ref() }.holder);
        }
        if n.ownership() != Ownership::Pinned {
            // Heap nodes were made scoped if they had a holder; static ones
            // and `never` are roots.
            return None;
        }
        node = n.parent?;
        #[cfg(all(debug_assertions, feature = "std", not(cancel_token_loom)))]
        crate::__private::count_deadline_step();
    }
}

/// A new heap child of `parent` without a deadline of its own, under
/// `holder`, the node whose deadline it inherits; linked. In the parent's
/// spare if it keeps a scoped one, as a plain child is in a plain one.
#[cfg(feature = "alloc")]
pub(crate) fn new_scoped(parent: NonNull<Node>, holder: NonNull<Node>) -> NonNull<Node> {
    let make = move || {
        let mut node = Node::new(Class::new(Ownership::Heap, Shape::Scoped), 1);
        node.parent = Some(parent);
        ScopedNode { node, holder }
    };
    // SAFETY: the parent is alive (the caller borrows its token).
    let make = match unsafe { parent.as_ref() }.link_in_spare(make, |_| ()) {
        Ok((linked, ())) => return linked,
        Err(unused) => unused,
    };
    let this = NonNull::from(alloc::boxed::Box::leak(alloc::boxed::Box::new(make()))).cast();
    // SAFETY: the parent is alive (the caller borrows its token); the child is
    // pinned in its box and unlinks itself before its owner lets go.
    unsafe { parent.as_ref().link_child(this, State::EMPTY) };
    this
}

// ---- linked nodes ------------------------------------------------------------

/// The node of a linked source. `#[repr(C)]` with the node first, so a node
/// pointer of a linked node is also a pointer to this (`Shape::AnyOf` says
/// so).
#[cfg(feature = "alloc")]
#[repr(C)]
pub(crate) struct LinkedNode {
    pub(crate) node: Node,
    /// The registrations on each parent, a leaked box (see
    /// [`register_all`]). Only the source touches them: it writes them once
    /// made, and takes them out as it drops, before the node can be freed.
    pub(crate) links: UnsafeCell<Option<NonNull<[Registration]>>>,
}

/// A linked node's registration on one parent, which it holds a reference
/// on. Dropping it gives the reference back; [`unregister_all`] unregisters
/// it first.
#[cfg(feature = "alloc")]
pub(crate) struct Registration {
    parent: NonNull<Node>,
    callback: Callback<LinkedRegistration>,
}

/// What a linked node's registration does when its parent is cancelled:
/// cancel the linked node like it. Holds a reference on the linked node.
#[cfg(feature = "alloc")]
struct LinkedRegistration(NonNull<Node>);

// SAFETY: the node is `Sync` and reference counted with atomics.
#[cfg(feature = "alloc")]
unsafe impl Send for LinkedRegistration {}

#[cfg(feature = "alloc")]
impl Fire for LinkedRegistration {
    fn fire(self, reason: Reason, cause: Option<&Cause>) {
        Node::cancel(self.0, reason, cause.cloned());
    }
}

#[cfg(feature = "alloc")]
impl Drop for LinkedRegistration {
    fn drop(&mut self) {
        // SAFETY: we own a reference on the linked node.
        unsafe { crate::node::refs::drop_ref(self.0) };
    }
}

#[cfg(feature = "alloc")]
impl Registration {
    /// A registration of `linked` on `parent`, not registered yet; takes a
    /// reference on each.
    ///
    /// # Safety
    /// The caller keeps both nodes alive meanwhile.
    pub(crate) unsafe fn new(parent: NonNull<Node>, linked: NonNull<Node>) -> Registration {
        // SAFETY: by the caller's guarantee.
        unsafe { parent.as_ref() }.inc_ref();
        // SAFETY: as above.
        unsafe { linked.as_ref() }.inc_ref();
        Registration {
            parent,
            callback: Callback::new(LinkedRegistration(linked)),
        }
    }

    /// Registers on the parent, or, if it is cancelled, cancels the linked
    /// node now. A parent that is never cancelled gets nothing, and the
    /// reference on the linked node is given back at once.
    ///
    /// # Safety
    /// Called once; the registration stays where it is until
    /// [`unregister_all`] has unregistered it.
    pub(crate) unsafe fn register(&self) {
        // SAFETY: we hold a reference on the parent; the caller keeps `self`
        // in place until its drop unregisters it.
        if !unsafe { callback::register(self.parent.as_ref(), &self.callback) } {
            // SAFETY: not linked: ours alone. (It is gone already if it ran.)
            drop(unsafe { self.callback.take() });
        }
    }
}

#[cfg(feature = "alloc")]
impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: unregistered (or never linked): no canceller touches it.
        drop(unsafe { self.callback.take() });
        // SAFETY: the reference taken in `new`.
        unsafe { crate::node::refs::drop_ref(self.parent) };
    }
}

/// Registers each of `links` on its parent, and leaks them for the
/// parents' lists to point into: a box would claim them unique again when
/// moved, while those pointers are still live.
///
/// # Safety
/// The nodes of every registration are alive; the result goes to
/// [`unregister_all`].
#[cfg(feature = "alloc")]
pub(crate) unsafe fn register_all(
    links: alloc::boxed::Box<[Registration]>,
) -> NonNull<[Registration]> {
    let links = NonNull::from(alloc::boxed::Box::leak(links));
    // SAFETY: just leaked; shared from here on.
    for link in unsafe { links.as_ref() } {
        // SAFETY: once each; the leaked slice stays put until `unregister_all`.
        unsafe { link.register() };
    }
    links
}

/// Unregisters each of `links` (with `std`, waiting for a run of it on
/// another thread), then frees them, giving their references back.
///
/// # Safety
/// `links` came from [`register_all`], once.
#[cfg(feature = "alloc")]
pub(crate) unsafe fn unregister_all(links: NonNull<[Registration]>) {
    // SAFETY: leaked by `register_all` and not freed yet.
    for link in unsafe { links.as_ref() } {
        // SAFETY: we hold a reference on the parent, and `register` was the
        // one call of `callback::register` with it (or none: then it is idle).
        unsafe { callback::unregister(link.parent.as_ref(), &link.callback.header) };
    }
    // SAFETY: unregistered: no list points into them any more; the box
    // `register_all` leaked.
    drop(unsafe { alloc::boxed::Box::from_raw(links.as_ptr()) });
}

// ---- boxes -------------------------------------------------------------------

/// Frees the box of a heap node, by its shape.
///
/// # Safety
/// The last reference to a heap node, made by `Box::new` of its shape's
/// struct, out of its timers if timed.
#[cfg(feature = "alloc")]
#[inline] // on every child's drop: a plain node is freed in line
pub(crate) unsafe fn drop_box(node: NonNull<Node>) {
    // SAFETY: the caller owns the node.
    let shape = unsafe { node.as_ref() }.class().shape();
    if shape == Shape::Plain {
        // SAFETY: by the caller's guarantee, a plain box.
        drop(unsafe { alloc::boxed::Box::from_raw(node.as_ptr()) });
    } else {
        // SAFETY: as ours.
        unsafe { drop_shaped_box(node, shape) };
    }
}

/// [`drop_box`] for the larger shapes, out of line so that the plain path
/// stays small enough to inline.
///
/// # Safety
/// As for [`drop_box`], and `shape` is the node's.
#[cfg(feature = "alloc")]
#[inline(never)]
unsafe fn drop_shaped_box(node: NonNull<Node>, shape: Shape) {
    use alloc::boxed::Box;
    // SAFETY: the caller owns the node.
    let clock_root = unsafe { node.as_ref() }.class().is_clock_root();
    match shape {
        Shape::Plain => unreachable!("plain boxes are freed by `drop_box`"),
        Shape::Timed if clock_root => {
            // SAFETY: by the caller's guarantee, a box of this shape (node
            // first, `repr(C)`), here and below; a clock root's is a
            // `ClockNode`.
            drop(unsafe { Box::from_raw(node.cast::<ClockNode>().as_ptr()) })
        }
        // SAFETY: as above.
        Shape::Timed => drop(unsafe { Box::from_raw(node.cast::<TimedNode>().as_ptr()) }),
        // SAFETY: as above.
        Shape::AnyOf => drop(unsafe { Box::from_raw(node.cast::<LinkedNode>().as_ptr()) }),
        // SAFETY: as above.
        Shape::Scoped => drop(unsafe { Box::from_raw(node.cast::<ScopedNode>().as_ptr()) }),
    }
}

/// The kinds of node memory a spare can be: a `Node`; or, with the
/// `SPARE_TIMED` bit, a `TimedNode` or a `ScopedNode`, which the spare's own
/// (stale) class byte tells apart.
#[cfg(feature = "alloc")]
pub(crate) trait Memory {
    /// The state bits of a spare of this kind.
    const BITS: State;
    /// The shape of a spare of this kind.
    const SHAPE: Shape;
}

#[cfg(feature = "alloc")]
impl Memory for Node {
    const BITS: State = State::SPARE;
    const SHAPE: Shape = Shape::Plain;
}

#[cfg(feature = "alloc")]
impl Memory for TimedNode {
    const BITS: State = State::SPARE.union(State::SPARE_TIMED);
    const SHAPE: Shape = Shape::Timed;
}

#[cfg(feature = "alloc")]
impl Memory for ScopedNode {
    const BITS: State = State::SPARE.union(State::SPARE_TIMED);
    const SHAPE: Shape = Shape::Scoped;
}
