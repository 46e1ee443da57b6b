//! A real HTTP server on loopback, answering from a closure, counting requests.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use tokio::net::TcpListener;

/// What a request asked for: its path and query, and its `Authorization` header.
pub struct Asked {
    /// `/fx/rates?page=2`.
    pub path_and_query: String,
    /// The `Authorization` header, if sent.
    pub authorization: Option<String>,
    /// How many requests came before this one.
    pub earlier: usize,
}

type Handler = dyn Fn(&Asked) -> (u16, String) + Send + Sync;

/// A running server; it stops when dropped.
pub struct HttpServer {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// Starts a server on a free loopback port that answers each request with `handler`'s status and JSON body.
    pub async fn start(handler: impl Fn(&Asked) -> (u16, String) + Send + Sync + 'static) -> Self {
        let handler: Arc<Handler> = Arc::new(handler);
        let requests = Arc::new(AtomicUsize::new(0));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let counter = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            while let Ok((socket, _)) = listener.accept().await {
                let (handler, counter) = (Arc::clone(&handler), Arc::clone(&counter));
                let service = service_fn(move |request: Request<Incoming>| {
                    let asked = Asked {
                        path_and_query: request
                            .uri()
                            .path_and_query()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                        authorization: request
                            .headers()
                            .get("authorization")
                            .and_then(|value| value.to_str().ok())
                            .map(str::to_owned),
                        earlier: counter.fetch_add(1, Ordering::SeqCst),
                    };
                    let (status, body) = handler(&asked);
                    let response = Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body)))
                        .unwrap();
                    async move { Ok::<_, Infallible>(response) }
                });
                tokio::spawn(
                    http.serve_connection(TokioIo::new(socket), service)
                        .into_owned(),
                );
            }
        });
        Self {
            base_url,
            requests,
            task,
        }
    }

    /// Requests served so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
