//! The HTTP edge: everything between the TCP socket and the route handlers.
//!
//! Our own accept loop (warp 0.4 has no TLS and no connection settings) serves warp's route
//! tree through hyper-util's HTTP/1.1 + HTTP/2 connection builder, plain or over rustls, and
//! stops gracefully (in-flight requests finish). Around every request it:
//!
//! - decides who the client is ([`client`]: peer, believed address, scheme) and puts it, with
//!   the request id, into the request's extensions as a [`RequestInfo`] (read by routes with
//!   [`request_info`]);
//! - refuses pages asked for under a foreign `Host` ([`hardening`]);
//! - admits the body against its route's limit and the shared memory budget ([`bodies`]);
//! - adds the response headers for the kind of route ([`hardening`]), the request id, and
//!   writes the access-log line ([`access_log`]).
//!
//! Connections are bounded in number and time ([`connection`]); certificates reload without a
//! restart ([`tls`]); an optional plain-HTTP listener only redirects to HTTPS.

pub mod access_log;
pub mod bodies;
pub mod client;
pub mod connection;
pub mod hardening;
pub mod local;
pub mod routes;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http_body::Body as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower_service::Service as _;
use warp::Filter;
use warp::http::{HeaderValue, Method, Request, StatusCode};
use warp::reply::Response;

pub use access_log::RequestInfo;

use crate::metrics::requests::RequestMetrics;
pub use client::{ClientInfo, Scheme};

use crate::app::{App, StartError};
use crate::config::ServerConfig;
use bodies::{BodyLimits, EdgeBody, TooLarge};
use client::TrustedProxies;
use connection::{ConnState, TrackedIo};
use hardening::AllowedHosts;
use routes::RouteClass;

/// How long shutdown waits for in-flight requests before it gives up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Marks a response as the app-level 404 of a path no route matched (the access log then
/// does not show the path at all).
#[derive(Debug, Clone, Copy)]
pub struct Unmatched;

/// What the edge knows about the request, for routes: its client, id and `Host` verdict.
/// Outside the edge (routes served directly in tests) it is [`RequestInfo::unknown`].
pub fn request_info() -> impl Filter<Extract = (Arc<RequestInfo>,), Error = Infallible> + Clone {
    warp::ext::optional::<Arc<RequestInfo>>().map(|info: Option<Arc<RequestInfo>>| {
        info.unwrap_or_else(|| Arc::new(RequestInfo::unknown()))
    })
}

/// The edge's settings, shared by every listener and connection.
pub struct Edge {
    trusted: TrustedProxies,
    hosts: AllowedHosts,
    bodies: BodyLimits,
    header_read: Duration,
    idle: Duration,
    max_connections: usize,
    connections: Arc<Semaphore>,
}

impl Edge {
    pub fn from_config(server: &ServerConfig, listening: &[SocketAddr]) -> Edge {
        let header_read = Duration::from_secs(server.header_read_timeout_secs);
        let max_connections = effective_max_connections(server.max_connections);
        Edge {
            trusted: TrustedProxies::parse(&server.trusted_proxies),
            hosts: AllowedHosts::from_config(server, listening),
            bodies: BodyLimits::new(&server.bodies, header_read),
            header_read,
            idle: Duration::from_secs(server.idle_timeout_secs),
            max_connections,
            connections: Arc::new(Semaphore::new(max_connections)),
        }
    }
}

/// The configured maximum, lowered to 3/4 of the process's open-files limit when that is less,
/// so the store, the index and the CLI's own connections always find a file descriptor.
fn effective_max_connections(configured: usize) -> usize {
    match open_files_limit() {
        Some(limit) if limit / 4 * 3 < configured as u64 => {
            let lowered = ((limit / 4 * 3) as usize).max(16);
            tracing::info!(
                configured,
                lowered,
                open_files_limit = limit,
                "server.max_connections lowered to fit the open-files limit"
            );
            lowered
        }
        _ => configured,
    }
}

/// The soft `RLIMIT_NOFILE`, from /proc (Linux); `None` elsewhere or when unlimited.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

type RouteFuture = Pin<Box<dyn Future<Output = Response> + Send>>;
/// warp's route tree as a function of a request.
type Routes = Arc<dyn Fn(Request<EdgeBody<Incoming>>) -> RouteFuture + Send + Sync>;

/// What a listener does with requests.
enum Handler {
    App(Routes),
    /// The plain-HTTP listener beside an HTTPS one: redirect everything.
    Redirect(Redirect),
}

/// One listening socket's way of serving connections.
struct ListenerCtx {
    edge: Arc<Edge>,
    handler: Handler,
    tls: Option<tokio_rustls::TlsAcceptor>,
    builder: auto::Builder<TokioExecutor>,
    /// Request counts and latencies for `/metrics`; `None` while the endpoint is off.
    requests: Option<RequestMetrics>,
}

/// Serve `app`'s routes on `listener` (HTTPS when `server.tls` is set, with the optional
/// redirect listener) until `shutdown` resolves; then stop accepting and let in-flight
/// requests finish.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let server = &app.config.server;
    let local = listener.local_addr().map_err(|source| StartError::Listen {
        addr: server.listen,
        source,
    })?;
    let certificates = match server.tls.enabled() {
        true => Some(
            tls::Certificates::load(&server.tls)
                .map_err(|e| StartError::Config(format!("server.tls: {e}")))?,
        ),
        false => None,
    };
    let acceptor = match &certificates {
        Some(c) => Some(tokio_rustls::TlsAcceptor::from(
            c.server_config()
                .map_err(|e| StartError::Config(format!("server.tls: {e}")))?,
        )),
        None => None,
    };
    let redirect_listener = match server.redirect_http_listen.parse::<SocketAddr>() {
        Ok(addr) if acceptor.is_some() => Some(crate::app::bind(addr).await?),
        _ => None,
    };
    let edge = Arc::new(Edge::from_config(server, &[local]));

    let service = warp::service(crate::http::routes(app.clone()));
    let routes: Routes = Arc::new(move |req| {
        let mut service = service.clone();
        let call = service.call(req);
        Box::pin(async move {
            match call.await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        })
    });
    let main = Arc::new(ListenerCtx {
        edge: edge.clone(),
        handler: Handler::App(routes),
        tls: acceptor,
        builder: builder(),
        requests: app.metrics.requests().cloned(),
    });
    let redirect = redirect_listener.map(|l| {
        let ctx = Arc::new(ListenerCtx {
            edge: edge.clone(),
            handler: Handler::Redirect(Redirect::new(server, local.port())),
            tls: None,
            builder: builder(),
            requests: app.metrics.requests().cloned(),
        });
        (ctx, l)
    });
    tracing::info!(
        addr = %local,
        scheme = if main.tls.is_some() { "https" } else { "http" },
        redirect = ?redirect.as_ref().and_then(|(_, l)| l.local_addr().ok()),
        max_connections = edge.max_connections,
        data_dir = %app.config.data_dir.display(),
        "notify is listening"
    );
    let reloader = certificates.map(|c| tokio::spawn(c.keep_fresh()));

    let graceful = GracefulShutdown::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopper = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let redirect_loop = async {
        if let Some((ctx, l)) = redirect {
            accept_loop(ctx, l, &graceful, stop_rx.clone()).await;
        }
    };
    tokio::join!(
        stopper,
        accept_loop(main, listener, &graceful, stop_rx.clone()),
        redirect_loop
    );
    if let Some(r) = reloader {
        r.abort();
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "requests still in progress at shutdown were cut"
        );
    }
    Ok(())
}

fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The edge times request heads itself (connection.rs); hyper's timer would also cut idle
    // keep-alive connections at the header timeout.
    builder.http1().header_read_timeout(None);
    builder
}

/// Logs a repeated condition at most once a minute, with how often it happened meanwhile.
struct Throttled {
    last: Option<Instant>,
    since: u64,
}

impl Throttled {
    fn new() -> Throttled {
        Throttled {
            last: None,
            since: 0,
        }
    }

    /// `Some(times seen since the last line)` when a line is due.
    fn due(&mut self) -> Option<u64> {
        self.since += 1;
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
        {
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.since))
    }
}

async fn accept_loop(
    ctx: Arc<ListenerCtx>,
    listener: TcpListener,
    graceful: &GracefulShutdown,
    mut stop: watch::Receiver<bool>,
) {
    let mut at_limit = Throttled::new();
    let mut accept_errors = Throttled::new();
    loop {
        let permit = match ctx.edge.connections.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if let Some(times) = at_limit.due() {
                    tracing::warn!(
                        max_connections = ctx.edge.max_connections,
                        times,
                        "connection limit reached: new connections wait until one closes \
                         (server.max_connections)"
                    );
                }
                tokio::select! {
                    p = ctx.edge.connections.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                if !is_connection_error(&e) {
                    if let Some(times) = accept_errors.due() {
                        tracing::error!(error = %e, times, "cannot accept connections");
                    }
                    // Out of file descriptors, typically: give some a chance to close.
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {},
                        _ = stop.wait_for(|s| *s) => return,
                    }
                }
                continue;
            }
        };
        let watcher = graceful.watcher();
        let ctx = ctx.clone();
        tokio::spawn(async move {
            ctx.serve_connection(stream, peer, watcher).await;
            drop(permit);
        });
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

impl ListenerCtx {
    async fn serve_connection(
        self: Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        watcher: Watcher,
    ) {
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => {
                let state = Arc::new(ConnState::new(false));
                let io = TrackedIo::new(stream, state.clone());
                self.clone().run(io, peer, false, state, watcher).await;
            }
            Some(acceptor) => {
                // Plain HTTP on this port fails here: there is no TLS handshake to answer.
                let tls = match tokio::time::timeout(self.edge.header_read, acceptor.accept(stream))
                    .await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                let state = Arc::new(ConnState::new(h2));
                let io = TrackedIo::new(tls, state.clone());
                self.clone().run(io, peer, true, state, watcher).await;
            }
        }
    }

    async fn run<I>(
        self: Arc<Self>,
        io: I,
        peer: SocketAddr,
        tls: bool,
        state: Arc<ConnState>,
        watcher: Watcher,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let ctx = self.clone();
        let conn_state = state.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let ctx = ctx.clone();
            let state = conn_state.clone();
            async move { Ok::<_, Infallible>(ctx.handle(req, peer, tls, state).await) }
        });
        let conn = self.builder.serve_connection(TokioIo::new(io), service);
        let conn = watcher.watch(conn);
        tokio::select! {
            served = conn => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            }
            why = connection::watchdog(&state, self.edge.header_read, self.edge.idle) => {
                tracing::debug!(%peer, ?why, "connection closed by its time limit");
            }
        }
    }

    /// One request, from its head to its response.
    async fn handle(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        tls: bool,
        conn: Arc<ConnState>,
    ) -> Response {
        conn.request_started();
        let _finished = RequestFinished(conn);
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let class = RouteClass::of(&method, &path);
        let host = req
            .uri()
            .authority()
            .map(|a| a.as_str())
            .or_else(|| req.headers().get("host").and_then(|h| h.to_str().ok()));
        let host_allowed = self.edge.hosts.allows(host);
        let info = Arc::new(RequestInfo {
            client: ClientInfo::decide(peer, tls, req.headers(), &self.edge.trusted),
            request_id: access_log::request_id(req.headers()),
            host_allowed,
            service_id: OnceLock::new(),
        });
        let mut response = match &self.handler {
            Handler::Redirect(redirect) => redirect.answer(&req, host.filter(|_| host_allowed)),
            Handler::App(_)
                if matches!(class, RouteClass::Page | RouteClass::ServicePage) && !host_allowed =>
            {
                hardening::wrong_host()
            }
            Handler::App(routes) => self.call_routes(routes, req, class, info.clone()).await,
        };
        hardening::add_headers(&mut response, class, &info.client);
        response
            .headers_mut()
            .insert("x-request-id", info.request_id.clone());
        if let Some(requests) = &self.requests {
            requests.record(
                &method,
                &path,
                class,
                response.status().as_u16(),
                started.elapsed(),
            );
        }
        if access_log::enabled() {
            let route = match &self.handler {
                Handler::Redirect(_) => "(redirect)".into(),
                _ if response.extensions().get::<Unmatched>().is_some() => "(unmatched)".into(),
                _ => routes::template(&path),
            };
            access_log::record(
                &method,
                &route,
                response.status().as_u16(),
                started.elapsed(),
                &info.request_id,
                info.service_id.get(),
            );
        }
        response
    }

    /// Admit the body, run the routes, and answer 413 / 408 when the body broke its limits.
    async fn call_routes(
        &self,
        routes: &Routes,
        req: Request<Incoming>,
        class: RouteClass,
        info: Arc<RequestInfo>,
    ) -> Response {
        let limits = &self.edge.bodies;
        let limit = limits.limit(class);
        let declared = match req.body().is_end_stream() {
            true => Some(0),
            false => req.body().size_hint().exact(),
        };
        let admission = match limits.admit(declared, limit).await {
            Ok(a) => a,
            Err(TooLarge { limit }) => return too_large(class, limit),
        };
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(info);
        let req = Request::from_parts(parts, admission.body(body, limits.read_timeout));
        let response = routes(req).await;
        if admission.state.too_large() {
            return too_large(class, limit);
        }
        if admission.state.timed_out() {
            return closing(crate::error::admin_error_response(
                StatusCode::REQUEST_TIMEOUT,
                "The request body did not arrive in time.",
            ));
        }
        response
    }
}

/// Ends the request's part in its connection's time limits, however the handler ended.
struct RequestFinished(Arc<ConnState>);

impl Drop for RequestFinished {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// Close the connection after this response (its request's body was not read to the end).
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("connection", HeaderValue::from_static("close"));
    response
}

/// 413 with Notify's error body: the v2 envelope on `/v2/` (named as Flask names the error),
/// the internal API's elsewhere.
fn too_large(class: RouteClass, limit: u64) -> Response {
    let message = format!(
        "The data value transmitted exceeds the capacity limit ({limit} bytes for this route)."
    );
    let status = StatusCode::PAYLOAD_TOO_LARGE;
    closing(match class {
        RouteClass::V2 => crate::error::json_response(
            status,
            &json!({
                "status_code": 413,
                "errors": [{"error": "RequestEntityTooLarge", "message": message}],
            }),
        ),
        _ => crate::error::admin_error_response(status, &message),
    })
}

/// Where the plain-HTTP listener sends clients.
struct Redirect {
    /// `public_url`'s origin when it is https.
    public_origin: Option<String>,
    https_port: u16,
}

impl Redirect {
    fn new(server: &ServerConfig, https_port: u16) -> Redirect {
        let public = server.public_url.trim().trim_end_matches('/');
        let public_origin = public.strip_prefix("https://").map(|rest| {
            let authority = rest.split('/').next().unwrap_or(rest);
            format!("https://{authority}")
        });
        Redirect {
            public_origin,
            https_port,
        }
    }

    /// 301 (GET, HEAD) or 308 (other methods keep their body) to the same path over HTTPS.
    fn answer<B>(&self, req: &Request<B>, allowed_host: Option<&str>) -> Response {
        let origin = match (&self.public_origin, allowed_host) {
            (Some(origin), _) => origin.clone(),
            (None, Some(host)) => {
                let name = hardening::host_name(host);
                let name = match name.contains(':') {
                    true => format!("[{name}]"),
                    false => name.to_string(),
                };
                match self.https_port {
                    443 => format!("https://{name}"),
                    port => format!("https://{name}:{port}"),
                }
            }
            (None, None) => return hardening::wrong_host(),
        };
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let status = match *req.method() {
            Method::GET | Method::HEAD => StatusCode::MOVED_PERMANENTLY,
            _ => StatusCode::PERMANENT_REDIRECT,
        };
        let mut response = Response::new(Default::default());
        *response.status_mut() = status;
        if let Ok(location) = HeaderValue::from_str(&format!("{origin}{path}")) {
            response.headers_mut().insert("location", location);
        }
        response
    }
}
