//! Interop with tonic, on 127.0.0.1: a tonic client's `set_timeout` is
//! honoured by the server layer, and the client layer's header by tonic's
//! server. Messages are prost derives and the services are written by hand
//! over `tonic::server::Grpc` and `tonic::client::Grpc`: no `protoc`.

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use cancel_token::{CancelSource, CancelToken, ManualDriver, TokioDriver};
use cancel_token_tower::{ClientDeadlineLayer, ServerDeadlineLayer};
use http::uri::PathAndQuery;
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_prost::ProstCodec;
use tower::Layer;

use support::{connect_with, serve, BoxError, BOUND};

/// The request: how long to sleep.
#[derive(Clone, PartialEq, prost::Message)]
struct Nap {
    #[prost(uint64, tag = "1")]
    millis: u64,
}

/// The answer: what the handler saw.
#[derive(Clone, PartialEq, prost::Message)]
struct Woke {
    #[prost(bool, tag = "1")]
    had_token: bool,
}

/// What the handler saw: the token's remaining time (behind the server
/// layer) and the `grpc-timeout` tonic handed it.
type Seen = (Option<Duration>, Option<String>);

/// A gRPC service `test.Napper` with one method, `Nap`.
#[derive(Clone)]
struct Napper {
    seen: mpsc::UnboundedSender<Seen>,
}

impl tonic::server::NamedService for Napper {
    const NAME: &'static str = "test.Napper";
}

struct NapMethod(mpsc::UnboundedSender<Seen>);

impl tonic::server::UnaryService<Nap> for NapMethod {
    type Response = Woke;
    type Future = Pin<Box<dyn Future<Output = Result<tonic::Response<Woke>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Nap>) -> Self::Future {
        let token = request.extensions().get::<CancelToken>().cloned();
        let header = request
            .metadata()
            .get("grpc-timeout")
            .map(|v| v.to_str().unwrap().to_owned());
        let _ = self
            .0
            .send((token.as_ref().and_then(|t| t.remaining()), header));
        let millis = request.into_inner().millis;
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            Ok(tonic::Response::new(Woke {
                had_token: token.is_some(),
            }))
        })
    }
}

impl<B> tower::Service<http::Request<B>> for Napper
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError> + Send,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = NapMethod(self.seen.clone());
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Woke, Nap>::default());
            Ok(grpc.unary(method, req).await)
        })
    }
}

/// Calls `Nap` through `client`.
async fn nap<T>(client: T, request: tonic::Request<Nap>) -> Result<Woke, Status>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<BoxError>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<BoxError> + Send,
{
    // The origin a `Channel` would add, for a plain hyper connection.
    let origin = http::Uri::from_static("http://127.0.0.1");
    let mut grpc = tonic::client::Grpc::with_origin(client, origin);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.into().to_string()))?;
    let path = PathAndQuery::from_static("/test.Napper/Nap");
    let codec = ProstCodec::<Nap, Woke>::default();
    grpc.unary(request, path, codec)
        .await
        .map(|r| r.into_inner())
}

async fn channel(addr: std::net::SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn nap_for(millis: u64, timeout: Option<Duration>) -> tonic::Request<Nap> {
    let mut request = tonic::Request::new(Nap { millis });
    if let Some(t) = timeout {
        request.set_timeout(t);
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_clients_timeout_is_honoured_by_the_server_layer() {
    tokio::time::timeout(BOUND, async {
        let server = CancelSource::with_clock(TokioDriver::current());
        let (seen, mut saw) = mpsc::unbounded_channel();
        let addr = serve(ServerDeadlineLayer::new(&server).layer(Napper { seen })).await;
        // tonic's client over a hyper connection: a tonic `Channel` would
        // also enforce the header on its side (as `CANCELLED`, "Timeout
        // expired"), first, since its timer starts before the server's.
        let channel = connect_with::<tonic::body::Body>(addr).await;

        // In time: an answer, and the handler had its budget as a token.
        let budget = Duration::from_millis(300);
        let woke = nap(channel.clone(), nap_for(10, Some(budget)))
            .await
            .unwrap();
        assert!(woke.had_token);
        let (left, _) = saw.recv().await.unwrap();
        let left = left.expect("a deadline from set_timeout");
        assert!(
            left <= budget && left > budget - Duration::from_millis(50),
            "{left:?}"
        );

        // Too slow: the server layer answers DEADLINE_EXCEEDED at the deadline.
        let started = Instant::now();
        let status = nap(channel, nap_for(5_000, Some(budget)))
            .await
            .unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        assert_eq!(
            status.message(),
            "deadline exceeded: the caller's grpc-timeout passed (budget 300ms)"
        );
        assert!(
            elapsed >= budget && elapsed < budget + Duration::from_millis(300),
            "{elapsed:?}"
        );
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_layers_header_is_enforced_by_a_tonic_server() {
    tokio::time::timeout(BOUND, async {
        let (seen, mut saw) = mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(
            tonic::transport::Server::builder().serve_with_incoming(Napper { seen }, incoming),
        );
        let client = ClientDeadlineLayer::new().layer(channel(addr).await);

        // The caller's clock is one that never moves by itself, so only
        // tonic's server can end the call: with its own status.
        let clock = ManualDriver::new();
        let root = CancelSource::with_clock(clock.clone());
        let budget = Duration::from_millis(300);
        let call = root.child_with_timeout(budget);
        let mut request = nap_for(5_000, None);
        request.extensions_mut().insert(call.token());
        let started = Instant::now();
        let status = nap(client, request).await.unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(
            (status.code(), status.message()),
            (Code::Cancelled, "Timeout expired")
        );
        assert!(elapsed >= budget - Duration::from_millis(5), "{elapsed:?}");
        assert!(elapsed < budget + Duration::from_millis(300), "{elapsed:?}");
        let (token, header) = saw.recv().await.unwrap();
        assert_eq!(token, None, "tonic's server has no token for the handler");
        assert_eq!(header.as_deref(), Some("300000u"));
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_client_over_the_client_layer_reports_deadline_exceeded() {
    tokio::time::timeout(BOUND, async {
        // A server that knows nothing of deadlines: only the caller's
        // token ends the call.
        // Through a hyper connection rather than a tonic `Channel`: a
        // `Channel` enforces the header on its side too (as `CANCELLED`,
        // "Timeout expired"), in a race with the token.
        let (seen, _saw) = mpsc::unbounded_channel();
        let addr = serve(Napper { seen }).await;
        let client =
            ClientDeadlineLayer::new().layer(connect_with::<tonic::body::Body>(addr).await);

        let root = CancelSource::with_clock(TokioDriver::current());
        let call = root.child_with_timeout(Duration::from_millis(200));
        let mut request = nap_for(5_000, None);
        request.extensions_mut().insert(call.token());
        let status = nap(client.clone(), request).await.unwrap_err();
        assert_eq!(
            (status.code(), status.message()),
            (Code::DeadlineExceeded, "deadline exceeded"),
            "{status:?}"
        );

        // Spent before the call: not sent, same status.
        let mut request = nap_for(0, None);
        request.extensions_mut().insert(call.token());
        let status = nap(client, request).await.unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded);
    })
    .await
    .expect("bounded");
}
