//! Go's detached timeout: a request handler starts background work that must
//! outlive the request (Go's `context.WithoutCancel`) yet give up after 10
//! minutes (`context.WithTimeout`), and answers "started" at once.
//!
//! The work's token is the request's, detached (`request.detached()`, Go's
//! `WithoutCancel`): the request ending does not cancel it, yet it keeps the
//! tree's clock, the server's `TokioDriver`, for its own timeout. Tokio's
//! clock is paused, so the 10-minute case runs instantly.
//!
//! Run with `cargo run --example detached_timeout --features tokio`.

use std::time::Duration;

use cancel_token::{CancelSource, CancelToken, TokioDriver};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How long background work may run, whatever happens to its request.
const JOB_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// What every handler sees: the server's timer driver (for the log: the
/// handler names no driver), and the background jobs still running.
struct Server {
    driver: TokioDriver,
    jobs: JoinSet<()>,
    epoch: Instant,
}

impl Server {
    /// Virtual time since the server started, for the log.
    fn at(&self) -> String {
        at(self.epoch)
    }
}

fn at(epoch: Instant) -> String {
    format!("[{:>5.1} s]", epoch.elapsed().as_secs_f64())
}

/// A request handler. `request` is the request's token: it is cancelled when
/// the request ends. The job it starts takes `job_len`.
async fn handle(
    server: &mut Server,
    id: u32,
    request: CancelToken,
    job_len: Duration,
) -> &'static str {
    let before = server.driver.pending();
    // Not `request.child_with_timeout(..)`: that would die with the request.
    let job = request.detached().child_with_timeout(JOB_TIMEOUT);
    println!(
        "{} request {id}: starting a job of {job_len:?} (timeout {JOB_TIMEOUT:?}); deadlines pending {before} -> {}",
        server.at(),
        server.driver.pending()
    );
    let driver = server.driver.clone();
    let epoch = server.epoch;
    server.jobs.spawn(async move {
        let work = tokio::time::sleep(job_len);
        let outcome = job.token().run_until_cancelled(work).await;
        let before = driver.pending();
        match outcome {
            Ok(()) => println!("{} job {id}: done, before its timeout", at(epoch)),
            Err(reason) => println!("{} job {id}: gave up: {reason:?}", at(epoch)),
        }
        // The job is over: dropping its source releases its timer now, not
        // at the 10-minute mark.
        drop(job);
        // After an expiry the fired deadline is already out of the driver.
        println!(
            "{} job {id}: source dropped; deadlines pending {before} -> {}",
            at(epoch),
            driver.pending()
        );
    });
    let _ = request;
    "started"
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let driver = TokioDriver::current();
    let root = CancelSource::with_clock(driver.clone());
    let mut server = Server {
        driver,
        jobs: JoinSet::new(),
        epoch: Instant::now(),
    };

    for (id, job_len) in [
        (1, Duration::from_secs(2)),
        (2, Duration::from_secs(15 * 60)),
    ] {
        // The request's own token, cancelled when the request ends.
        let request = root.token().child();
        let reply = handle(&mut server, id, request.token(), job_len).await;
        println!("{} request {id}: replied {reply:?}", server.at());
        request.cancel();
        println!(
            "{} request {id}: ended (request token cancelled: {}); background jobs running: {}",
            server.at(),
            request.is_cancelled(),
            server.jobs.len()
        );
        // Wait for the job to end before the next request, to watch its timer go.
        while let Some(done) = server.jobs.join_next().await {
            done.expect("a job panicked");
        }
    }

    println!(
        "{} all jobs over; deadlines pending: {}",
        server.at(),
        server.driver.pending()
    );
    assert_eq!(server.driver.pending(), 0);
}
