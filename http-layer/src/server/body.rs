//! The response body that keeps the server span open while it streams.

use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use aitrace_core::emit::OtelSpan;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::guard::UnwindGuard;

/// `error.type` of a response body that failed while streaming.
const BODY_ERROR: &str = "body";

pin_project! {
    /// A response body that ends the SERVER span when the last frame is sent, when the
    /// body fails (`error.type` = `body`), or when it is dropped (a client that went
    /// away, a `HEAD` response). The span's context is attached while the body is
    /// polled, so logs and spans from a streaming body nest under it.
    pub struct ServerBody<B> {
        #[pin]
        inner: B,
        span: Option<OtelSpan>,
    }
}

impl<B> ServerBody<B> {
    pub(crate) fn new(inner: B, span: Option<OtelSpan>) -> ServerBody<B> {
        ServerBody { inner, span }
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// Unwraps the body (the span ends now).
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: fmt::Debug> fmt::Debug for ServerBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBody")
            .field("inner", &self.inner)
            .field("span_open", &self.span.is_some())
            .finish()
    }
}

impl<B: Body> Body for ServerBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let _attached = this.span.as_ref().map(|s| s.context().attach());
        let guard = UnwindGuard(&mut *this.span);
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        drop(guard);
        match &frame {
            None => {
                this.span.take();
            }
            Some(Err(_)) => {
                if let Some(span) = this.span.take() {
                    span.set_error(BODY_ERROR, "response body failed");
                }
            }
            Some(Ok(_)) => {
                if this.inner.is_end_stream() {
                    this.span.take();
                }
            }
        }
        Poll::Ready(frame)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
