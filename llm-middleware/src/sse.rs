//! An incremental, bounded parser of server-sent events (the `text/event-stream`
//! format of the HTML standard), fed bytes as they arrive.
//!
//! Written here rather than taken from a crate because it must work on borrowed bytes
//! inside a body wrapper (no allocation per event, no async), keep memory bounded when
//! an event is huge (such events are skipped and counted, never buffered whole), and
//! say at end of stream whether the last event was cut off.
//!
//! ```
//! use aitrace_llm::sse::SseParser;
//!
//! let mut parser = SseParser::new(1024);
//! let mut seen = Vec::new();
//! parser.feed(b"event: message_start\ndata: {\"a\":", |e| seen.push((e.event.to_owned(), e.data.to_vec())));
//! parser.feed(b"1}\n\ndata: [DONE]\r\n\r\n", |e| seen.push((e.event.to_owned(), e.data.to_vec())));
//! assert_eq!(seen[0], ("message_start".to_owned(), b"{\"a\":1}".to_vec()));
//! assert_eq!(seen[1].1, b"[DONE]");
//! assert!(!parser.finish());
//! ```

/// One event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `event:` field (empty when absent, which means `message`).
    pub event: &'a str,
    /// The data lines joined by `\n`.
    pub data: &'a [u8],
}

/// The parser's state between chunks.
#[derive(Debug, Clone)]
pub struct SseParser {
    line: Vec<u8>,
    data: Vec<u8>,
    event: String,
    has_data: bool,
    skipping: bool,
    line_dropped: bool,
    after_cr: bool,
    max_event_bytes: usize,
    oversized: u64,
    pending: bool,
}

impl SseParser {
    /// A parser that skips events larger than `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> SseParser {
        SseParser {
            line: Vec::new(),
            data: Vec::new(),
            event: String::new(),
            has_data: false,
            skipping: false,
            line_dropped: false,
            after_cr: false,
            max_event_bytes,
            oversized: 0,
            pending: false,
        }
    }

    /// Events skipped because they were larger than the limit.
    pub fn oversized_events(&self) -> u64 {
        self.oversized
    }

    /// Feeds bytes; calls `on_event` for each complete event.
    pub fn feed(&mut self, mut chunk: &[u8], mut on_event: impl FnMut(SseEvent<'_>)) {
        if self.after_cr {
            self.after_cr = false;
            if chunk.first() == Some(&b'\n') {
                chunk = &chunk[1..];
            }
        }
        while !chunk.is_empty() {
            let Some(end) = find_line_end(chunk) else {
                self.push_partial(chunk);
                return;
            };
            let terminator = chunk[end];
            if self.line.is_empty() && !self.line_dropped {
                self.process_line(&chunk[..end], &mut on_event);
            } else {
                self.push_partial(&chunk[..end]);
                if self.line_dropped {
                    // A line of an oversized event: not a blank line, just skipped.
                    self.line_dropped = false;
                    self.line.clear();
                } else {
                    let line = std::mem::take(&mut self.line);
                    self.process_line(&line, &mut on_event);
                    self.line = line;
                    self.line.clear();
                }
            }
            chunk = &chunk[end + 1..];
            if terminator == b'\r' {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
        }
    }

    /// End of stream. Returns `true` when an event was cut off (bytes after the last
    /// complete event), which is discarded as the standard says.
    pub fn finish(&mut self) -> bool {
        let cut = self.pending || !self.line.is_empty() || self.line_dropped;
        self.reset_event();
        self.line.clear();
        self.line_dropped = false;
        cut
    }

    fn push_partial(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.pending = true;
        if self.skipping {
            self.line_dropped = true;
            return;
        }
        if self.line.len() + self.data.len() + bytes.len() > self.max_event_bytes {
            self.start_skipping();
            self.line_dropped = true;
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn start_skipping(&mut self) {
        self.skipping = true;
        self.oversized += 1;
        self.line.clear();
        self.data.clear();
        self.data.shrink_to(self.max_event_bytes.min(64 * 1024));
    }

    fn reset_event(&mut self) {
        self.data.clear();
        self.event.clear();
        self.has_data = false;
        self.skipping = false;
        self.pending = false;
    }

    fn process_line(&mut self, line: &[u8], on_event: &mut impl FnMut(SseEvent<'_>)) {
        if line.is_empty() {
            if self.has_data && !self.skipping {
                on_event(SseEvent {
                    event: &self.event,
                    data: &self.data,
                });
            }
            self.reset_event();
            return;
        }
        self.pending = true;
        if self.skipping {
            return;
        }
        // The same limit as for a line that arrives in pieces (`push_partial`), so the
        // events do not depend on how the stream was chunked.
        if line.len() + self.data.len() > self.max_event_bytes {
            self.start_skipping();
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > self.max_event_bytes {
                    self.start_skipping();
                    return;
                }
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&String::from_utf8_lossy(value));
            }
            _ => {}
        }
    }
}

/// The first `\n` or `\r` in `bytes`: eight bytes at a time (the parser's hot loop;
/// events are mostly long JSON lines).
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        if has_zero(v ^ (LO * u64::from(b'\n'))) | has_zero(v ^ (LO * u64::from(b'\r'))) != 0 {
            break;
        }
        offset += 8;
    }
    bytes[offset..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|i| offset + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]], max: usize) -> (Vec<(String, String)>, bool, u64) {
        let mut p = SseParser::new(max);
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, |e| {
                out.push((
                    e.event.to_owned(),
                    String::from_utf8_lossy(e.data).into_owned(),
                ))
            });
        }
        let cut = p.finish();
        (out, cut, p.oversized_events())
    }

    #[test]
    fn any_chunking_gives_the_same_events() {
        let stream = b"event: a\ndata: 1\ndata: 2\n\n: comment\r\ndata:x\r\rdata: y\r\n\r\n";
        let (whole, cut, _) = parse_all(&[stream], 1024);
        assert_eq!(
            whole,
            vec![
                ("a".into(), "1\n2".into()),
                ("".into(), "x".into()),
                ("".into(), "y".into())
            ]
        );
        assert!(!cut);
        for split in 0..stream.len() {
            let (a, b) = stream.split_at(split);
            assert_eq!(parse_all(&[a, b], 1024).0, whole, "split at {split}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(parse_all(&bytes, 1024).0, whole);
    }

    #[test]
    fn line_ends_are_found_anywhere() {
        for len in 0..40 {
            for at in 0..len {
                for end in [b'\n', b'\r'] {
                    let mut v = vec![b'x'; len];
                    v[at] = end;
                    assert_eq!(find_line_end(&v), Some(at));
                }
            }
            assert_eq!(
                find_line_end(&vec![0x8a; len]),
                None,
                "high bytes are not line ends"
            );
        }
    }

    #[test]
    fn huge_events_are_skipped_and_counted() {
        let big = format!("data: {}\n\ndata: ok\n\n", "x".repeat(10_000));
        let (events, _, oversized) = parse_all(&[big.as_bytes()], 100);
        assert_eq!(events, vec![("".into(), "ok".into())]);
        assert_eq!(oversized, 1);
        let chunks: Vec<&[u8]> = big.as_bytes().chunks(7).collect();
        let (events, _, oversized) = parse_all(&chunks, 100);
        assert_eq!(events, vec![("".into(), "ok".into())]);
        assert_eq!(oversized, 1);
    }

    #[test]
    fn a_stream_cut_mid_event_is_reported() {
        let (events, cut, _) = parse_all(&[b"data: 1\n\ndata: {\"par"], 1024);
        assert_eq!(events.len(), 1);
        assert!(cut);
    }
}
