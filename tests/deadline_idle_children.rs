//! Children with nothing in their lists, cancelled by one compare-and-swap
//! of their state when an ancestor's deadline fires, report that reason.

use std::time::Duration;

use cancel_token::{CancelSource, ManualDriver, PinnedChild, Reason, StaticSource};

const T: Duration = Duration::from_millis(5);

#[test]
fn idle_children_of_an_expired_deadline_report_deadline_exceeded() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let job = root.token().child_with_timeout_on(&driver, T);
    // Idle children, an idle grandchild, and one that has a child of its own.
    let idle: Vec<CancelSource> = (0..3).map(|_| job.token().child()).collect();
    let busy = job.token().child();
    let grandchild = busy.token().child();
    let tokens: Vec<_> = idle.iter().map(CancelSource::token).collect();

    driver.advance_by(T);

    assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    for (i, s) in idle.iter().enumerate() {
        assert_eq!(s.reason(), Some(Reason::DeadlineExceeded), "idle child {i}");
        assert_eq!(tokens[i].reason(), Some(Reason::DeadlineExceeded));
        assert!(tokens[i].cause().is_none());
    }
    assert_eq!(busy.reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(grandchild.reason(), Some(Reason::DeadlineExceeded));
    // Born cancelled, with the reason of the expired parent.
    assert_eq!(job.token().child().reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(
        grandchild.token().child().reason(),
        Some(Reason::DeadlineExceeded)
    );
    assert!(!root.is_cancelled());
}

#[test]
fn idle_pinned_children_of_an_expired_deadline_report_deadline_exceeded() {
    static ROOT: StaticSource = StaticSource::new();
    let driver = ManualDriver::new();
    let job = ROOT.token().child_with_timeout_on(&driver, T);
    let token = job.token();
    let a = std::pin::pin!(PinnedChild::new(token.as_token_ref()));
    let b = std::pin::pin!(PinnedChild::new(token.as_token_ref()));
    let (a, b) = (a.as_ref(), b.as_ref());
    // Linked on first use.
    assert!(!a.is_cancelled() && !b.is_cancelled());

    driver.advance_by(T);

    assert_eq!(a.token().reason(), Some(Reason::DeadlineExceeded));
    assert_eq!(b.token().reason(), Some(Reason::DeadlineExceeded));
    assert!(!ROOT.is_cancelled());
}

#[test]
fn idle_children_cancelled_by_hand_report_cancelled() {
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let job = root.token().child_with_timeout_on(&driver, T);
    let idle: Vec<CancelSource> = (0..3).map(|_| job.token().child()).collect();
    job.cancel();
    for s in &idle {
        assert_eq!(s.reason(), Some(Reason::Cancelled));
    }
    driver.advance_by(T);
    for s in &idle {
        assert_eq!(s.reason(), Some(Reason::Cancelled));
    }
}
