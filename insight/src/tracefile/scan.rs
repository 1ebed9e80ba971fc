//! The fast path of a trace-file line: the same [`SpanRecord`]s as [`LineSpans`]'s serde
//! reading, read with [`aitrace_core::json::Scan`], which passes over what no report
//! reads (scopes, links, flags) without a serde visitor per value, and compares field
//! names as text.
//!
//! Each function here mirrors one visitor of `wire.rs`, field by field: repeated fields
//! are taken in order as the visitors take them, and where serde's derive would refuse a
//! repeated field (`Status`, `Values`), the reading falls back. Any value the scanner
//! does not take (an id that is not hex, a number whose reading could differ, an escape
//! of a surrogate, ...) makes [`line_spans`] answer `None`, and the line is read by
//! serde as before: so a bad line is still refused in the same words, and the tests
//! (`insight/tests/decoding.rs`) hold both readings equal on real, synthetic and
//! mutated lines.
//!
//! [`LineSpans`]: super::LineSpans

use std::borrow::Cow;

use aitrace_core::json::{Keys, Scan, Seen, MAX_DEPTH};

use super::wire::kvlist_text;
use super::{hex, AttrValue, EventRecord, Fields, SpanRecord, Text};

// The fields of each object in the order the OTLP/JSON file exporter writes them (the
// scanner then passes over most keys by comparing them with the text; any order reads).
const LINE: Keys = Keys::new(&["resourceSpans"]);
const RESOURCE_SPANS: Keys = Keys::new(&["resource", "scopeSpans", "schemaUrl"]);
const RESOURCE: Keys = Keys::new(&["attributes", "droppedAttributesCount", "entityRefs"]);
const SCOPE_SPANS: Keys = Keys::new(&["scope", "spans", "schemaUrl"]);
const SPAN: Keys = Keys::new(&[
    "traceId",
    "spanId",
    "traceState",
    "parentSpanId",
    "flags",
    "name",
    "kind",
    "startTimeUnixNano",
    "endTimeUnixNano",
    "attributes",
    "droppedAttributesCount",
    "events",
    "droppedEventsCount",
    "links",
    "droppedLinksCount",
    "status",
]);
const STATUS: Keys = Keys::new(&["message", "code"]);
const EVENT: Keys = Keys::new(&[
    "timeUnixNano",
    "name",
    "attributes",
    "droppedAttributesCount",
]);
const KEY_VALUE: Keys = Keys::new(&["key", "value"]);
const ANY_VALUE: Keys = Keys::new(&[
    "stringValue",
    "intValue",
    "doubleValue",
    "boolValue",
    "arrayValue",
    "kvlistValue",
    "bytesValue",
]);
const VALUES: Keys = Keys::new(&["values"]);

/// Appends the spans of one line to `spans`, with the attributes and events `fields`
/// keeps; or answers `None`, `spans` as it was, when serde must read the line.
pub(super) fn line_spans(text: &str, fields: &Fields, spans: &mut Vec<SpanRecord>) -> Option<()> {
    let first = spans.len();
    let mut s = Scan::new(text);
    let mut scratch = Vec::new();
    let read = s
        .object_in_order(0, &LINE, |s, key| match key {
            "resourceSpans" => s.array(1, |s| resource_spans(s, fields, spans, &mut scratch)),
            _ => s.skip(1),
        })
        .and_then(|()| s.end());
    if read.is_none() {
        spans.truncate(first);
    }
    read
}

/// The attributes of the span being read, gathered before they are moved into a list of
/// their exact size (no regrowth, no spare room kept with the span).
type Scratch = Vec<(Text, AttrValue)>;

/// One `ResourceSpans` (depth 2): its spans, with the resource's `service.name`.
fn resource_spans(
    s: &mut Scan<'_>,
    fields: &Fields,
    spans: &mut Vec<SpanRecord>,
    scratch: &mut Scratch,
) -> Option<()> {
    let first = spans.len();
    let mut service = None;
    s.object_in_order(2, &RESOURCE_SPANS, |s, key| match key {
        "resource" => {
            service = if s.opt_null()? { None } else { resource(s)? };
            Some(())
        }
        "scopeSpans" => s.array(3, |s| {
            s.object_in_order(4, &SCOPE_SPANS, |s, key| match key {
                "spans" => s.array(5, |s| {
                    spans.push(span(s, fields, scratch)?);
                    Some(())
                }),
                _ => s.skip(5),
            })
        }),
        _ => s.skip(3),
    })?;
    if let Some(service) = service {
        for span in &mut spans[first..] {
            span.service.clone_from(&service);
        }
    }
    Some(())
}

/// A resource (depth 3): its first `service.name`, as text. Every attribute is read,
/// as serde reads them (one it would refuse makes the line fall back).
fn resource(s: &mut Scan<'_>) -> Option<Option<Text>> {
    let mut service = None;
    s.object_in_order(3, &RESOURCE, |s, key| match key {
        "attributes" => {
            let mut found = None;
            s.array(4, |s| {
                let (key, value) = attr(s, 5)?;
                if found.is_none() && key == "service.name" {
                    found = Some(match value {
                        AttrValue::Str(text) => text,
                        other => other.to_string().into(),
                    });
                }
                Some(())
            })?;
            service = found;
            Some(())
        }
        _ => s.skip(4),
    })?;
    Some(service)
}

/// A span (depth 6), with the attributes and events `fields` keeps (all are read).
fn span(s: &mut Scan<'_>, fields: &Fields, scratch: &mut Scratch) -> Option<SpanRecord> {
    scratch.clear();
    let mut span = SpanRecord::default();
    s.object_in_order(6, &SPAN, |s, key| {
        match key {
            "traceId" => span.trace_id = hex_id(s)?,
            "spanId" => span.span_id = hex_id(s)?,
            "parentSpanId" => span.parent_span_id = hex_id(s)?,
            "name" => span.name = s.string()?.into(),
            "kind" => span.kind = i32::try_from(s.i64()?).ok()?,
            "startTimeUnixNano" => span.start_unix_nano = nanos(s)?,
            "endTimeUnixNano" => span.end_unix_nano = nanos(s)?,
            "attributes" => s.array(7, |s| {
                if let Some(kv) = kept_attr(s, 8, |key| fields.keeps(key))? {
                    scratch.push(kv);
                }
                Some(())
            })?,
            "events" => s.array(7, |s| {
                let event = event(s, !fields.no_events)?;
                if !fields.no_events {
                    span.events.push(event);
                }
                Some(())
            })?,
            "status" => {
                (span.status_code, span.status_message) = status(s)?;
            }
            _ => s.skip(7)?,
        }
        Some(())
    })?;
    // Moved, not cloned; `scratch` keeps its room for the next span.
    span.attributes = Vec::with_capacity(scratch.len());
    span.attributes.append(scratch);
    Some(span)
}

/// A span's status, or `null` (code 0, no message).
fn status(s: &mut Scan<'_>) -> Option<(i32, Text)> {
    let (mut code, mut message) = (0, Text::new());
    if s.opt_null()? {
        return Some((code, message));
    }
    let mut seen = Seen::default();
    s.object_in_order(7, &STATUS, |s, key| {
        match key {
            "code" => {
                seen.first(0)?;
                code = i32::try_from(s.i64()?).ok()?;
            }
            "message" => {
                seen.first(1)?;
                message = s.string()?.into();
            }
            _ => s.skip(8)?,
        }
        Some(())
    })?;
    Some((code, message))
}

/// A span event (depth 8); with no attributes when it is not kept (they are read).
fn event(s: &mut Scan<'_>, kept: bool) -> Option<EventRecord> {
    let mut event = EventRecord {
        name: Text::new(),
        time_unix_nano: 0,
        attributes: Vec::new(),
    };
    s.object_in_order(8, &EVENT, |s, key| {
        match key {
            "name" => event.name = s.string()?.into(),
            "timeUnixNano" => event.time_unix_nano = nanos(s)?,
            "attributes" => s.array(9, |s| {
                if let Some(kv) = kept_attr(s, 10, |_| kept)? {
                    event.attributes.push(kv);
                }
                Some(())
            })?,
            _ => s.skip(9)?,
        }
        Some(())
    })?;
    Some(event)
}

/// A trace or span id: hex text of an even length (either case, an optional `0x`),
/// kept as lower-case hex.
fn hex_id(s: &mut Scan<'_>) -> Option<Text> {
    let text = s.string()?;
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digits = text.strip_prefix("0x").unwrap_or(&text);
    // One pass: hex digits, and whether any is upper-case.
    let mut upper = false;
    for b in digits.bytes() {
        match b {
            b'0'..=b'9' | b'a'..=b'f' => {}
            b'A'..=b'F' => upper = true,
            _ => return None,
        }
    }
    Some(if upper {
        digits.to_ascii_lowercase().into()
    } else {
        digits.into()
    })
}

/// Nanoseconds: an integer, or a string `u64::from_str` reads (OTLP/JSON writes 64-bit
/// integers as strings).
fn nanos(s: &mut Scan<'_>) -> Option<u64> {
    if s.peek()? == b'"' {
        s.string_u64()
    } else {
        s.u64()
    }
}

/// A `KeyValue` object at `depth`: the key and its value (an empty `Other` when it
/// has none).
fn attr(s: &mut Scan<'_>, depth: usize) -> Option<(Text, AttrValue)> {
    // Every key kept: the inner `None` cannot occur.
    kept_attr(s, depth, |_| true)?
}

/// A `KeyValue` object at `depth`, read whole; `Some(None)` when `keeps` declines its
/// key (then its value is checked as when kept, and not copied out where the layout
/// allows: see [`attr_in_layout`]).
fn kept_attr(
    s: &mut Scan<'_>,
    depth: usize,
    keeps: impl Fn(&str) -> bool,
) -> Option<Option<(Text, AttrValue)>> {
    if let Some(kv) = attr_in_layout(s, depth, &keeps) {
        return Some(kv);
    }
    let (key, value) = any_layout_attr(s, depth)?;
    Some(keeps(&key).then_some((key, value)))
}

/// A `KeyValue` object at `depth`, its fields in any order and repeated as serde
/// takes them.
fn any_layout_attr(s: &mut Scan<'_>, depth: usize) -> Option<(Text, AttrValue)> {
    let (mut key, mut value) = (None, None);
    s.object_in_order(depth, &KEY_VALUE, |s, k| {
        match k {
            "key" => key = Some(Text::from(s.string()?)),
            "value" => {
                value = if s.opt_null()? {
                    None
                } else {
                    any(s, depth + 1)?
                }
            }
            _ => s.skip(depth + 1)?,
        }
        Some(())
    })?;
    Some((key?, value.unwrap_or(AttrValue::Other(Text::new()))))
}

/// An `AnyValue`'s scalar kinds, read alike by [`any`] and by [`attr_in_layout`].
#[derive(Clone, Copy)]
enum Scalar {
    Str,
    Int,
    Double,
    Bool,
}

impl Scalar {
    /// A value of this kind.
    #[inline]
    fn read(self, s: &mut Scan<'_>) -> Option<AttrValue> {
        Some(match self {
            Scalar::Str => AttrValue::Str(s.string()?.into()),
            Scalar::Int => AttrValue::Int(if s.peek()? == b'"' {
                s.string_i64()?
            } else {
                s.i64()?
            }),
            Scalar::Double => AttrValue::Double(s.f64()?),
            Scalar::Bool => AttrValue::Bool(s.boolean()?),
        })
    }

    /// Reads a value of this kind as [`read`](Scalar::read) does (refusing what it
    /// refuses), keeping nothing: a string with no escapes is not copied.
    #[inline]
    fn pass(self, s: &mut Scan<'_>) -> Option<()> {
        match self {
            Scalar::Str => s.string().map(drop),
            _ => self.read(s).map(drop),
        }
    }
}

/// An attribute with a string, integer, double or boolean value, written as OTLP/JSON
/// exporters write it (`{"key":"k","value":{"stringValue":"v"}}`): read from that
/// layout, without the two objects' loops. Its literal parts (`{"key":`,
/// `,"value":{"`, the kind's name and `":`, `}}`) must stand as written; the key and
/// the value are read as anywhere else (whitespace before them skipped). Anything else
/// (another layout, another kind, `null`, an escape the scanner leaves to serde) is
/// `None`, and the attribute is read the general way from where it starts; the same key
/// and value either way. `Some(None)`: read, and `keeps` declined the key (neither is
/// copied unless escapes had to be decoded).
fn attr_in_layout(
    s: &mut Scan<'_>,
    depth: usize,
    keeps: impl Fn(&str) -> bool,
) -> Option<Option<(Text, AttrValue)>> {
    if depth + 1 >= MAX_DEPTH {
        return None;
    }
    let mut t = s.clone();
    t.exactly(r#"{"key":"#)?;
    let key = t.string()?;
    t.exactly(r#","value":{""#)?;
    // The kind's name and its colon compared at once, literals of known length (a
    // loop over a table of names cost 3% of a file's decoding).
    let kind = if t.exactly(r#"stringValue":"#).is_some() {
        Scalar::Str
    } else if t.exactly(r#"intValue":"#).is_some() {
        Scalar::Int
    } else if t.exactly(r#"doubleValue":"#).is_some() {
        Scalar::Double
    } else if t.exactly(r#"boolValue":"#).is_some() {
        Scalar::Bool
    } else {
        return None;
    };
    let value = if keeps(&key) {
        Some(kind.read(&mut t)?)
    } else {
        kind.pass(&mut t)?;
        None
    };
    t.exactly("}}")?;
    *s = t;
    Some(value.map(|value| (Text::from(key), value)))
}

/// An `AnyValue` object at `depth` (`None` inside: no value field it knows).
fn any(s: &mut Scan<'_>, depth: usize) -> Option<Option<AttrValue>> {
    let mut value = None;
    s.object_in_order(depth, &ANY_VALUE, |s, key| {
        // The key is compared once: a kind it does not know is skipped.
        let read: fn(&mut Scan<'_>, usize) -> Option<AttrValue> = match key {
            "stringValue" => |s, _| Scalar::Str.read(s),
            "boolValue" => |s, _| Scalar::Bool.read(s),
            "intValue" => |s, _| Scalar::Int.read(s),
            "doubleValue" => |s, _| Scalar::Double.read(s),
            "arrayValue" => |s, depth| {
                let mut items = Vec::new();
                values(s, depth + 1, |s| {
                    items.push(any(s, depth + 3)?.unwrap_or(AttrValue::Other(Text::new())));
                    Some(())
                })?;
                Some(AttrValue::Array(items))
            },
            "kvlistValue" => |s, depth| {
                let mut pairs = Vec::new();
                values(s, depth + 1, |s| {
                    pairs.push(attr(s, depth + 3)?);
                    Some(())
                })?;
                Some(AttrValue::Other(kvlist_text(pairs).into()))
            },
            "bytesValue" => |s, _| {
                use base64::Engine as _;
                let b64: Cow<'_, str> = s.string()?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .ok()?;
                Some(AttrValue::Other(hex(&bytes).into()))
            },
            _ => return s.skip(depth + 1),
        };
        // `null` leaves what an earlier field gave, as the serde reading does.
        if !s.opt_null()? {
            value = Some(read(s, depth)?);
        }
        Some(())
    })?;
    Some(value)
}

/// `{"values": [...]}` at `depth` (an `ArrayValue` or a `KeyValueList`), `item`
/// reading each element.
fn values(
    s: &mut Scan<'_>,
    depth: usize,
    mut item: impl FnMut(&mut Scan<'_>) -> Option<()>,
) -> Option<()> {
    let mut seen = Seen::default();
    s.object_in_order(depth, &VALUES, |s, key| match key {
        "values" => {
            seen.first(0)?;
            s.array(depth + 1, &mut item)
        }
        _ => s.skip(depth + 1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracefile::LineSpans;

    /// Lines as the file exporter and other tools write them: the scanner reads them
    /// (no fallback), as serde does.
    #[test]
    fn common_lines_are_read_by_the_scanner() {
        let lines = [
            r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}},{"key":"telemetry.sdk.language","value":{"stringValue":"rust"}}]},"scopeSpans":[{"scope":{"name":"aitrace","version":"0.1.0"},"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","parentSpanId":"","flags":1,"name":"chat gpt-4o-mini","kind":3,"startTimeUnixNano":"1764000000000000000","endTimeUnixNano":"1764000000250000000","attributes":[{"key":"gen_ai.usage.input_tokens","value":{"intValue":"213"}},{"key":"gen_ai.usage.cost","value":{"doubleValue":0.000033}},{"key":"gen_ai.response.finish_reasons","value":{"arrayValue":{"values":[{"stringValue":"stop"}]}}},{"key":"gen_ai.request.stream","value":{"boolValue":true}},{"key":"m","value":{"kvlistValue":{"values":[{"key":"a","value":{"intValue":3}}]}}},{"key":"b","value":{"bytesValue":"AQL/"}}],"droppedAttributesCount":0,"events":[{"timeUnixNano":"1764000000100000000","name":"gen_ai.content.chunk","attributes":[{"key":"n","value":{"intValue":"1"}}]}],"links":[],"status":{"code":2,"message":"boom \"quoted\""}}]}]}]}"#,
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0AF7651916CD43DD8448EB211C80319C","spanId":"0xB7AD6B7169203331","name":"x","startTimeUnixNano":5,"endTimeUnixNano":"9","status":{}}]}]}]}"#,
            // Fields given twice, a null after a value, the resource after its spans.
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"00","spanId":"11","name":"a","name":"b","attributes":[{"key":"k","value":{"stringValue":"kept","intValue":null}},{"key":"j","key":"k2","value":{"intValue":"1"},"value":null}]}]}],"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"first"}},{"key":"service.name","value":{"stringValue":"second"}}]}}]}"#,
        ];
        for line in lines {
            let mut ours = Vec::new();
            line_spans(line, &Fields::default(), &mut ours).expect("read by the scanner");
            let LineSpans(theirs) = serde_json::from_str(line).expect("valid");
            assert_eq!(ours, theirs);
        }
    }

    /// serde_json reads `-0.0` as negative zero, sonic-rs (the command's decoder) as
    /// zero: the scanner leaves the line to the decoder, so a file reads as before.
    #[test]
    fn negative_zero_is_left_to_the_decoder() {
        for zero in ["-0.0", "-0", "-0e5"] {
            let line = format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"attributes":[{{"key":"x","value":{{"doubleValue":{zero}}}}}]}}]}}]}}]}}"#
            );
            assert!(serde_json::from_str::<LineSpans>(&line).is_ok(), "{line}");
            let mut spans = vec![SpanRecord::default()];
            assert_eq!(
                line_spans(&line, &Fields::default(), &mut spans),
                None,
                "{line}"
            );
            assert_eq!(spans, [SpanRecord::default()], "left as it was");
        }
    }

    /// A line declined after some of its spans were read leaves none of them behind
    /// (the reader appends a run of lines to one list).
    #[test]
    fn a_line_declined_midway_leaves_the_list_as_it_was() {
        let before = vec![SpanRecord {
            name: "from an earlier line".into(),
            ..SpanRecord::default()
        }];
        let line = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeSpans":[{"spans":[{"spanId":"01","name":"read"},{"spanId":"02","name":"\ud83d\ude00"}]}]}]}"#;
        let mut spans = before.clone();
        assert_eq!(
            line_spans(line, &Fields::default(), &mut spans),
            None,
            "a surrogate escape"
        );
        assert_eq!(spans, before);
        // Without the second span the line is read, after what was there.
        let line = line.replace(r#",{"spanId":"02","name":"\ud83d\ude00"}"#, "");
        line_spans(&line, &Fields::default(), &mut spans).expect("read");
        assert_eq!(spans.len(), 2);
        assert_eq!(
            (spans[0].service.as_str(), spans[1].service.as_str()),
            ("", "svc")
        );
    }
}
