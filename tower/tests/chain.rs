//! A three-hop chain, client → A → B, on real hyper HTTP/2 servers and
//! clients on 127.0.0.1 (real time: hyper's sockets do not run on tokio's
//! paused clock).

mod support;

use std::time::{Duration, Instant};

use cancel_token::{CancelSource, CancelToken, Reason, TokioDriver};
use cancel_token_tower::{ClientDeadlineLayer, ServerDeadlineLayer};
use http::Request;
use hyper::body::Incoming;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tower::{Layer, ServiceExt};

use support::*;

/// What the hops report, in the order it happens.
#[derive(Debug, PartialEq)]
enum Event {
    /// B's handler started, with its token's remaining time and deadline.
    BStarted(Duration, Instant),
    /// A's token was cancelled.
    AToken(Reason),
    /// A's call to B was dropped (its future went).
    ACallDropped,
    /// B's token was cancelled.
    BToken(Reason),
    /// A's detached job ran to its end, not cancelled.
    JobDone,
}

/// Sends `event` with the instant it happened.
type Events = UnboundedSender<(Event, Instant)>;

fn send(events: &Events, event: Event) {
    let _ = events.send((event, Instant::now()));
}

/// Reports `event` when dropped.
struct OnDrop(Events, fn() -> Event);

impl Drop for OnDrop {
    fn drop(&mut self) {
        send(&self.0, (self.1)());
    }
}

/// The request's token, as the server layer put it.
fn token_of<B>(req: &Request<B>) -> CancelToken {
    req.extensions()
        .get::<CancelToken>()
        .expect("the server layer's token")
        .clone()
}

/// B: reports its token, then sleeps far past any deadline.
async fn start_b(server: &CancelToken, events: Events) -> std::net::SocketAddr {
    let handler = tower::service_fn(move |req: Request<Incoming>| {
        let token = token_of(&req);
        let events = events.clone();
        async move {
            let left = token.remaining().expect("a budget");
            send(
                &events,
                Event::BStarted(left, token.deadline_instant().unwrap()),
            );
            let watch = events.clone();
            let _guard = token.on_cancel(move |reason| send(&watch, Event::BToken(reason)));
            tokio::time::sleep(Duration::from_secs(30)).await;
            ok(grpc_status(0))
        }
    });
    serve(ServerDeadlineLayer::new(server).layer(handler)).await
}

/// A: starts a detached job, calls B with its own token, and answers with
/// B's status (or its call's error as a status).
async fn start_a(
    server: &CancelToken,
    b: std::net::SocketAddr,
    events: Events,
) -> std::net::SocketAddr {
    let to_b = ClientDeadlineLayer::new().layer(connect(b).await);
    let handler = tower::service_fn(move |req: Request<Incoming>| {
        let token = token_of(&req);
        let events = events.clone();
        let to_b = to_b.clone();
        async move {
            let watch = events.clone();
            let _guard = token.on_cancel(move |reason| send(&watch, Event::AToken(reason)));
            let job = token.detached();
            let job_events = events.clone();
            tokio::spawn(async move {
                let work = tokio::time::sleep(Duration::from_millis(200));
                if job.run_until_cancelled(work).await.is_ok() {
                    send(&job_events, Event::JobDone);
                }
            });
            let mut call = grpc_request("/b");
            call.extensions_mut().insert(token.clone());
            let _dropped = OnDrop(events.clone(), || Event::ACallDropped);
            let code = match to_b.oneshot(call).await {
                Ok(response) => status_of(response).await.0.unwrap().parse().unwrap(),
                Err(e) => e.grpc_code().unwrap_or(14),
            };
            ok(grpc_status(code))
        }
    });
    serve(ServerDeadlineLayer::new(server).layer(handler)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_travels_and_a_answers_deadline_exceeded() {
    tokio::time::timeout(BOUND, async {
        let server = CancelSource::with_clock(TokioDriver::current());
        let (events, mut seen) = unbounded_channel();
        let b = start_b(&server, events.clone()).await;
        let a = start_a(&server, b, events).await;
        let client = connect(a).await;

        let budget = Duration::from_millis(300);
        let mut request = grpc_request("/a");
        request
            .headers_mut()
            .insert("grpc-timeout", "300m".parse().unwrap());
        let t0 = Instant::now();
        let response = client.oneshot(request).await.unwrap();
        let elapsed = t0.elapsed();
        let (code, message) = status_of(response).await;

        // A answered DEADLINE_EXCEEDED, at its deadline and not before.
        assert_eq!(code.as_deref(), Some("4"), "{message:?}");
        assert!(message.unwrap().contains("grpc-timeout passed"));
        assert!(elapsed >= budget, "answered early: {elapsed:?}");
        assert!(
            elapsed < budget + Duration::from_millis(200),
            "answered late: {elapsed:?}"
        );

        // B's token expires at the client's deadline, less the time spent
        // on the way (its own deadline is later only by the transit).
        let (first, _) = seen.recv().await.unwrap();
        let Event::BStarted(left, deadline) = first else {
            panic!("{first:?}")
        };
        assert!(
            left <= budget && left > budget - Duration::from_millis(50),
            "{left:?}"
        );
        let client_deadline = t0 + budget;
        let tolerance = Duration::from_millis(50);
        assert!(
            deadline <= client_deadline + tolerance,
            "{:?} late",
            deadline - client_deadline
        );
        assert!(
            deadline + tolerance >= client_deadline,
            "{:?} early",
            client_deadline - deadline
        );

        // B's token is cancelled, by its deadline or by A's reset: whichever
        // reaches it first.
        loop {
            let (event, _) = seen.recv().await.unwrap();
            if let Event::BToken(reason) = event {
                assert!(matches!(
                    reason,
                    Reason::DeadlineExceeded | Reason::Cancelled
                ));
                break;
            }
        }
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_request_cancels_every_hop_but_the_detached_job() {
    tokio::time::timeout(BOUND, async {
        let server = CancelSource::with_clock(TokioDriver::current());
        let (events, mut seen) = unbounded_channel();
        let b = start_b(&server, events.clone()).await;
        let a = start_a(&server, b, events).await;
        let client = ClientDeadlineLayer::new().layer(connect(a).await);

        let root = CancelSource::with_clock(TokioDriver::current());
        let request = root.child_with_timeout(Duration::from_secs(5));
        let mut call = grpc_request("/a");
        call.extensions_mut().insert(request.token());
        let mut call = Box::pin(client.oneshot(call));
        tokio::select! {
            r = &mut call => panic!("answered: {:?}", r.map(|r| r.status())),
            started = seen.recv() => assert!(matches!(started, Some((Event::BStarted(..), _)))),
        }
        // The client goes away: hyper resets the stream to A.
        let dropped = Instant::now();
        drop(call);

        let mut order = Vec::new();
        while order.len() < 4 {
            let (event, at) = seen.recv().await.unwrap();
            order.push(event);
            if order.last() == Some(&Event::BToken(Reason::Cancelled)) {
                assert!(
                    at - dropped < Duration::from_millis(500),
                    "B heard after {:?}",
                    at - dropped
                );
            }
        }
        assert_eq!(
            order,
            [
                Event::AToken(Reason::Cancelled),
                Event::ACallDropped,
                Event::BToken(Reason::Cancelled),
                Event::JobDone,
            ]
        );
    })
    .await
    .expect("bounded");
}
