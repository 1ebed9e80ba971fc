//! [`ObservedBody`]: a response body that shows every data frame to the call's
//! observer as the caller reads it, and finishes the call at its end.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use opentelemetry::Context;
use pin_project_lite::pin_project;

use super::ResponseObserver;

pin_project! {
    /// A response body whose LLM call span ends with it. Frames pass through
    /// unchanged; dropping the body early records a cancellation.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        observer: Option<ResponseObserver>,
        cx: Option<Context>,
    }
}

impl<B> ObservedBody<B> {
    pub(crate) fn new(inner: B, observer: Option<ResponseObserver>, cx: Option<Context>) -> Self {
        ObservedBody {
            inner,
            observer,
            cx,
        }
    }

    /// A body that observes nothing (the call was not an LLM call).
    pub fn passthrough(inner: B) -> Self {
        ObservedBody {
            inner,
            observer: None,
            cx: None,
        }
    }
}

impl<B> std::fmt::Debug for ObservedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservedBody")
            .field("observed", &self.observer.is_some())
            .finish()
    }
}

impl<B> Body for ObservedBody<B>
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
        let polled = {
            let _attached = this.cx.as_ref().map(|c| c.clone().attach());
            this.inner.poll_frame(cx)
        };
        let Poll::Ready(frame) = polled else {
            return Poll::Pending;
        };
        match &frame {
            Some(Ok(f)) => {
                if let (Some(observer), Some(data)) = (this.observer.as_mut(), f.data_ref()) {
                    observe(observer, data);
                }
            }
            Some(Err(e)) => {
                if let Some(observer) = this.observer.take() {
                    observer.on_error(e.to_string());
                }
            }
            None => {
                if let Some(observer) = this.observer.take() {
                    observer.on_end();
                }
            }
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

/// Feeds a data frame, whatever `Buf` it is, without copying.
fn observe<D: Buf>(observer: &mut ResponseObserver, data: &D) {
    let chunk = data.chunk();
    if chunk.len() == data.remaining() {
        observer.on_data(chunk);
        return;
    }
    // Non-contiguous buffers are rare (hyper and reqwest give `Bytes`).
    let mut slices = [std::io::IoSlice::new(&[]); 64];
    let n = data.chunks_vectored(&mut slices);
    for slice in &slices[..n] {
        observer.on_data(slice);
    }
}
