//! The reference model: single-threaded, no pointers, no cleverness.
//!
//! A node is cancelled once, with a label (reason, cause id); cancelling spreads
//! to every live descendant (tree children and linked dependents) with the same
//! label. Deadlines are plain numbers compared with the clock.

use crate::{Action, Label, Outcome, N};
use cancel_token::Reason;

#[derive(Clone, Debug, Default)]
pub struct Node {
    pub parent: Option<usize>, // tree parent (child, child_with_timeout_on)
    pub linked: Vec<usize>,    // parents of a linked source
    pub deadline: Option<u64>, // its own deadline, if one was armed at creation
    pub never: bool,           // `CancelToken::never()`
    pub state: Option<Label>,
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
    pub fn effective_deadline(&self, mut n: usize) -> Option<u64> {
        let mut best = self.nodes[n].deadline;
        while let Some(p) = self.nodes[n].parent {
            best = match (best, self.nodes[p].deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            n = p;
        }
        best
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
            self.cancel(n, Label::deadline());
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
                let p = tok(self, t);
                let base = if absolute { 0 } else { self.now };
                let at = base.saturating_add(crate::ceil_ticks(dur));
                // As `child_at_tick`: no timer if never, or if an ancestor's
                // deadline (fixed at creation) comes no later.
                let covered = self.effective_deadline(p).is_some_and(|d| d <= at);
                let at = (at != u64::MAX && !covered).then_some(at);
                self.create(dst, Some(p), vec![], at)
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
