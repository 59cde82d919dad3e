//! The fallback where a WebSocket cannot be opened (a proxy that refuses upgrades): the
//! same connection, protocol, resume and guarantees, carried by server-sent events for
//! frames from the server (`GET /sse`) and one HTTP POST per frame to it
//! (`POST /sse/{token}`). The connection's task is the WebSocket's
//! ([`super::socket`]); only the carriage differs.
//!
//! On the event stream the first event is `token` (the connection's token, which frames
//! POSTed back must name), then each server frame as a plain `message` event, and last,
//! when the server ends the connection, a `close` event with `{"code":…,"reason":…}` (the
//! WebSocket close codes: 4001 session ended, 1012 restarting). A POST must carry the
//! session cookie the stream was opened with; it answers 204, 404 when the connection is
//! gone (open a new one and resume), 413 for a frame over the size limit, 429 when more
//! than [`INBOUND`] frames wait to be read.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use app::realtime::protocol::MAX_FRAME_BYTES;
use app::ssr::ClientIp;
use axum::extract::ws::Message;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::Stream;
use tokio::sync::{mpsc, oneshot};
use tower_sessions::session::Id;
use tower_sessions::Session;

use super::outbox::{Outbox, Work};
use super::socket::Socket;
use crate::state::AppState;

/// Frames POSTed and not yet read by the connection, at most.
pub const INBOUND: usize = 64;

/// One open event stream: the session that may POST to it, and where its frames go.
struct Entry {
    session: Option<Id>,
    inbound: mpsc::Sender<Message>,
}

/// The open event streams by token. Cheap to share.
#[derive(Default)]
pub struct Streams {
    open: Mutex<HashMap<String, Entry>>,
}

impl Streams {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Event streams open on this node (for tests).
    pub fn count(&self) -> usize {
        self.lock().len()
    }
}

/// Forgets the stream (so its connection's reader ends) and tells the connection its
/// writer is done, when the response body is dropped: finished, or the client went away.
struct Finished {
    streams: Arc<Streams>,
    token: String,
    written: Option<oneshot::Sender<()>>,
}

impl Drop for Finished {
    fn drop(&mut self) {
        self.streams.lock().remove(&self.token);
        if let Some(w) = self.written.take() {
            let _ = w.send(());
        }
    }
}

/// `GET /sse`: opens a connection for a signed-in session (403 otherwise, or when a
/// browser says the request comes from another site or is a navigation; 429 past the
/// user's connects a minute) and streams its frames as server-sent events.
pub async fn open(
    State(state): State<AppState>,
    session: Session,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
) -> Response {
    // A GET passes the same-origin middleware; browsers tell where it comes from.
    let fetch = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if fetch("sec-fetch-site").is_some_and(|s| s != "same-origin")
        || fetch("sec-fetch-mode") == Some("navigate")
    {
        return (
            StatusCode::FORBIDDEN,
            "open the event stream from the app's own pages",
        )
            .into_response();
    }
    let socket = match Socket::open(&state, &session, ip).await {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let token = format!("{:032x}", rand::random::<u128>());
    let (inbound, frames) = mpsc::channel::<Message>(INBOUND);
    state.sse.lock().insert(
        token.clone(),
        Entry {
            session: socket.session(),
            inbound,
        },
    );
    let outbox = Outbox::new(state.hub.config().socket_queue);
    let (written, done) = oneshot::channel();
    let finished = Finished {
        streams: state.sse.clone(),
        token: token.clone(),
        written: Some(written),
    };
    let reader = Box::pin(futures::stream::unfold(frames, |mut frames| async move {
        frames.recv().await.map(|m| (Ok(m), frames))
    }));
    tokio::spawn(Box::new(socket).run(reader, outbox.clone(), async move {
        let _ = done.await;
    }));
    let mut res = Sse::new(events(token, outbox, finished))
        .keep_alive(KeepAlive::default())
        .into_response();
    // Proxies that buffer responses (nginx) would hold the events back.
    res.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

/// The event stream: the token, then the outbox's frames as they come, then `close`.
fn events(
    token: String,
    outbox: Arc<Outbox>,
    finished: Finished,
) -> impl Stream<Item = Result<Event, Infallible>> {
    struct State {
        outbox: Arc<Outbox>,
        batch: std::collections::VecDeque<super::hub::Frame>,
        ended: bool,
        _finished: Finished,
    }
    let first = Event::default().event("token").data(token);
    let rest = futures::stream::unfold(
        State {
            outbox,
            batch: Default::default(),
            ended: false,
            _finished: finished,
        },
        |mut st| async move {
            loop {
                if let Some(frame) = st.batch.pop_front() {
                    return Some((Ok(Event::default().data(frame.as_str())), st));
                }
                if st.ended {
                    return None;
                }
                let mut popped = Vec::new();
                // No socket of its own, so never a frame written in part: frames or the end.
                if matches!(st.outbox.next_work(&mut popped).await, Work::Frames) {
                    crate::metrics::frames_out(popped.len() as u64);
                    st.batch.extend(popped);
                    continue;
                }
                st.ended = true;
                let (code, reason) = st.outbox.lock().close_with.unwrap_or((1000, "closed"));
                let data = serde_json::json!({ "code": code, "reason": reason }).to_string();
                return Some((Ok(Event::default().event("close").data(data)), st));
            }
        },
    );
    futures::StreamExt::chain(futures::stream::once(async move { Ok(first) }), rest)
}

/// `POST /sse/{token}`: one client frame (JSON text) for the connection `token`, from
/// the session that opened it.
pub async fn post(
    State(state): State<AppState>,
    Path(token): Path<String>,
    session: Session,
    body: String,
) -> Response {
    if body.len() > MAX_FRAME_BYTES {
        return (StatusCode::PAYLOAD_TOO_LARGE, "a frame is at most 64 KiB").into_response();
    }
    let inbound = {
        let open = state.sse.lock();
        match open.get(&token) {
            Some(e) if e.session.is_some() && e.session == session.id() => e.inbound.clone(),
            // Another session's token is answered as an unknown one.
            _ => return (StatusCode::NOT_FOUND, "no such connection").into_response(),
        }
    };
    match inbound.try_send(Message::Text(body.into())) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(mpsc::error::TrySendError::Full(_)) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            "too many frames waiting; slow down",
        )
            .into_response(),
        Err(mpsc::error::TrySendError::Closed(_)) => {
            (StatusCode::NOT_FOUND, "no such connection").into_response()
        }
    }
}
