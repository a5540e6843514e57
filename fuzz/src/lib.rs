//! Differential fuzzing of `cancel_token` against a reference model.
//!
//! The input is decoded into operations on small pools of handles (sources,
//! tokens, pending `cancelled()` futures, `on_cancel` guards) and one
//! `ManualDriver`. Each operation runs on the crate and on [`model::Model`];
//! after every step all observables must agree (see [`Obs`]).
//!
//! The `threads` target also runs pairs of operations at once on two threads;
//! the crate's state must then be the model's after A-then-B or B-then-A, or,
//! for two cancellations with different labels racing through a DAG of linked
//! sources, a per-node mix of the two that each wave could have produced (see
//! [`mixed`]).
//!
//! Set `CT_FUZZ_TRACE=1` to print the decoded steps of every input run.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use cancel_token::{
    CancelSource, CancelToken, Cancelled, Cause, ManualDriver, OnCancel, Reason, ResetError,
};

pub mod model;
use model::Model;

/// Slots per pool.
pub const N: usize = 16;
/// Steps decoded from one input at most (keeps executions fast).
pub const MAX_STEPS: usize = 200;

// ---- shared vocabulary ------------------------------------------------------

/// How a node was cancelled: its reason and the id of its cause (0 or 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label {
    pub reason: Reason,
    pub cause: Option<u8>,
}

impl Label {
    pub fn cancelled() -> Self {
        Label {
            reason: Reason::Cancelled,
            cause: None,
        }
    }
    pub fn deadline() -> Self {
        Label::expired(None)
    }
    /// A deadline's expiry, with the cause its timeout was made with.
    pub fn expired(cause: Option<u8>) -> Self {
        Label {
            reason: Reason::DeadlineExceeded,
            cause,
        }
    }
}

/// The two causes: 0 static, 1 owned (a new allocation per cancel, shared by
/// every node it reaches); told apart by their value.
#[derive(Debug)]
pub struct FuzzCause(u8);
impl fmt::Display for FuzzCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fuzz cause {}", self.0)
    }
}
impl std::error::Error for FuzzCause {}
static CAUSE0: FuzzCause = FuzzCause(0);

fn cause_of(id: u8) -> Cause {
    if id == 0 {
        Cause::from(&CAUSE0)
    } else {
        Cause::new(FuzzCause(1))
    }
}

/// 0 or 1 for our causes, 255 for anything else.
fn cause_id(c: Option<Cause>) -> Option<u8> {
    c.map(|c| c.downcast_ref::<FuzzCause>().map_or(255, |f| f.0))
}

/// `ManualDriver::duration_ticks`: whole microseconds, rounded up.
pub fn ceil_ticks(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1000)).unwrap_or(u64::MAX)
}

/// `ManualDriver::advance_by`: whole microseconds, rounded down.
pub fn floor_ticks(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// One operation with its slots resolved. `dst` is the free slot a new handle goes to.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Nop,
    NewRoot {
        dst: usize,
    },
    Child {
        t: usize,
        dst: usize,
    },
    Linked {
        ts: Vec<usize>,
        dst: usize,
    },
    Timeout {
        t: usize,
        dur: Duration,
        absolute: bool,
        dst: usize,
    },
    Cancel {
        s: usize,
        cause: Option<u8>,
    },
    DropSource {
        s: usize,
    },
    TokenOf {
        s: usize,
        dst: usize,
    },
    CloneToken {
        t: usize,
        dst: usize,
    },
    DropToken {
        t: usize,
    },
    Never {
        dst: usize,
    },
    Wait {
        t: usize,
        owned: bool,
        dst: usize,
    },
    Poll {
        w: usize,
        alt: bool,
    },
    DropWaiter {
        w: usize,
    },
    OnCancel {
        t: usize,
        dst: usize,
        id: usize,
    },
    Disarm {
        g: usize,
    },
    DropGuard {
        g: usize,
    },
    Advance {
        dur: Duration,
    },
    /// `CancelSource::with_clock` on the harness's driver.
    ClockRoot {
        dst: usize,
    },
    /// `child_with_timeout` (`child_with_deadline` if `absolute`, at the
    /// driver's epoch plus `dur`), with `cause` in the `_cause` forms; only on
    /// a token whose tree has a clock root.
    ClockTimeout {
        t: usize,
        dur: Duration,
        absolute: bool,
        cause: Option<u8>,
        dst: usize,
    },
    /// `reset_timeout(dur)` (`Duration::MAX` if `max`), or `reset_deadline`
    /// at the driver's epoch plus `dur` if `absolute`.
    Reset {
        s: usize,
        dur: Duration,
        absolute: bool,
        max: bool,
    },
    /// `token.detached()`.
    Detach {
        t: usize,
        dst: usize,
    },
}

/// What an action returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    None,
    /// `None` is `Poll::Pending`.
    Poll(Option<Reason>),
    Disarm(bool),
    Reset(Result<(), ResetError>),
}

// ---- decoding ---------------------------------------------------------------

/// An undecoded operation: kind and argument bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    pub kind: u8,
    pub args: [u8; 3],
}

pub const KINDS: u8 = 21;

/// Argument bytes each kind reads.
pub fn nargs(kind: u8) -> usize {
    match kind {
        0 | 9 | 17 => 0,
        2 | 3 | 18 | 19 => 3,
        16 => 2,
        _ => 1,
    }
}

impl Op {
    pub fn new(kind: u8, args: &[u8]) -> Op {
        let mut a = [0; 3];
        a[..args.len()].copy_from_slice(args);
        Op { kind, args: a }
    }
    /// The bytes that decode to this op.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind);
        out.extend_from_slice(&self.args[..nargs(self.kind)]);
    }
}

/// A byte cursor; missing argument bytes read as zero.
struct Bytes<'a>(&'a [u8]);
impl Bytes<'_> {
    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn op(&mut self) -> Option<Op> {
        let kind = self.next()? % KINDS;
        let mut args = [0; 3];
        for a in &mut args[..nargs(kind)] {
            *a = self.next().unwrap_or(0);
        }
        Some(Op { kind, args })
    }
}

/// How a step runs in the `threads` target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Main(Op),
    Worker(Op),
    Pair(Op, Op),
}

impl Step {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Step::Main(op) => {
                out.push(0);
                op.encode(out)
            }
            Step::Worker(op) => {
                out.push(1);
                op.encode(out)
            }
            Step::Pair(a, b) => {
                out.push(2);
                a.encode(out);
                b.encode(out)
            }
        }
    }
}

pub fn decode_model(data: &[u8]) -> Vec<Op> {
    let mut b = Bytes(data);
    std::iter::from_fn(|| b.op()).take(MAX_STEPS).collect()
}

pub fn decode_threads(data: &[u8]) -> Vec<Step> {
    let mut b = Bytes(data);
    std::iter::from_fn(|| {
        let h = b.next()?;
        Some(match h % 4 {
            0 => Step::Main(b.op()?),
            1 => Step::Worker(b.op()?),
            _ => Step::Pair(b.op()?, b.op()?),
        })
    })
    .take(MAX_STEPS)
    .collect()
}

/// Two bytes to a duration from 0 to about 9 years, with a sub-microsecond part.
pub fn duration(b0: u8, b1: u8) -> Duration {
    const SHIFT: [u32; 16] = [0, 0, 0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 36, 40];
    let us = (b1 as u64) << SHIFT[(b0 & 15) as usize];
    Duration::from_micros(us) + Duration::from_nanos((b0 >> 4) as u64 * 97)
}

/// The pools an action uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    Src,
    Tok,
    Wtr,
    Grd,
    Clock,
}

/// Slots an action touches: (pool, slot, exclusive).
pub fn uses(a: &Action) -> Vec<(Pool, usize, bool)> {
    use Pool::*;
    match *a {
        Action::Nop => vec![],
        Action::NewRoot { dst } => vec![(Src, dst, true)],
        Action::Child { t, dst } | Action::Timeout { t, dst, .. } => {
            vec![(Tok, t, false), (Src, dst, true)]
        }
        Action::Linked { ref ts, dst } => {
            let mut u: Vec<_> = ts.iter().map(|&t| (Tok, t, false)).collect();
            u.push((Src, dst, true));
            u
        }
        Action::Cancel { s, .. } => vec![(Src, s, false)],
        Action::DropSource { s } => vec![(Src, s, true)],
        Action::TokenOf { s, dst } => vec![(Src, s, false), (Tok, dst, true)],
        Action::CloneToken { t, dst } => vec![(Tok, t, false), (Tok, dst, true)],
        Action::DropToken { t } => vec![(Tok, t, true)],
        Action::Never { dst } => vec![(Tok, dst, true)],
        Action::Wait { t, dst, .. } => vec![(Tok, t, false), (Wtr, dst, true)],
        Action::Poll { w, .. } | Action::DropWaiter { w } => vec![(Wtr, w, true)],
        Action::OnCancel { t, dst, .. } => vec![(Tok, t, false), (Grd, dst, true)],
        Action::Disarm { g } | Action::DropGuard { g } => vec![(Grd, g, true)],
        // A pair never holds two advances: `ManualDriver::advance_by` reads the
        // clock and then advances to `now + by` in two steps, so two at once
        // may move it by only one of their amounts (a lost update).
        Action::Advance { .. } => vec![(Clock, 0, true)],
        Action::ClockRoot { dst } => vec![(Src, dst, true)],
        Action::ClockTimeout { t, dst, .. } => vec![(Tok, t, false), (Src, dst, true)],
        Action::Reset { s, .. } => vec![(Src, s, false)],
        Action::Detach { t, dst } => vec![(Tok, t, false), (Tok, dst, true)],
    }
}

fn occupied(m: &Model, p: Pool, i: usize) -> bool {
    match p {
        Pool::Src => m.sources[i].is_some(),
        Pool::Tok => m.tokens[i].is_some(),
        Pool::Wtr => m.waiters[i].is_some(),
        Pool::Grd => m.guards[i].is_some(),
        Pool::Clock => true,
    }
}

/// Resolves `op` against the model's pools. `taken` are the uses of an action
/// running concurrently: its exclusive slots are off limits, and slots it only
/// reads cannot be taken exclusively. `next_cb` is the id of a new callback.
pub fn resolve(op: &Op, m: &Model, taken: &[(Pool, usize, bool)], next_cb: usize) -> Action {
    let ok = |p: Pool, i: usize, excl: bool| {
        !taken
            .iter()
            .any(|&(tp, ti, te)| tp == p && ti == i && (te || excl))
    };
    let pick = |p: Pool, raw: u8, excl: bool| -> Option<usize> {
        let c: Vec<usize> = (0..N)
            .filter(|&i| occupied(m, p, i) && ok(p, i, excl))
            .collect();
        (!c.is_empty()).then(|| c[raw as usize % c.len()])
    };
    let free = |p: Pool| (0..N).find(|&i| !occupied(m, p, i) && ok(p, i, true));
    let [a0, a1, a2] = op.args;
    let act = || -> Option<Action> {
        use Pool::*;
        Some(match op.kind {
            0 => Action::NewRoot { dst: free(Src)? },
            1 => Action::Child {
                t: pick(Tok, a0, false)?,
                dst: free(Src)?,
            },
            2 => {
                let n = (a0 >> 6) as usize;
                let raws = [a0 & 63, a1, a2];
                let ts = raws[..n]
                    .iter()
                    .map(|&r| pick(Tok, r, false))
                    .collect::<Option<_>>()?;
                Action::Linked {
                    ts,
                    dst: free(Src)?,
                }
            }
            3 => Action::Timeout {
                t: pick(Tok, a0 & 15, false)?,
                dur: duration(a1, a2),
                absolute: a0 & 16 != 0,
                dst: free(Src)?,
            },
            4 => Action::Cancel {
                s: pick(Src, a0 & 15, false)?,
                cause: [None, Some(0), Some(1), None][(a0 >> 4 & 3) as usize],
            },
            5 => Action::DropSource {
                s: pick(Src, a0, true)?,
            },
            6 => Action::TokenOf {
                s: pick(Src, a0, false)?,
                dst: free(Tok)?,
            },
            7 => Action::CloneToken {
                t: pick(Tok, a0, false)?,
                dst: free(Tok)?,
            },
            8 => Action::DropToken {
                t: pick(Tok, a0, true)?,
            },
            9 => Action::Never { dst: free(Tok)? },
            10 => Action::Wait {
                t: pick(Tok, a0 & 15, false)?,
                owned: a0 & 16 != 0,
                dst: free(Wtr)?,
            },
            11 => Action::Poll {
                w: pick(Wtr, a0 & 15, true)?,
                alt: a0 & 16 != 0,
            },
            12 => Action::DropWaiter {
                w: pick(Wtr, a0, true)?,
            },
            13 => Action::OnCancel {
                t: pick(Tok, a0, false)?,
                dst: free(Grd)?,
                id: next_cb,
            },
            14 => Action::Disarm {
                g: pick(Grd, a0, true)?,
            },
            15 => Action::DropGuard {
                g: pick(Grd, a0, true)?,
            },
            16 => {
                ok(Clock, 0, true).then_some(())?;
                Action::Advance {
                    dur: duration(a0, a1),
                }
            }
            17 => Action::ClockRoot { dst: free(Src)? },
            18 => {
                // Only tokens on a clock: elsewhere the tree's clock is
                // `ThreadDriver::global()`, real time.
                let c: Vec<usize> = (0..N)
                    .filter(|&i| m.tokens[i].is_some_and(|n| m.clock_of(n).is_some()))
                    .filter(|&i| ok(Tok, i, false))
                    .collect();
                Action::ClockTimeout {
                    t: *c.get((a0 & 15) as usize % c.len().max(1))?,
                    dur: duration(a1, a2),
                    absolute: a0 & 16 != 0,
                    cause: [None, Some(0), Some(1), None][(a0 >> 5 & 3) as usize],
                    dst: free(Src)?,
                }
            }
            19 => Action::Reset {
                s: pick(Src, a0 & 15, false)?,
                dur: duration(a1, a2),
                absolute: a0 & 16 != 0,
                max: a0 & 48 == 32,
            },
            _ => Action::Detach {
                t: pick(Tok, a0, false)?,
                dst: free(Tok)?,
            },
        })
    };
    act().unwrap_or(Action::Nop)
}

// ---- the crate's side -------------------------------------------------------

/// A callback's record: how often it ran, with which reason, and (by the
/// `Arc`'s count) whether its closure is still alive.
#[derive(Default)]
pub struct CbCount {
    runs: AtomicU32,
    reason: AtomicU8,
}

fn reason_code(r: Option<Reason>) -> u8 {
    match r {
        None => 0,
        Some(Reason::Cancelled) => 1,
        Some(_) => 2,
    }
}

fn code_reason(c: u8) -> Option<Reason> {
    [
        None,
        Some(Reason::Cancelled),
        Some(Reason::DeadlineExceeded),
    ][c as usize]
}

/// Counts wakes; the `Arc`'s count says whether a token holds a waker.
#[derive(Default)]
pub struct WakeCount(AtomicUsize);
impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A pending `cancelled()` future, boxed and pinned. `fut` is dropped before
/// `_hold`, the token a borrowing `Cancelled` points into.
pub struct RWaiter {
    fut: Pin<Box<dyn Future<Output = Reason> + Send>>,
    _hold: Option<Arc<CancelToken>>,
    wc: [Arc<WakeCount>; 2],
}

impl RWaiter {
    fn new(tok: Arc<CancelToken>, owned: bool) -> RWaiter {
        let wc = [Arc::default(), Arc::default()];
        if owned {
            let fut = CancelToken::clone(&tok).cancelled_owned();
            return RWaiter {
                fut: Box::pin(fut),
                _hold: None,
                wc,
            };
        }
        // A token of its own, so the pool's handle stays the only one to drop.
        let tok = Arc::new(CancelToken::clone(&tok));
        let fut: Cancelled<'_> = tok.cancelled();
        // SAFETY: the future borrows the token's node, which `_hold` keeps
        // alive (and in place, behind the `Arc`) until after `fut` is dropped.
        let fut = unsafe { std::mem::transmute::<Cancelled<'_>, Cancelled<'static>>(fut) };
        RWaiter {
            fut: Box::pin(fut),
            _hold: Some(tok),
            wc,
        }
    }

    fn poll(&mut self, alt: bool) -> Option<Reason> {
        let waker = Waker::from(self.wc[alt as usize].clone());
        match self.fut.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    }
}

pub struct Real {
    sources: [Option<Arc<CancelSource>>; N],
    tokens: [Option<Arc<CancelToken>>; N],
    waiters: [Option<RWaiter>; N],
    guards: [Option<OnCancel>; N],
    cbs: Vec<Arc<CbCount>>,
    driver: ManualDriver,
}

/// An action with the handles it needs, ready to run on any thread.
pub enum Job {
    Nop,
    NewRoot(usize),
    Child(Arc<CancelToken>, usize),
    Linked(Vec<Arc<CancelToken>>, usize),
    Timeout(Arc<CancelToken>, ManualDriver, Duration, bool, usize),
    Cancel(Arc<CancelSource>, Option<u8>),
    DropSource(Arc<CancelSource>),
    TokenOf(Arc<CancelSource>, usize),
    CloneToken(Arc<CancelToken>, usize),
    DropToken(Arc<CancelToken>),
    Never(usize),
    Wait(Arc<CancelToken>, bool, usize),
    Poll(RWaiter, bool, usize),
    DropWaiter(RWaiter),
    OnCancel(Arc<CancelToken>, Arc<CbCount>, usize),
    Disarm(OnCancel),
    DropGuard(OnCancel),
    Advance(ManualDriver, Duration),
    ClockRoot(ManualDriver, usize),
    ClockTimeout(Arc<CancelToken>, Instant, Duration, bool, Option<u8>, usize),
    Reset(Arc<CancelSource>, Instant, Duration, bool, bool),
    Detach(Arc<CancelToken>, usize),
}

/// What a job made or gave back.
pub enum Done {
    Nothing,
    Source(usize, CancelSource),
    Token(usize, CancelToken),
    Waiter(usize, RWaiter, Option<Reason>),
    Guard(usize, OnCancel),
    Disarmed(bool),
    Reset(Result<(), ResetError>),
}

fn only(a: Arc<impl Sized>) {
    assert_eq!(Arc::strong_count(&a), 1, "a handle being dropped is shared");
    drop(a);
}

impl Job {
    pub fn run(self) -> Done {
        match self {
            Job::Nop => Done::Nothing,
            Job::NewRoot(dst) => Done::Source(dst, CancelSource::new()),
            Job::Child(t, dst) => Done::Source(dst, t.child()),
            Job::Linked(ts, dst) => {
                Done::Source(dst, CancelSource::linked(ts.iter().map(|t| &**t)))
            }
            Job::Timeout(t, d, dur, absolute, dst) => Done::Source(
                dst,
                if absolute {
                    t.child_with_deadline_on(&d, dur)
                } else {
                    t.child_with_timeout_on(&d, dur)
                },
            ),
            Job::Cancel(s, cause) => {
                match cause {
                    None => s.cancel(),
                    Some(c) => s.cancel_with(cause_of(c)),
                }
                Done::Nothing
            }
            Job::DropSource(s) => {
                only(s);
                Done::Nothing
            }
            Job::TokenOf(s, dst) => Done::Token(dst, s.token()),
            Job::CloneToken(t, dst) => Done::Token(dst, CancelToken::clone(&t)),
            Job::DropToken(t) => {
                only(t);
                Done::Nothing
            }
            Job::Never(dst) => Done::Token(dst, CancelToken::never()),
            Job::Wait(t, owned, dst) => {
                let mut w = RWaiter::new(t, owned);
                let r = w.poll(false);
                Done::Waiter(dst, w, r)
            }
            Job::Poll(mut w, alt, slot) => {
                let r = w.poll(alt);
                Done::Waiter(slot, w, r)
            }
            Job::DropWaiter(w) => {
                drop(w);
                Done::Nothing
            }
            Job::OnCancel(t, c, dst) => Done::Guard(
                dst,
                t.on_cancel(move |r| {
                    c.reason.store(reason_code(Some(r)), SeqCst);
                    c.runs.fetch_add(1, SeqCst);
                }),
            ),
            Job::Disarm(g) => Done::Disarmed(g.disarm()),
            Job::DropGuard(g) => {
                drop(g);
                Done::Nothing
            }
            Job::Advance(d, dur) => {
                d.advance_by(dur);
                Done::Nothing
            }
            Job::ClockRoot(d, dst) => Done::Source(dst, CancelSource::with_clock(d)),
            Job::ClockTimeout(t, epoch, dur, absolute, cause, dst) => Done::Source(
                dst,
                match (absolute, cause) {
                    (false, None) => t.child_with_timeout(dur),
                    (false, Some(c)) => t.child_with_timeout_cause(dur, cause_of(c)),
                    (true, None) => t.child_with_deadline(epoch + dur),
                    (true, Some(c)) => t.child_with_deadline_cause(epoch + dur, cause_of(c)),
                },
            ),
            Job::Reset(s, epoch, dur, absolute, max) => Done::Reset(match (absolute, max) {
                (true, _) => s.reset_deadline(epoch + dur),
                (false, true) => s.reset_timeout(Duration::MAX),
                (false, false) => s.reset_timeout(dur),
            }),
            Job::Detach(t, dst) => Done::Token(dst, t.detached()),
        }
    }
}

impl Default for Real {
    fn default() -> Self {
        Real {
            sources: Default::default(),
            tokens: Default::default(),
            waiters: Default::default(),
            guards: Default::default(),
            cbs: Vec::new(),
            driver: ManualDriver::new(),
        }
    }
}

impl Real {
    /// The driver's tick 0 as a `std` instant.
    fn epoch(&self) -> Instant {
        use cancel_token::TimerDriver;
        self.driver.epoch().unwrap()
    }

    /// Takes or shares what `a` needs out of the pools.
    pub fn prepare(&mut self, a: &Action) -> Job {
        let tok = |r: &Self, t: usize| r.tokens[t].clone().unwrap();
        match *a {
            Action::Nop => Job::Nop,
            Action::NewRoot { dst } => Job::NewRoot(dst),
            Action::Child { t, dst } => Job::Child(tok(self, t), dst),
            Action::Linked { ref ts, dst } => {
                Job::Linked(ts.iter().map(|&t| tok(self, t)).collect(), dst)
            }
            Action::Timeout {
                t,
                dur,
                absolute,
                dst,
            } => Job::Timeout(tok(self, t), self.driver.clone(), dur, absolute, dst),
            Action::Cancel { s, cause } => Job::Cancel(self.sources[s].clone().unwrap(), cause),
            Action::DropSource { s } => Job::DropSource(self.sources[s].take().unwrap()),
            Action::TokenOf { s, dst } => Job::TokenOf(self.sources[s].clone().unwrap(), dst),
            Action::CloneToken { t, dst } => Job::CloneToken(tok(self, t), dst),
            Action::DropToken { t } => Job::DropToken(self.tokens[t].take().unwrap()),
            Action::Never { dst } => Job::Never(dst),
            Action::Wait { t, owned, dst } => Job::Wait(tok(self, t), owned, dst),
            Action::Poll { w, alt } => Job::Poll(self.waiters[w].take().unwrap(), alt, w),
            Action::DropWaiter { w } => Job::DropWaiter(self.waiters[w].take().unwrap()),
            Action::OnCancel { t, dst, id } => {
                assert_eq!(id, self.cbs.len());
                let c = Arc::new(CbCount::default());
                self.cbs.push(c.clone());
                Job::OnCancel(tok(self, t), c, dst)
            }
            Action::Disarm { g } => Job::Disarm(self.guards[g].take().unwrap()),
            Action::DropGuard { g } => Job::DropGuard(self.guards[g].take().unwrap()),
            Action::Advance { dur } => Job::Advance(self.driver.clone(), dur),
            Action::ClockRoot { dst } => Job::ClockRoot(self.driver.clone(), dst),
            Action::ClockTimeout {
                t,
                dur,
                absolute,
                cause,
                dst,
            } => Job::ClockTimeout(tok(self, t), self.epoch(), dur, absolute, cause, dst),
            Action::Reset {
                s,
                dur,
                absolute,
                max,
            } => Job::Reset(
                self.sources[s].clone().unwrap(),
                self.epoch(),
                dur,
                absolute,
                max,
            ),
            Action::Detach { t, dst } => Job::Detach(tok(self, t), dst),
        }
    }

    /// Puts what a job made into the pools.
    pub fn commit(&mut self, d: Done) -> Outcome {
        match d {
            Done::Nothing => Outcome::None,
            Done::Source(i, s) => {
                assert!(self.sources[i].replace(Arc::new(s)).is_none());
                Outcome::None
            }
            Done::Token(i, t) => {
                assert!(self.tokens[i].replace(Arc::new(t)).is_none());
                Outcome::None
            }
            Done::Waiter(i, w, r) => {
                assert!(self.waiters[i].replace(w).is_none());
                Outcome::Poll(r)
            }
            Done::Guard(i, g) => {
                assert!(self.guards[i].replace(g).is_none());
                Outcome::None
            }
            Done::Disarmed(b) => Outcome::Disarm(b),
            Done::Reset(r) => Outcome::Reset(r),
        }
    }
}

// ---- observations -------------------------------------------------------------

/// A source's or token's view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HObs {
    pub cancelled: bool,
    pub reason: Option<Reason>,
    pub cause: Option<u8>,
    pub deadline: Option<u64>,
    /// `remaining()`.
    pub remaining: Option<Duration>,
    /// `deadline_instant()`, as the time since the driver's epoch.
    pub instant: Option<Duration>,
}

impl HObs {
    fn label(&self) -> Option<Label> {
        self.reason.map(|reason| Label {
            reason,
            cause: self.cause,
        })
    }
}

/// A waiter's wakes, and how many of its wakers a token holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WObs {
    pub wakes: usize,
    pub held: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CbObs {
    pub runs: u32,
    pub reason: Option<Reason>,
    pub alive: bool,
}

/// Everything compared after a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Obs {
    pub sources: Vec<Option<HObs>>,
    pub tokens: Vec<Option<HObs>>,
    pub waiters: Vec<Option<WObs>>,
    pub guards: Vec<Option<usize>>,
    pub cbs: Vec<CbObs>,
    pub pending: usize,
    pub now: u64,
}

fn hobs(t: &CancelToken, epoch: Instant) -> HObs {
    HObs {
        cancelled: t.is_cancelled(),
        reason: t.reason(),
        cause: cause_id(t.cause()),
        deadline: t.deadline().map(|d| d.ticks()),
        remaining: t.remaining(),
        instant: t.deadline_instant().map(|i| i.duration_since(epoch)),
    }
}

impl Real {
    pub fn observe(&self) -> Obs {
        use cancel_token::TimerDriver;
        let guards = self
            .guards
            .iter()
            .map(|g| g.as_ref().map(|_| usize::MAX))
            .collect();
        let epoch = self.epoch();
        Obs {
            sources: self
                .sources
                .iter()
                .map(|s| {
                    s.as_ref().map(|s| {
                        let h = hobs(&s.token(), epoch);
                        assert_eq!((s.is_cancelled(), s.reason()), (h.cancelled, h.reason));
                        h
                    })
                })
                .collect(),
            tokens: self
                .tokens
                .iter()
                .map(|t| t.as_deref().map(|t| hobs(t, epoch)))
                .collect(),
            waiters: self
                .waiters
                .iter()
                .map(|w| {
                    w.as_ref().map(|w| WObs {
                        wakes: w.wc.iter().map(|c| c.0.load(SeqCst)).sum(),
                        held: w.wc.iter().map(|c| Arc::strong_count(c) - 1).sum(),
                    })
                })
                .collect(),
            guards,
            cbs: self
                .cbs
                .iter()
                .map(|c| CbObs {
                    runs: c.runs.load(SeqCst),
                    reason: code_reason(c.reason.load(SeqCst)),
                    alive: Arc::strong_count(c) > 1,
                })
                .collect(),
            pending: self.driver.pending(),
            now: floor_ticks(self.driver.now()),
        }
    }
}

impl Model {
    pub fn observe(&self) -> Obs {
        let h = |n: &Option<usize>| {
            n.map(|n| {
                let s = self.nodes[n].state;
                HObs {
                    cancelled: s.is_some(),
                    reason: s.map(|l| l.reason),
                    cause: s.and_then(|l| l.cause),
                    deadline: self.effective_deadline(n),
                    remaining: self.remaining(n),
                    instant: self
                        .clock_of(n)
                        .and(self.effective_deadline(n))
                        .map(Duration::from_micros),
                }
            })
        };
        Obs {
            sources: self.sources.iter().map(h).collect(),
            tokens: self.tokens.iter().map(h).collect(),
            waiters: self
                .waiters
                .iter()
                .map(|w| {
                    w.as_ref().map(|w| {
                        let c = self.nodes[w.node].state.is_some();
                        WObs {
                            wakes: (w.registered && c) as usize,
                            held: (w.registered && !c) as usize,
                        }
                    })
                })
                .collect(),
            guards: self.guards.iter().map(|g| g.map(|_| usize::MAX)).collect(),
            cbs: self
                .callbacks
                .iter()
                .map(|c| CbObs {
                    runs: c.runs,
                    reason: c.reason,
                    alive: c.armed,
                })
                .collect(),
            pending: self.pending(),
            now: self.now,
        }
    }
}

/// Whether the crate's `real` view is the model's `model`. With `racy`, a token
/// may still hold a waker the model says was never taken or already woken: a
/// first poll that registers its waker as the token is cancelled (or a re-poll
/// right after the canceller took the old waker) returns `Ready` and leaves the
/// waker in the slot until the future is dropped. Wakes must still agree, but
/// for one spurious extra wake of a re-poll racing the wake.
fn matches(model: &Obs, real: &Obs, racy: bool) -> bool {
    if !racy {
        return model == real;
    }
    let mut r = real.clone();
    for (m, w) in model.waiters.iter().zip(&mut r.waiters) {
        if let (Some(m), Some(w)) = (m, w) {
            if m.held == 0 && w.held == 1 {
                w.held = 0;
            }
            // A re-poll racing the canceller's wake may be woken twice: the
            // waker slot (atomic-waker) wakes a waker registered while a wake is
            // in progress, and the canceller wakes the one it took. A spurious
            // wake is allowed by the `Future` contract; a lost one is not.
            if m.wakes == 1 && w.wakes == 2 {
                w.wakes = 1;
            }
        }
    }
    *model == r
}

// ---- two cancellations at once --------------------------------------------------

/// The cancellation waves `a` starts, in the model before it: each a label
/// and the nodes it starts at. An advance starts one at each due deadline,
/// labelled with that deadline's cause.
fn waves(pre: &Model, a: &Action) -> Option<Vec<(Label, Vec<usize>)>> {
    let one = |l: Label, s: usize| Some(vec![(l, vec![pre.sources[s]?])]);
    match *a {
        // Expires the source, if it moves to a due tick.
        Action::Reset { s, .. } => one(Label::expired(pre.nodes[pre.sources[s]?].cause), s),
        Action::Cancel { s, cause } => one(
            Label {
                reason: Reason::Cancelled,
                cause,
            },
            s,
        ),
        Action::DropSource { s } => one(Label::cancelled(), s),
        Action::Advance { dur } => {
            let now = pre.now.saturating_add(floor_ticks(dur));
            let mut out: Vec<(Label, Vec<usize>)> = Vec::new();
            for n in 0..pre.nodes.len() {
                if pre.nodes[n].deadline.is_some_and(|d| d <= now) {
                    let l = Label::expired(pre.nodes[n].cause);
                    match out.iter_mut().find(|(k, _)| *k == l) {
                        Some((_, origins)) => origins.push(n),
                        None => out.push((l, vec![n])),
                    }
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// Two cancellations with different labels, racing: each node takes the label
/// of whichever wave reaches it first, and a wave goes on only through nodes it
/// cancelled. With linked sources (a DAG) the result can match neither order,
/// e.g. `g` child of `p`, `L` linked to `g` and `p`: `cancel(g, c1) || cancel(p, c2)`
/// may end with g=c1 (g first) and L=c2 (p's link first).
///
/// Returns the model after A-then-B relabelled as the crate observed, if every
/// newly cancelled node that a handle shows has the label of a wave that can
/// reach it from one of its origins through nodes of that label (or nodes no
/// handle shows any more). The caller still compares everything else.
pub fn mixed(pre: &Model, ab: &Model, a: &Action, b: &Action, real: &Obs) -> Option<Model> {
    let all: Vec<(Label, Vec<usize>)> = [waves(pre, a)?, waves(pre, b)?].concat();
    let len = ab.nodes.len();
    let fresh: Vec<bool> = (0..len)
        .map(|n| pre.nodes.get(n).is_some_and(|p| p.state.is_none()) && ab.nodes[n].state.is_some())
        .collect();
    let mut seen: Vec<Option<Label>> = vec![None; len];
    let handles = ab
        .sources
        .iter()
        .zip(&real.sources)
        .chain(ab.tokens.iter().zip(&real.tokens));
    for (node, obs) in handles {
        if let (Some(n), Some(o)) = (node, obs) {
            if fresh[*n] {
                let l = o.label()?;
                if seen[*n].is_some_and(|s| s != l) || all.iter().all(|(k, _)| *k != l) {
                    return None;
                }
                seen[*n] = Some(l);
            }
        }
    }
    let reach = |origins: &[usize], l: Label| {
        let fits = |n: usize| fresh[n] && seen[n].is_none_or(|s| s == l);
        let mut hit = vec![false; len];
        let mut todo: Vec<usize> = origins.iter().copied().filter(|&n| fits(n)).collect();
        while let Some(n) = todo.pop() {
            if std::mem::replace(&mut hit[n], true) {
                continue;
            }
            for (i, m) in pre.nodes.iter().enumerate() {
                if (m.parent == Some(n) || m.linked.contains(&n)) && fits(i) {
                    todo.push(i);
                }
            }
        }
        hit
    };
    let reached: Vec<(Label, Vec<bool>)> = all.iter().map(|(l, o)| (*l, reach(o, *l))).collect();
    let mut m = ab.clone();
    for n in 0..len {
        if let Some(l) = seen[n] {
            if !reached.iter().any(|(k, hit)| *k == l && hit[n]) {
                return None;
            }
            m.nodes[n].state = Some(l);
        }
    }
    for (id, cb) in m.callbacks.iter_mut().enumerate() {
        let ran_now = cb.runs == 1 && pre.callbacks.get(id).is_none_or(|p| p.runs == 0);
        if ran_now && fresh[cb.node] {
            let r = real.cbs[id].reason;
            if all.iter().all(|(k, _)| r != Some(k.reason)) {
                return None;
            }
            cb.reason = seen[cb.node].map(|l| l.reason).or(r);
        }
    }
    Some(m)
}

/// Deadlines due at the same tick fire in the wheel's order, which nothing
/// specifies: a timed node whose own deadline is due with an ancestor's (one
/// capped to it, or an ancestor moved earlier to it) is cancelled with its
/// own cause or the ancestor's. The model fires them in node order.
///
/// Returns the model after `pre.advance` relabelled as the crate observed, if
/// every newly cancelled node that a handle shows has the label of a deadline
/// that could have reached it first: one due at the earliest tick at which any
/// due deadline reaches it, through nodes of that label (or nodes no handle
/// shows). The caller still compares everything else.
pub fn same_tick(pre: &Model, post: &Model, real: &Obs) -> Option<Model> {
    let len = post.nodes.len();
    let fresh: Vec<bool> = (0..len)
        .map(|n| pre.nodes[n].state.is_none() && post.nodes[n].state.is_some())
        .collect();
    let mut seen: Vec<Option<Label>> = vec![None; len];
    let handles = post
        .sources
        .iter()
        .zip(&real.sources)
        .chain(post.tokens.iter().zip(&real.tokens));
    for (node, obs) in handles {
        if let (Some(n), Some(o)) = (node, obs) {
            if fresh[*n] {
                let l = o.label()?;
                if seen[*n].is_some_and(|s| s != l) {
                    return None;
                }
                seen[*n] = Some(l);
            }
        }
    }
    let mut ticks: Vec<u64> = (0..len)
        .filter(|&n| fresh[n])
        .filter_map(|n| pre.nodes[n].deadline)
        .filter(|&d| d <= post.now)
        .collect();
    ticks.sort_unstable();
    ticks.dedup();
    let mut done = vec![false; len];
    let mut ok = vec![false; len];
    for t in ticks {
        let origins: Vec<usize> = (0..len)
            .filter(|&n| fresh[n] && !done[n] && pre.nodes[n].deadline == Some(t))
            .collect();
        for &o in &origins {
            let l = Label::expired(pre.nodes[o].cause);
            let fits = |n: usize| fresh[n] && !done[n] && seen[n].is_none_or(|s| s == l);
            let mut hit = vec![false; len];
            let mut todo: Vec<usize> = [o].into_iter().filter(|&n| fits(n)).collect();
            while let Some(n) = todo.pop() {
                if std::mem::replace(&mut hit[n], true) {
                    continue;
                }
                for (i, m) in pre.nodes.iter().enumerate() {
                    if (m.parent == Some(n) || m.linked.contains(&n)) && fits(i) {
                        todo.push(i);
                    }
                }
            }
            for n in 0..len {
                ok[n] |= hit[n] && seen[n] == Some(l);
            }
        }
        // Reached at this tick by some deadline, whatever its label: no later
        // deadline can be the one that cancels it.
        let mut todo: Vec<usize> = origins;
        while let Some(n) = todo.pop() {
            if !fresh[n] || done[n] {
                continue;
            }
            done[n] = true;
            for (i, m) in pre.nodes.iter().enumerate() {
                if m.parent == Some(n) || m.linked.contains(&n) {
                    todo.push(i);
                }
            }
        }
    }
    let mut m = post.clone();
    for n in 0..len {
        if let Some(l) = seen[n] {
            if !ok[n] {
                return None;
            }
            m.nodes[n].state = Some(l);
        }
    }
    Some(m)
}

// ---- the second thread --------------------------------------------------------

type Msg = (Job, Option<Arc<AtomicUsize>>);

struct Worker {
    tx: Sender<Msg>,
    rx: Receiver<Done>,
}

fn worker() -> &'static Mutex<Worker> {
    static W: OnceLock<Mutex<Worker>> = OnceLock::new();
    W.get_or_init(|| {
        let (tx, jobs) = channel::<Msg>();
        let (done, rx) = channel();
        std::thread::Builder::new()
            .name("fuzz-worker".into())
            .spawn(move || {
                for (job, gate) in jobs {
                    if let Some(g) = gate {
                        arrive(&g);
                    }
                    if done.send(job.run()).is_err() {
                        return;
                    }
                }
            })
            .unwrap();
        Mutex::new(Worker { tx, rx })
    })
}

/// Both threads wait here, so the two jobs of a pair start together.
fn arrive(gate: &AtomicUsize) {
    gate.fetch_add(1, SeqCst);
    let mut spins = 0u32;
    while gate.load(SeqCst) < 2 {
        spins += 1;
        if spins < 200 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

// ---- the harness --------------------------------------------------------------

pub struct Harness {
    real: Real,
    model: Model,
    trace: Vec<String>,
    racy: bool,
    verbose: bool,
}

impl Harness {
    fn new(racy: bool) -> Self {
        Harness {
            real: Real::default(),
            model: Model::default(),
            trace: Vec::new(),
            racy,
            verbose: std::env::var_os("CT_FUZZ_TRACE").is_some(),
        }
    }

    fn note(&mut self, line: String) {
        if self.verbose {
            eprintln!("{line}");
        }
        self.trace.push(line);
    }

    fn fail(&self, what: &str, model: &Obs, real: &Obs) -> ! {
        let mut diff = String::new();
        let mut field = |name: &str, m: String, r: String| {
            if m != r {
                diff += &format!(
                    "  {name}: model {m}\n  {:w$}  crate {r}\n",
                    "",
                    w = name.len()
                );
            }
        };
        fn each<T: fmt::Debug>(
            f: &mut impl FnMut(&str, String, String),
            n: &str,
            m: &[T],
            r: &[T],
        ) {
            for i in 0..m.len().max(r.len()) {
                let show = |x: Option<&T>| x.map_or("(missing)".into(), |x| format!("{x:?}"));
                f(&format!("{n}[{i}]"), show(m.get(i)), show(r.get(i)));
            }
        }
        each(&mut field, "source", &model.sources, &real.sources);
        each(&mut field, "token", &model.tokens, &real.tokens);
        each(&mut field, "waiter", &model.waiters, &real.waiters);
        each(&mut field, "guard", &model.guards, &real.guards);
        each(&mut field, "callback", &model.cbs, &real.cbs);
        field(
            "pending",
            model.pending.to_string(),
            real.pending.to_string(),
        );
        field("now", model.now.to_string(), real.now.to_string());
        panic!(
            "DIVERGENCE: {what}\nsteps:\n{}\ndiffering observables:\n{diff}",
            self.trace.join("\n")
        );
    }

    fn single(&mut self, action: Action, on_worker: bool) {
        self.note(format!(
            "{:>4} [{}] {action:?}",
            self.trace.len(),
            if on_worker { "worker" } else { "main" }
        ));
        let pre = matches!(action, Action::Advance { .. }).then(|| self.model.clone());
        let job = self.real.prepare(&action);
        let done = if on_worker {
            let w = worker().lock().unwrap_or_else(|e| e.into_inner());
            w.tx.send((job, None)).unwrap();
            w.rx.recv().expect("the worker thread died")
        } else {
            job.run()
        };
        let got = self.real.commit(done);
        let want = self.model.apply(&action);
        let (m, r) = (self.model.observe(), self.real.observe());
        if got != want {
            self.fail(&format!("outcome: model {want:?}, crate {got:?}"), &m, &r);
        }
        if !matches(&m, &r, self.racy) {
            match pre.and_then(|pre| same_tick(&pre, &self.model, &r)) {
                Some(alt) if matches(&alt.observe(), &r, self.racy) => {
                    self.note("       (deadlines due at one tick, in another order)".into());
                    self.model = alt;
                }
                _ => self.fail("state", &m, &r),
            }
        }
    }

    fn pair(&mut self, a: Action, b: Action) {
        self.note(format!("{:>4} [pair] {a:?} || {b:?}", self.trace.len()));
        let (ja, jb) = (self.real.prepare(&a), self.real.prepare(&b));
        let gate = Arc::new(AtomicUsize::new(0));
        let (da, db) = {
            let w = worker().lock().unwrap_or_else(|e| e.into_inner());
            w.tx.send((jb, Some(gate.clone()))).unwrap();
            arrive(&gate);
            let da = ja.run();
            (da, w.rx.recv().expect("the worker thread died"))
        };
        let got = (self.real.commit(da), self.real.commit(db));
        let r = self.real.observe();
        let mut ab = self.model.clone();
        let want_ab = (ab.apply(&a), ab.apply(&b));
        let mut ba = self.model.clone();
        let (ob, oa) = (ba.apply(&b), ba.apply(&a));
        let oab = ab.observe();
        if got == want_ab && matches(&oab, &r, true) {
            self.model = ab;
        } else if got == (oa, ob) && matches(&ba.observe(), &r, true) {
            self.model = ba;
        } else if let Some(m) = mixed(&self.model, &ab, &a, &b, &r)
            .filter(|m| got == want_ab && matches(&m.observe(), &r, true))
        {
            self.note("       (a mix of both orders)".into());
            self.model = m;
        } else if let Some(m) = self.early_reset(&a, &b, got, &r) {
            self.note("       (the reset counted from the clock before the advance)".into());
            self.model = m;
        } else if let Some(m) = self.same_tick_pair(&a, &b, got, &r) {
            self.note("       (deadlines due at one tick, in another order)".into());
            self.model = m;
        } else {
            let what = format!(
                "pair matches neither order: crate {got:?}, A-then-B {want_ab:?}, B-then-A {:?}; state compared with A-then-B",
                (oa, ob)
            );
            self.fail(&what, &oab, &r);
        }
    }

    /// An advance in a pair fires the deadlines due at one tick in the
    /// wheel's order, as it does alone ([`same_tick`]): either order of the
    /// pair, with the advance's firings relabelled.
    fn same_tick_pair(
        &self,
        a: &Action,
        b: &Action,
        got: (Outcome, Outcome),
        r: &Obs,
    ) -> Option<Model> {
        let advance = |x: &Action| matches!(x, Action::Advance { .. });
        for (x, y, flip) in [(a, b, false), (b, a, true)] {
            let mut mid = self.model.clone();
            let ox = mid.apply(x);
            let mut post = mid.clone();
            let oy = post.apply(y);
            if got != if flip { (oy, ox) } else { (ox, oy) } {
                continue;
            }
            if advance(y) {
                if let Some(alt) = same_tick(&mid, &post, r) {
                    if matches(&alt.observe(), r, true) {
                        return Some(alt);
                    }
                }
            }
            if advance(x) {
                if let Some(mut alt) = same_tick(&self.model, &mid, r) {
                    if alt.apply(y) == oy && matches(&alt.observe(), r, true) {
                        return Some(alt);
                    }
                }
            }
        }
        None
    }

    /// A relative reset beside an advance may read the clock before the
    /// advance and move the deadline after it: the advance, then a reset to
    /// the tick it read plus its duration (alone, or mixed with the
    /// advance's firings).
    fn early_reset(
        &self,
        a: &Action,
        b: &Action,
        got: (Outcome, Outcome),
        r: &Obs,
    ) -> Option<Model> {
        let early = |x: &Action| match *x {
            Action::Reset {
                s,
                dur,
                absolute: false,
                max: false,
            } => Some(Action::Reset {
                s,
                dur: Duration::from_micros(self.model.now).saturating_add(dur),
                absolute: true,
                max: false,
            }),
            _ => None,
        };
        let (adv, reset, flip) = match (a, b) {
            (Action::Advance { .. }, x) => (a, early(x)?, false),
            (x, Action::Advance { .. }) => (b, early(x)?, true),
            _ => return None,
        };
        let mut m = self.model.clone();
        let (o_adv, o_reset) = (m.apply(adv), m.apply(&reset));
        let want = if flip {
            (o_reset, o_adv)
        } else {
            (o_adv, o_reset)
        };
        if got != want {
            return None;
        }
        if matches(&m.observe(), r, true) {
            return Some(m);
        }
        mixed(&self.model, &m, adv, &reset, r).filter(|m| matches(&m.observe(), r, true))
    }

    /// Polls every waiter, then drops every handle, checking after each.
    fn finish(&mut self) {
        for w in 0..N {
            if self.model.waiters[w].is_some() {
                self.single(Action::Poll { w, alt: false }, false);
            }
        }
        for s in 0..N {
            if self.model.sources[s].is_some() {
                self.single(Action::DropSource { s }, false);
            }
        }
        for g in 0..N {
            if self.model.guards[g].is_some() {
                self.single(Action::DropGuard { g }, false);
            }
        }
        for w in 0..N {
            if self.model.waiters[w].is_some() {
                self.single(Action::DropWaiter { w }, false);
            }
        }
        for t in 0..N {
            if self.model.tokens[t].is_some() {
                self.single(Action::DropToken { t }, false);
            }
        }
        let r = self.real.observe();
        assert_eq!(r.pending, 0, "deadlines left armed");
        assert!(
            r.cbs.iter().all(|c| !c.alive),
            "callback closures left alive"
        );
    }
}

/// The `model` target: every operation on one thread.
pub fn run_model(data: &[u8]) {
    let mut h = Harness::new(false);
    for op in decode_model(data) {
        let a = resolve(&op, &h.model, &[], h.real.cbs.len());
        h.single(a, false);
    }
    h.finish();
}

/// The `threads` target: operations on the main thread, on the worker, or a
/// pair of them at once.
pub fn run_threads(data: &[u8]) {
    let mut h = Harness::new(true);
    for step in decode_threads(data) {
        match step {
            Step::Main(op) | Step::Worker(op) => {
                let a = resolve(&op, &h.model, &[], h.real.cbs.len());
                h.single(a, matches!(step, Step::Worker(_)));
            }
            Step::Pair(x, y) => {
                let next = h.real.cbs.len();
                let a = resolve(&x, &h.model, &[], next);
                let b = resolve(
                    &y,
                    &h.model,
                    &uses(&a),
                    next + matches!(a, Action::OnCancel { .. }) as usize,
                );
                h.pair(a, b);
            }
        }
    }
    h.finish();
}

#[cfg(test)]
mod seeds;
