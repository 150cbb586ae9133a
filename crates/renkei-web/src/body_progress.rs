//! Bodies that stop moving: a client that sends a request's headers and then trickles its body
//! (or sends nothing more) would hold a connection until the request timeout, renewably. Every
//! request body is wrapped so that a pause longer than the progress timeout between two pieces
//! ends the request with 408, and the connection is freed.

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The error a stalled body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body stopped arriving")]
pub struct BodyStalled;

/// A body that fails with [`BodyStalled`] when no piece arrives for `timeout`.
pub struct ProgressBody {
    inner: Body,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl ProgressBody {
    /// Wraps `inner`.
    pub fn new(inner: Body, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl http_body::Body for ProgressBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = Instant::now() + this.timeout;
                this.deadline.as_mut().reset(next);
                Poll::Ready(frame)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyStalled)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether a body error is a stall (for a 408 instead of another refusal).
pub fn is_stall(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<BodyStalled>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Middleware: wraps every request body in a [`ProgressBody`].
pub async fn watch(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = Body::new(ProgressBody::new(body, timeout));
    next.run(Request::from_parts(parts, body)).await
}

/// 408: the body stopped arriving.
pub fn stalled() -> Response {
    (
        StatusCode::REQUEST_TIMEOUT,
        [
            (axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (axum::http::header::CONNECTION, "close"),
        ],
        "送信が途中で止まりました。通信の良い場所でもう一度送信してください。 / The request body stopped arriving; send it again.",
    )
        .into_response()
}
