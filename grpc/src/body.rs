//! The response body of a traced call: the span ends at the end of the stream, with
//! the status from the trailers (streaming RPCs included).

use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::attributes as a;
use crate::call::Call;

pin_project! {
    /// A response body whose call's span ends when the stream ends (status from the
    /// trailers), fails, or is dropped before its end (`CANCELLED`).
    #[derive(Debug)]
    pub struct GrpcBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }
}

impl<B> GrpcBody<B> {
    pub(crate) fn new(inner: B, call: Option<Call>) -> GrpcBody<B> {
        GrpcBody { inner, call }
    }

    /// The wrapped body.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B> Body for GrpcBody<B>
where
    B: Body,
    B::Error: std::fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        // Work done while streaming (a server's message stream) nests under the span.
        let _attached = this.call.as_ref().map(|c| c.context().attach());
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let (Some(trailers), Some(call)) = (frame.trailers_ref(), this.call.as_mut()) {
                    call.finish_from_trailers(trailers);
                }
            }
            Some(Err(e)) => {
                if let Some(call) = this.call.as_mut() {
                    call.fail(a::ERROR_TYPE_TRANSPORT, &e.to_string());
                }
            }
            None => {
                if let Some(call) = this.call.as_mut() {
                    if !call.is_done() {
                        call.fail(
                            a::ERROR_TYPE_MISSING_STATUS,
                            "the response ended without a grpc-status",
                        );
                    }
                }
            }
        }
        if this.call.as_ref().is_some_and(Call::is_done) {
            *this.call = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
