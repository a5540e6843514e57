//! A deadline across three hops, client → A → B, on real HTTP/2 servers on
//! 127.0.0.1 in one process, with the timeline printed: each hop's budget
//! as it arrives, and who cancelled whom, and why.
//!
//! 1. The client gives the call 300 ms; B is slow. Each hop's budget is the
//!    client's less the time spent; at the deadline the calls unwind.
//! 2. The client goes away after 100 ms: A's token is cancelled, A's call
//!    to B is dropped (`RST_STREAM`), B's token is cancelled; A's detached
//!    audit job goes on and finishes.
//!
//! Run with `cargo run --example deadline_chain` in `tower/`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cancel_token::{CancelSource, CancelToken, TokioDriver};
use cancel_token_tower::{ClientDeadlineLayer, ServerDeadlineLayer};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, ServiceExt};

static START: Mutex<Option<Instant>> = Mutex::new(None);

/// Starts the timeline anew.
fn restart() -> Instant {
    let now = Instant::now();
    *START.lock().unwrap() = Some(now);
    now
}

/// Prints `what` at the time since the scenario started.
fn at(who: &str, what: impl std::fmt::Display) {
    let start = *START.lock().unwrap();
    let ms = start.map_or(0.0, |s| s.elapsed().as_secs_f64() * 1e3);
    println!("{ms:8.1} ms  {who:<7} {what}");
}

/// How a token ended, for the timeline.
fn why(token: &CancelToken) -> String {
    match (token.reason(), token.cause()) {
        (Some(reason), Some(cause)) => format!("{reason} ({cause})"),
        (Some(reason), None) => reason.to_string(),
        (None, _) => "not cancelled".into(),
    }
}

fn budget(token: &CancelToken) -> String {
    match token.remaining() {
        Some(left) => format!("{:.1} ms left", left.as_secs_f64() * 1e3),
        None => "no deadline".into(),
    }
}

type Body = Full<Bytes>;

async fn serve<S>(service: S) -> SocketAddr
where
    S: tower::Service<
            Request<Incoming>,
            Response = Response<cancel_token_tower::DeadlineBody<Body>>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    addr
}

async fn connect(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<Body> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    sender
}

/// A client layer over one HTTP/2 connection.
async fn client(
    addr: SocketAddr,
) -> impl tower::Service<
    Request<Body>,
    Response = Response<cancel_token_tower::CallBody<Incoming>>,
    Error = cancel_token_tower::CallError<hyper::Error>,
    Future: Send,
> + Clone
       + Send
       + 'static {
    let sender = connect(addr).await;
    ClientDeadlineLayer::new().layer(tower::service_fn(move |req| {
        sender.clone().send_request(req)
    }))
}

fn grpc_request(token: &CancelToken) -> Request<Body> {
    let mut request = Request::builder()
        .method("POST")
        .uri("http://127.0.0.1/chain")
        .header("content-type", "application/grpc")
        .body(Full::new(Bytes::new()))
        .unwrap();
    request.extensions_mut().insert(token.clone());
    request
}

fn grpc_status(code: &str) -> Response<Body> {
    Response::builder()
        .header("content-type", "application/grpc")
        .header("grpc-status", code)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// The `grpc-status` and `grpc-message` of a trailers-only response.
fn status<B>(response: &Response<B>) -> String {
    let get = |name| {
        response
            .headers()
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or(""))
    };
    format!("grpc-status {} {}", get("grpc-status"), get("grpc-message"))
}

/// Watches `token` and prints how it ended, as it does.
fn watch(who: &'static str, token: &CancelToken) -> cancel_token::OnCancel {
    let seen = token.clone();
    token.on_cancel(move |_| at(who, format_args!("token cancelled: {}", why(&seen))))
}

/// Prints its message if dropped before it is forgotten.
struct Dropped(&'static str, &'static str);

impl Drop for Dropped {
    fn drop(&mut self) {
        at(self.0, self.1);
    }
}

/// The cause of the client's own deadline.
#[derive(Debug)]
struct ClientBudget;

impl std::fmt::Display for ClientBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the client's 300 ms budget is spent")
    }
}

impl std::error::Error for ClientBudget {}

async fn start_b(server: &CancelToken) -> SocketAddr {
    let handler = tower::service_fn(|req: Request<Incoming>| async move {
        let token = req.extensions().get::<CancelToken>().unwrap().clone();
        at("B", format_args!("request in, {}", budget(&token)));
        let _watch = watch("B", &token);
        tokio::time::sleep(Duration::from_secs(10)).await; // slow
        Ok::<_, Infallible>(grpc_status("0"))
    });
    serve(ServerDeadlineLayer::new(server).layer(handler)).await
}

async fn start_a(server: &CancelToken, b: SocketAddr) -> SocketAddr {
    let to_b = client(b).await;
    let handler = tower::service_fn(move |req: Request<Incoming>| {
        let to_b = to_b.clone();
        async move {
            let token = req.extensions().get::<CancelToken>().unwrap().clone();
            at("A", format_args!("request in, {}", budget(&token)));
            let _watch = watch("A", &token);
            let dropped = Dropped("A", "its call to B dropped");
            // Work that must outlive the request: on the server's clock,
            // with a budget of its own, out of reach of the client.
            let audit = token.detached();
            tokio::spawn(async move {
                let job = audit.child_with_timeout(Duration::from_secs(1));
                let work = tokio::time::sleep(Duration::from_millis(250));
                match job.run_until_cancelled(work).await {
                    Ok(()) => at("A/job", "detached audit job done"),
                    Err(reason) => at("A/job", format_args!("detached audit job: {reason}")),
                }
            });
            at("A", "calling B");
            let answer = match to_b.oneshot(grpc_request(&token)).await {
                Ok(response) => status(&response),
                Err(e) => e.to_string(),
            };
            std::mem::forget(dropped);
            at("A", format_args!("B answered: {answer}"));
            Ok::<_, Infallible>(grpc_status("0"))
        }
    });
    serve(ServerDeadlineLayer::new(server).layer(handler)).await
}

#[tokio::main]
async fn main() {
    let server = CancelSource::with_clock(TokioDriver::current());
    let b = start_b(&server).await;
    let a = start_a(&server, b).await;
    let to_a = client(a).await;
    let app = CancelSource::with_clock(TokioDriver::current());

    println!("1. the client gives the call 300 ms; B is slow");
    restart();
    let call = app.child_with_timeout_cause(Duration::from_millis(300), &ClientBudget);
    at("client", format_args!("calling A, {}", budget(&call)));
    let _watch = watch("client", &call);
    match to_a.clone().oneshot(grpc_request(&call)).await {
        Ok(response) => {
            let text = status(&response);
            let _ = response.into_body().collect().await;
            at("client", format_args!("A answered: {text}"));
        }
        Err(e) => at("client", e),
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(_watch);

    println!("\n2. the client goes away after 100 ms");
    let start = restart();
    let call = app.child();
    at("client", format_args!("calling A, {}", budget(&call)));
    let mut pending = Box::pin(to_a.oneshot(grpc_request(&call)));
    tokio::select! {
        _ = &mut pending => unreachable!("B is slow"),
        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
    }
    at("client", "goes away (drops the call's future)");
    drop(pending);
    tokio::time::sleep(Duration::from_millis(400)).await;
    println!("\ndone in {:.0} ms", start.elapsed().as_secs_f64() * 1e3);
}
