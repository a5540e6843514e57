//! The reference model: single-threaded, no pointers, no cleverness.
//!
//! A node is cancelled once, with a label (reason, cause id); cancelling spreads
//! to every live descendant (tree children and linked dependents) with the same
//! label. Deadlines are plain numbers compared with the clock.

use crate::{Action, Label, Outcome, N};
use cancel_token::{Reason, ResetError};

#[derive(Clone, Debug, Default)]
pub struct Node {
    pub parent: Option<usize>, // tree parent (child, child_with_timeout_on)
    pub linked: Vec<usize>,    // parents of a linked source
    pub deadline: Option<u64>, // its own deadline, if one was armed at creation
    pub never: bool,           // `CancelToken::never()`
    pub state: Option<Label>,
    pub timed: bool, // a timed node: made with a deadline of its own, or a clock root
    pub clock_root: bool, // `CancelSource::with_clock`, or a detached root
    pub covers: bool, // a child took its deadline as its own: it cannot move later
    pub cause: Option<u8>, // the cause its own deadline expires with
}

#[derive(Clone, Debug)]
pub struct Waiter {
    pub node: usize,
    pub registered: bool, // its first poll was Pending on a token that can be cancelled
}

#[derive(Clone, Debug, Default)]
pub struct Callback {
    pub node: usize,
    pub armed: bool, // registered and neither run nor removed
    pub runs: u32,
    pub reason: Option<Reason>,
}

#[derive(Clone, Debug, Default)]
pub struct Model {
    pub nodes: Vec<Node>,
    pub now: u64,
    pub sources: [Option<usize>; N],
    pub tokens: [Option<usize>; N],
    pub waiters: [Option<Waiter>; N],
    pub guards: [Option<usize>; N], // callback id
    pub callbacks: Vec<Callback>,   // by id
}

impl Model {
    pub fn cancel(&mut self, start: usize, label: Label) {
        let mut todo = vec![start];
        while let Some(n) = todo.pop() {
            if self.nodes[n].never || self.nodes[n].state.is_some() {
                continue;
            }
            self.nodes[n].state = Some(label);
            for cb in self
                .callbacks
                .iter_mut()
                .filter(|cb| cb.node == n && cb.armed)
            {
                cb.armed = false;
                cb.runs += 1;
                cb.reason = Some(label.reason);
            }
            for (i, m) in self.nodes.iter().enumerate() {
                if m.parent == Some(n) || m.linked.contains(&n) {
                    todo.push(i);
                }
            }
        }
    }

    /// The earliest own deadline of `n` and its tree ancestors.
    pub fn effective_deadline(&self, n: usize) -> Option<u64> {
        self.provider(n).map(|(d, _)| d)
    }

    /// The earliest own deadline of `n` and its tree ancestors, and the node
    /// whose deadline it is (the nearest of those that expire then).
    pub fn provider(&self, mut n: usize) -> Option<(u64, usize)> {
        let mut best: Option<(u64, usize)> = None;
        loop {
            if let Some(d) = self.nodes[n].deadline {
                if best.is_none_or(|(b, _)| d < b) {
                    best = Some((d, n));
                }
            }
            match self.nodes[n].parent {
                Some(p) => n = p,
                None => return best,
            }
        }
    }

    /// The clock root of `n`'s tree, if it has one.
    pub fn clock_of(&self, mut n: usize) -> Option<usize> {
        loop {
            if self.nodes[n].clock_root {
                return Some(n);
            }
            n = self.nodes[n].parent?;
        }
    }

    /// `remaining()`: the time to the effective deadline, on the tree's clock.
    pub fn remaining(&self, n: usize) -> Option<std::time::Duration> {
        self.clock_of(n)?;
        let d = self.effective_deadline(n)?;
        Some(std::time::Duration::from_micros(d.saturating_sub(self.now)))
    }

    /// A new child of `p` expiring at tick `at` (with `cause`), as
    /// `child_at_tick`: no timer if never, or if an ancestor's deadline comes
    /// no later (that deadline is then marked as taken by a child).
    fn timed_child(&mut self, dst: usize, p: usize, at: u64, cause: Option<u8>) {
        if at == u64::MAX {
            return self.create(dst, Some(p), vec![], None);
        }
        if let Some((_, h)) = self.provider(p).filter(|&(d, _)| d <= at) {
            self.nodes[h].covers = true;
            return self.create(dst, Some(p), vec![], None);
        }
        self.create(dst, Some(p), vec![], Some(at));
        let n = self.nodes.len() - 1;
        self.nodes[n].timed = true;
        self.nodes[n].cause = cause;
        if self.nodes[p].state.is_none() && at <= self.now {
            self.nodes[n].state = Some(Label::expired(cause));
        }
    }

    /// `reset_timeout` / `reset_deadline` of the node `n` to tick `at`.
    fn reset(&mut self, n: usize, at: u64) -> Result<(), ResetError> {
        let node = &self.nodes[n];
        if !node.timed || self.clock_of(n).is_none() {
            return Err(ResetError::NoDeadline);
        }
        // Capped at the parent's effective deadline, which the source then
        // takes as its own (marked as a capped `PinnedDeadline` marks it):
        // before the refusals below, so a refused move marks it too.
        let at = match node.parent.and_then(|p| self.provider(p)) {
            Some((d, h)) if d < at => {
                self.nodes[h].covers = true;
                d
            }
            _ => at,
        };
        if self.nodes[n].state.is_some() {
            return Err(ResetError::Cancelled);
        }
        let old = self.nodes[n].deadline.unwrap_or(u64::MAX);
        if at > old && self.nodes[n].covers {
            return Err(ResetError::Covered);
        }
        self.nodes[n].deadline = (at != u64::MAX).then_some(at);
        if at <= self.now {
            let l = Label::expired(self.nodes[n].cause);
            self.cancel(n, l);
        }
        Ok(())
    }

    /// A new source's node; born cancelled with its tree parent's label, else
    /// with the first cancelled linked parent's, else by a deadline already due.
    fn create(&mut self, dst: usize, parent: Option<usize>, linked: Vec<usize>, at: Option<u64>) {
        let born = parent
            .iter()
            .chain(&linked)
            .find_map(|&p| self.nodes[p].state);
        let due = at.filter(|&at| at <= self.now).map(|_| Label::deadline());
        let state = born.or(due);
        self.nodes.push(Node {
            parent,
            linked,
            deadline: at,
            never: false,
            state,
            ..Node::default()
        });
        self.sources[dst] = Some(self.nodes.len() - 1);
    }

    pub fn advance(&mut self, ticks: u64) {
        self.now = self.now.saturating_add(ticks);
        while let Some(n) = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].state.is_none())
            .filter(|&n| self.nodes[n].deadline.is_some_and(|at| at <= self.now))
            .min_by_key(|&n| self.nodes[n].deadline)
        {
            self.cancel(n, Label::expired(self.nodes[n].cause));
        }
    }

    /// Armed deadlines: those of live nodes.
    pub fn pending(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.deadline.is_some() && n.state.is_none())
            .count()
    }

    pub fn apply(&mut self, a: &Action) -> Outcome {
        let tok = |m: &Self, t: usize| m.tokens[t].unwrap();
        match *a {
            Action::Nop => {}
            Action::NewRoot { dst } => self.create(dst, None, vec![], None),
            Action::Child { t, dst } => self.create(dst, Some(tok(self, t)), vec![], None),
            Action::Linked { ref ts, dst } => {
                let ps = ts.iter().map(|&t| tok(self, t)).collect();
                self.create(dst, None, ps, None)
            }
            Action::Timeout {
                t,
                dur,
                absolute,
                dst,
            } => {
                let base = if absolute { 0 } else { self.now };
                let at = base.saturating_add(crate::ceil_ticks(dur));
                self.timed_child(dst, tok(self, t), at, None)
            }
            Action::ClockRoot { dst } => {
                self.create(dst, None, vec![], None);
                let n = self.nodes.len() - 1;
                (self.nodes[n].timed, self.nodes[n].clock_root) = (true, true);
            }
            Action::ClockTimeout {
                t,
                dur,
                absolute,
                cause,
                dst,
            } => {
                let base = if absolute { 0 } else { self.now };
                let at = base.saturating_add(crate::ceil_ticks(dur));
                self.timed_child(dst, tok(self, t), at, cause)
            }
            Action::Reset {
                s,
                dur,
                absolute,
                max,
            } => {
                let base = if absolute { 0 } else { self.now };
                let at = match max {
                    true => u64::MAX,
                    false => base.saturating_add(crate::ceil_ticks(dur)),
                };
                return Outcome::Reset(self.reset(self.sources[s].unwrap(), at));
            }
            Action::Detach { t, dst } => {
                let on_clock = self.clock_of(tok(self, t)).is_some();
                self.nodes.push(Node {
                    never: !on_clock,
                    timed: on_clock,
                    clock_root: on_clock,
                    ..Node::default()
                });
                self.tokens[dst] = Some(self.nodes.len() - 1);
            }
            Action::Cancel { s, cause } => self.cancel(
                self.sources[s].unwrap(),
                Label {
                    reason: Reason::Cancelled,
                    cause,
                },
            ),
            Action::DropSource { s } => {
                let n = self.sources[s].take().unwrap();
                self.cancel(n, Label::cancelled());
            }
            Action::TokenOf { s, dst } => self.tokens[dst] = self.sources[s],
            Action::CloneToken { t, dst } => self.tokens[dst] = self.tokens[t],
            Action::DropToken { t } => self.tokens[t] = None,
            Action::Never { dst } => {
                self.nodes.push(Node {
                    never: true,
                    ..Node::default()
                });
                self.tokens[dst] = Some(self.nodes.len() - 1);
            }
            Action::Wait { t, dst, .. } => {
                let node = tok(self, t);
                let n = &self.nodes[node];
                let registered = !n.never && n.state.is_none();
                self.waiters[dst] = Some(Waiter { node, registered });
                return Outcome::Poll(n.state.map(|l| l.reason));
            }
            Action::Poll { w, .. } => {
                let node = self.waiters[w].as_ref().unwrap().node;
                return Outcome::Poll(self.nodes[node].state.map(|l| l.reason));
            }
            Action::DropWaiter { w } => self.waiters[w] = None,
            Action::OnCancel { t, dst, id } => {
                let node = tok(self, t);
                let n = &self.nodes[node];
                let (runs, reason) = (n.state.is_some() as u32, n.state.map(|l| l.reason));
                let armed = !n.never && n.state.is_none();
                if self.callbacks.len() <= id {
                    self.callbacks.resize(id + 1, Callback::default());
                }
                self.callbacks[id] = Callback {
                    node,
                    armed,
                    runs,
                    reason,
                };
                self.guards[dst] = Some(id);
            }
            Action::Disarm { g } | Action::DropGuard { g } => {
                let cb = &mut self.callbacks[self.guards[g].take().unwrap()];
                cb.armed = false;
                if let Action::Disarm { .. } = a {
                    return Outcome::Disarm(cb.runs == 0);
                }
            }
            Action::Advance { dur } => self.advance(crate::floor_ticks(dur)),
        }
        Outcome::None
    }
}
