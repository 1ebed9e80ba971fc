//! OTLP/JSON decoded straight into [`SpanRecord`]s, in one pass.
//!
//! Decoding into `opentelemetry-proto`'s types and converting afterwards cost about two
//! thirds of reading a file: every field name and attribute-value key was allocated,
//! ids were decoded from hex into bytes and encoded back, and every attribute went
//! through two representations. Here field names are borrowed from the line, ids stay
//! the hex text they are (checked and lower-cased), values land in [`AttrValue`] at
//! once, and what no report reads (scopes, links, trace state, flags, dropped counts)
//! is skipped without being built. The result is exactly what
//! [`spans_of`](super::spans_of) gives for the same line (the tests compare the two).
//!
//! The impls are generic over serde's `Deserializer`, so any JSON reader can drive
//! them: serde_json, or sonic-rs with the `sonic-rs` feature (see BENCHMARKS.md for
//! the measurement of both, and of simd-json).

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{hex, AttrValue, EventRecord, SpanRecord, Text};

/// The spans of one line of a trace file (one `ExportTraceServiceRequest` in the
/// OTLP/JSON encoding), in file order, decoded in one pass with any serde
/// deserializer. [`SpanReader`](super::SpanReader) uses it with serde_json (sonic-rs
/// with the `sonic-rs` feature); the result
/// is what [`spans_of`](super::spans_of) gives after decoding into
/// `opentelemetry-proto`'s types.
///
/// ```
/// use aitrace_insight::tracefile::LineSpans;
///
/// let line = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeSpans":[{"spans":[{"traceId":"0AF7651916CD43DD8448EB211C80319C","spanId":"b7ad6b7169203331","name":"chat","kind":3,"startTimeUnixNano":"1000","endTimeUnixNano":"2000","attributes":[{"key":"gen_ai.usage.input_tokens","value":{"intValue":"12"}}]}]}]}]}"#;
/// let LineSpans(spans) = serde_json::from_str(line).expect("OTLP/JSON");
/// assert_eq!(spans[0].trace_id, "0af7651916cd43dd8448eb211c80319c");
/// assert_eq!(spans[0].service, "svc");
/// assert_eq!(spans[0].duration_nanos(), 1000);
/// assert_eq!(spans[0].attr("gen_ai.usage.input_tokens").and_then(|v| v.as_i64()), Some(12));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineSpans(pub Vec<SpanRecord>);

/// A field name, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Calls `each` for every element of a JSON array, with the element's deserializer
/// given by `seed`.
struct ForEach<S>(S);

impl<'de, S> DeserializeSeed<'de> for ForEach<S>
where
    S: ElementSeed<'de>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S> Visitor<'de> for ForEach<S>
where
    S: ElementSeed<'de>,
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self.0.element())?.is_some() {}
        Ok(())
    }
}

/// Makes the seed of each element of an array that [`ForEach`] walks.
trait ElementSeed<'de> {
    type Seed<'s>: DeserializeSeed<'de, Value = ()>
    where
        Self: 's;
    fn element(&mut self) -> Self::Seed<'_>;
}

impl<'de> Deserialize<'de> for LineSpans {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LineSpans;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ExportTraceServiceRequest object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LineSpans, A::Error> {
                let mut spans = Vec::new();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    match &*key.0 {
                        "resourceSpans" => {
                            map.next_value_seed(ForEach(ResourceSpansSeed(&mut spans)))?
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(LineSpans(spans))
            }
        }
        d.deserialize_map(V)
    }
}

/// One `ResourceSpans`: its spans, with the resource's `service.name`.
struct ResourceSpansSeed<'a>(&'a mut Vec<SpanRecord>);

impl<'de> ElementSeed<'de> for ResourceSpansSeed<'_> {
    type Seed<'s>
        = ResourceSpansSeed<'s>
    where
        Self: 's;
    fn element(&mut self) -> ResourceSpansSeed<'_> {
        ResourceSpansSeed(&mut *self.0)
    }
}

impl<'de> DeserializeSeed<'de> for ResourceSpansSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ResourceSpansSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a ResourceSpans object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let first = self.0.len();
        let mut service = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match &*key.0 {
                "resource" => {
                    service = map
                        .next_value::<Option<Resource>>()?
                        .and_then(|r| r.service);
                }
                "scopeSpans" => map.next_value_seed(ForEach(ScopeSpansSeed(self.0)))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        // The resource may come after its spans in the object.
        if let Some(service) = service {
            for span in &mut self.0[first..] {
                span.service.clone_from(&service);
            }
        }
        Ok(())
    }
}

/// A resource, for its `service.name` (the first one, as text).
struct Resource {
    service: Option<Text>,
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Resource;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Resource object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Resource, A::Error> {
                let mut service = None;
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    match &*key.0 {
                        "attributes" => {
                            let mut found = None;
                            map.next_value_seed(ForEach(ServiceName(&mut found)))?;
                            service = found;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Resource { service })
            }
        }
        d.deserialize_map(V)
    }
}

/// A resource attribute: kept only when it is the first `service.name`.
struct ServiceName<'a>(&'a mut Option<Text>);

impl<'de> ElementSeed<'de> for ServiceName<'_> {
    type Seed<'s>
        = ServiceName<'s>
    where
        Self: 's;
    fn element(&mut self) -> ServiceName<'_> {
        ServiceName(&mut *self.0)
    }
}

impl<'de> DeserializeSeed<'de> for ServiceName<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let Attr(key, value) = Attr::deserialize(d)?;
        if self.0.is_none() && key == "service.name" {
            *self.0 = Some(match value {
                AttrValue::Str(text) => text,
                other => other.to_string().into(),
            });
        }
        Ok(())
    }
}

/// One `ScopeSpans`: its spans (the scope itself is not read).
struct ScopeSpansSeed<'a>(&'a mut Vec<SpanRecord>);

impl<'de> ElementSeed<'de> for ScopeSpansSeed<'_> {
    type Seed<'s>
        = ScopeSpansSeed<'s>
    where
        Self: 's;
    fn element(&mut self) -> ScopeSpansSeed<'_> {
        ScopeSpansSeed(&mut *self.0)
    }
}

impl<'de> DeserializeSeed<'de> for ScopeSpansSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ScopeSpansSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a ScopeSpans object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match &*key.0 {
                "spans" => map.next_value_seed(ForEach(SpanSeed(self.0)))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// One span, pushed onto the line's spans.
struct SpanSeed<'a>(&'a mut Vec<SpanRecord>);

impl<'de> ElementSeed<'de> for SpanSeed<'_> {
    type Seed<'s>
        = SpanSeed<'s>
    where
        Self: 's;
    fn element(&mut self) -> SpanSeed<'_> {
        SpanSeed(&mut *self.0)
    }
}

impl<'de> DeserializeSeed<'de> for SpanSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let span = d.deserialize_map(SpanVisitor)?;
        self.0.push(span);
        Ok(())
    }
}

struct SpanVisitor;

impl<'de> Visitor<'de> for SpanVisitor {
    type Value = SpanRecord;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Span object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpanRecord, A::Error> {
        let mut span = SpanRecord::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match &*key.0 {
                "traceId" => span.trace_id = map.next_value::<HexId>()?.0,
                "spanId" => span.span_id = map.next_value::<HexId>()?.0,
                "parentSpanId" => span.parent_span_id = map.next_value::<HexId>()?.0,
                "name" => span.name = map.next_value()?,
                "kind" => span.kind = map.next_value()?,
                "startTimeUnixNano" => span.start_unix_nano = map.next_value::<Nanos>()?.0,
                "endTimeUnixNano" => span.end_unix_nano = map.next_value::<Nanos>()?.0,
                "attributes" => map.next_value_seed(ForEach(AttrSeed(&mut span.attributes)))?,
                "events" => map.next_value_seed(ForEach(EventSeed(&mut span.events)))?,
                "status" => {
                    let status = map.next_value::<Option<Status>>()?.unwrap_or_default();
                    span.status_code = status.code;
                    span.status_message = status.message.into();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(span)
    }
}

/// One attribute, pushed onto a span's or an event's attributes.
struct AttrSeed<'a>(&'a mut Vec<(Text, AttrValue)>);

impl<'de> ElementSeed<'de> for AttrSeed<'_> {
    type Seed<'s>
        = AttrSeed<'s>
    where
        Self: 's;
    fn element(&mut self) -> AttrSeed<'_> {
        AttrSeed(&mut *self.0)
    }
}

impl<'de> DeserializeSeed<'de> for AttrSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let Attr(key, value) = Attr::deserialize(d)?;
        self.0.push((key, value));
        Ok(())
    }
}

/// One event, pushed onto a span's events.
struct EventSeed<'a>(&'a mut Vec<EventRecord>);

impl<'de> ElementSeed<'de> for EventSeed<'_> {
    type Seed<'s>
        = EventSeed<'s>
    where
        Self: 's;
    fn element(&mut self) -> EventSeed<'_> {
        EventSeed(&mut *self.0)
    }
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let Event(event) = Event::deserialize(d)?;
        self.0.push(event);
        Ok(())
    }
}

/// A span's status.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Status {
    message: String,
    code: i32,
}

/// A span event.
struct Event(EventRecord);

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Event;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a span Event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
                let mut event = EventRecord {
                    name: Text::new(),
                    time_unix_nano: 0,
                    attributes: Vec::new(),
                };
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    match &*key.0 {
                        "name" => event.name = map.next_value()?,
                        "timeUnixNano" => event.time_unix_nano = map.next_value::<Nanos>()?.0,
                        "attributes" => {
                            map.next_value_seed(ForEach(AttrSeed(&mut event.attributes)))?
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Event(event))
            }
        }
        d.deserialize_map(V)
    }
}

/// A span or trace id: hex text (either case, an optional `0x`), kept as lower-case hex.
struct HexId(Text);

impl<'de> Deserialize<'de> for HexId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HexId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string representing hex-encoded bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HexId, E> {
                if !v.len().is_multiple_of(2) {
                    return Err(E::custom("odd number of digits"));
                }
                let digits = v.strip_prefix("0x").unwrap_or(v);
                if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
                    return Err(E::custom(format_args!("invalid character {bad:?}")));
                }
                Ok(HexId(if digits.bytes().any(|b| b.is_ascii_uppercase()) {
                    digits.to_ascii_lowercase().into()
                } else {
                    digits.into()
                }))
            }
        }
        d.deserialize_str(V)
    }
}

/// Nanoseconds: a JSON number or a string of digits (OTLP/JSON writes 64-bit integers
/// as strings).
struct Nanos(u64);

impl<'de> Deserialize<'de> for Nanos {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Nanos;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a u64 integer or a string containing a u64 integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Nanos, E> {
                Ok(Nanos(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Nanos, E> {
                u64::try_from(v)
                    .map(Nanos)
                    .map_err(|_| E::custom(format_args!("i64 value {v} is out of range for u64")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Nanos, E> {
                v.parse().map(Nanos).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// An `intValue`: a JSON integer or a string of digits.
struct Int(i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an i64 integer or a string containing one")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::custom(format_args!("u64 value {v} is out of range for i64")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int, E> {
                v.parse().map(Int).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A `KeyValue`: the key and its value.
struct Attr(Text, AttrValue);

impl<'de> Deserialize<'de> for Attr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a KeyValue object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attr, A::Error> {
                let mut key = None;
                let mut value = None;
                while let Some(k) = map.next_key::<Key<'de>>()? {
                    match &*k.0 {
                        "key" => key = Some(map.next_value::<Text>()?),
                        "value" => value = map.next_value::<Option<Any>>()?.and_then(|a| a.0),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let key = key.ok_or_else(|| de::Error::missing_field("key"))?;
                Ok(Attr(key, value.unwrap_or(AttrValue::Other(Text::new()))))
            }
        }
        d.deserialize_map(V)
    }
}

/// An `AnyValue` (`None`: no value field it knows).
struct Any(Option<AttrValue>);

impl Any {
    fn into_value(self) -> AttrValue {
        self.0.unwrap_or(AttrValue::Other(Text::new()))
    }
}

/// `{"values": [...]}` of an `ArrayValue` or a `KeyValueList`.
#[derive(Deserialize)]
#[serde(bound = "T: Deserialize<'de>")]
struct Values<T> {
    #[serde(default = "Vec::new")]
    values: Vec<T>,
}

impl<'de> Deserialize<'de> for Any {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Any;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object for AnyValue")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Any, A::Error> {
                let mut value = None;
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    match &*key.0 {
                        "stringValue" => {
                            if let Some(s) = map.next_value::<Option<Text>>()? {
                                value = Some(AttrValue::Str(s));
                            }
                        }
                        "boolValue" => {
                            if let Some(b) = map.next_value::<Option<bool>>()? {
                                value = Some(AttrValue::Bool(b));
                            }
                        }
                        "intValue" => {
                            if let Some(Int(i)) = map.next_value::<Option<Int>>()? {
                                value = Some(AttrValue::Int(i));
                            }
                        }
                        "doubleValue" => {
                            if let Some(x) = map.next_value::<Option<f64>>()? {
                                value = Some(AttrValue::Double(x));
                            }
                        }
                        "arrayValue" => {
                            if let Some(a) = map.next_value::<Option<Values<Any>>>()? {
                                value = Some(AttrValue::Array(
                                    a.values.into_iter().map(Any::into_value).collect(),
                                ));
                            }
                        }
                        "kvlistValue" => {
                            if let Some(list) = map.next_value::<Option<Values<Attr>>>()? {
                                value = Some(AttrValue::Other(
                                    kvlist_text(list.values.into_iter().map(|Attr(k, v)| (k, v)))
                                        .into(),
                                ));
                            }
                        }
                        "bytesValue" => {
                            if let Some(b64) = map.next_value::<Option<Cow<'de, str>>>()? {
                                use base64::Engine as _;
                                let bytes = base64::engine::general_purpose::STANDARD
                                    .decode(b64.as_bytes())
                                    .map_err(de::Error::custom)?;
                                value = Some(AttrValue::Other(hex(&bytes).into()));
                            }
                        }
                        // Kinds added to OTLP later: skipped, as the OTLP/JSON
                        // specification says of unknown fields.
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Any(value))
            }
        }
        d.deserialize_map(V)
    }
}

/// A key-value list as text, `{k: v, ...}`.
pub(super) fn kvlist_text(values: impl IntoIterator<Item = (Text, AttrValue)>) -> String {
    let mut text = String::from("{");
    for (i, (key, value)) in values.into_iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        let _ = write!(text, "{key}: {value}");
    }
    text.push('}');
    text
}
