//! Real HTTP/2 servers and clients on 127.0.0.1, for the tests.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};

/// Every test's bound: none can hang.
pub const BOUND: Duration = Duration::from_secs(10);

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves `service` over HTTP/2 on an ephemeral port of 127.0.0.1, on the
/// current runtime (its tasks end with the test's runtime).
pub async fn serve<S, B>(service: S) -> SocketAddr
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// A hyper HTTP/2 client connection to `addr`, as a tower service.
pub async fn connect(
    addr: SocketAddr,
) -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Incoming>,
    Error = hyper::Error,
    Future = impl Future<Output = Result<Response<Incoming>, hyper::Error>> + Send + 'static,
> + Clone
       + Send
       + 'static {
    connect_with(addr).await
}

/// [`connect`], for requests with a body of type `B`.
pub async fn connect_with<B>(
    addr: SocketAddr,
) -> impl tower::Service<
    Request<B>,
    Response = Response<Incoming>,
    Error = hyper::Error,
    Future = impl Future<Output = Result<Response<Incoming>, hyper::Error>> + Send + 'static,
> + Clone
       + Send
       + 'static
where
    B: Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    tower::service_fn(move |req: Request<B>| {
        let mut sender = sender.clone();
        sender.send_request(req)
    })
}

/// A gRPC-looking request to `path` with an empty message.
pub fn grpc_request(path: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method("POST")
        .uri(format!("http://127.0.0.1{path}"))
        .header("content-type", "application/grpc")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// A gRPC response: trailers-only with `code`.
pub fn grpc_status(code: u8) -> Response<Full<Bytes>> {
    Response::builder()
        .header("content-type", "application/grpc")
        .header("grpc-status", code.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// The `grpc-status` of a response, from its headers (trailers-only) or its
/// trailers.
pub async fn status_of<B>(response: Response<B>) -> (Option<String>, Option<String>)
where
    B: Body,
    B::Error: std::fmt::Debug,
{
    let (head, body) = response.into_parts();
    let get = |h: &http::HeaderMap| {
        (
            h.get("grpc-status").map(|v| v.to_str().unwrap().to_owned()),
            h.get("grpc-message")
                .map(|v| v.to_str().unwrap().to_owned()),
        )
    };
    if head.headers.contains_key("grpc-status") {
        return get(&head.headers);
    }
    let collected = body.collect().await.unwrap();
    collected.trailers().map(get).unwrap_or((None, None))
}

/// An empty body of any of the tests' types.
pub fn empty() -> Empty<Bytes> {
    Empty::new()
}

/// `Ok` for a `service_fn`.
pub fn ok<T>(t: T) -> Result<T, Infallible> {
    Ok(t)
}
