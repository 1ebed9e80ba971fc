//! The GenAI client metrics, created on first use from the global meter provider.
//!
//! Metric attributes the caller controls (the model names of the request and the
//! response, a custom provider name, the provider's error type, the server address)
//! are bounded in length and in cardinality: each keeps its first
//! [`DEFAULT_MAX_DISTINCT_VALUES`](aitrace_core::bound::DEFAULT_MAX_DISTINCT_VALUES) distinct values, process-wide, and reports any
//! other as `_OTHER`, so a gateway called with ever new model names keeps a bounded
//! number of series.
//!
//! # Why series are bound
//!
//! The SDK finds a measurement's series by hashing its attributes (SipHash over every
//! key and value) on every point: for a call's four or five points with eight
//! attributes each, that was most of what recording a call cost (see BENCHMARKS.md).
//! So, when the global meter provider is declared to be the SDK's
//! ([`aitrace_core::emit::sdk_meter_provider`]; `aitrace::init()` declares the one it
//! installs), each attribute set a call records with is looked up once, in a small map
//! of our own with a fast hasher, and its points go to instruments bound to that set
//! (`bind`, the SDK's bound instruments). The map keeps at most [`MAX_BOUND_SERIES`]
//! sets of at most 1 KiB whose values were all admitted unchanged by the caps; any
//! other call records its points the usual way. An instrument's first point on a set is
//! recorded the usual way and the instrument bound after it, so no empty series is
//! exported (a chat call that never streams has no time-to-first-chunk point). Any
//! other meter provider gets every point the usual way: the API's default `bind`
//! returns a handle that drops what is recorded through it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use aitrace_core::bound::CardinalityCap;
use aitrace_core::conventions as c;
use opentelemetry::metrics::{BoundCounter, BoundHistogram, Counter, Histogram};
use opentelemetry::{InstrumentationScope, KeyValue};

#[derive(Debug)]
pub(crate) struct Instruments {
    duration: Histogram<f64>,
    tokens: Histogram<u64>,
    ttfc: Histogram<f64>,
    cost: Counter<f64>,
}

/// Attribute sets kept bound, at most (a bound series is never evicted by the SDK, so
/// this bounds what binding can hold on to).
pub(crate) const MAX_BOUND_SERIES: usize = 512;

/// The longest attribute set kept bound, in bytes of its values (longer sets, e.g. one
/// with an oversized fingerprint, are recorded the usual way and never held here).
const MAX_BOUND_SET_BYTES: usize = 1024;

/// One attribute set's instruments. Each is bound after its first point, which is
/// recorded the usual way: the SDK then creates the series with that point in it, so
/// no collection can find it empty, whatever the temporality.
#[derive(Debug)]
struct Series {
    /// The set (the token histogram's points add the token type to it).
    attrs: Vec<KeyValue>,
    duration: OnceLock<BoundHistogram<f64>>,
    ttfc: OnceLock<BoundHistogram<f64>>,
    cost: OnceLock<BoundCounter<f64>>,
    input_tokens: OnceLock<BoundHistogram<u64>>,
    output_tokens: OnceLock<BoundHistogram<u64>>,
}

/// Records `value` through `bound` once it is bound; the first time, the usual way, and
/// then binds.
fn histogram_point<T: Copy>(
    bound: &OnceLock<BoundHistogram<T>>,
    histogram: &Histogram<T>,
    attrs: impl FnOnce() -> Vec<KeyValue>,
    value: T,
) {
    match bound.get() {
        Some(b) => b.record(value),
        None => {
            let attrs = attrs();
            histogram.record(value, &attrs);
            let _ = bound.get_or_init(|| histogram.bind(&attrs));
        }
    }
}

impl Series {
    fn new(attrs: Vec<KeyValue>) -> Series {
        Series {
            attrs,
            duration: OnceLock::new(),
            ttfc: OnceLock::new(),
            cost: OnceLock::new(),
            input_tokens: OnceLock::new(),
            output_tokens: OnceLock::new(),
        }
    }

    fn with_token_type(&self, kind: &'static str) -> Vec<KeyValue> {
        let mut attrs = Vec::with_capacity(self.attrs.len() + 1);
        attrs.extend(self.attrs.iter().cloned());
        attrs.push(KeyValue::new(c::GEN_AI_TOKEN_TYPE, kind));
        attrs
    }

    fn record(&self, i: &Instruments, point: &Point) {
        let set = || self.attrs.clone();
        histogram_point(&self.duration, &i.duration, set, point.duration_s);
        if let Some(t) = point.ttfc_s {
            histogram_point(&self.ttfc, &i.ttfc, set, t);
        }
        if let Some(usd) = point.cost_usd {
            match self.cost.get() {
                Some(b) => b.add(usd),
                None => {
                    i.cost.add(usd, &self.attrs);
                    let _ = self.cost.get_or_init(|| i.cost.bind(&self.attrs));
                }
            }
        }
        if let Some(n) = point.input_tokens {
            let set = || self.with_token_type("input");
            histogram_point(&self.input_tokens, &i.tokens, set, n);
        }
        if let Some(n) = point.output_tokens {
            let set = || self.with_token_type("output");
            histogram_point(&self.output_tokens, &i.tokens, set, n);
        }
    }
}

/// What one call records.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Point {
    pub(crate) duration_s: f64,
    pub(crate) input_tokens: Option<u64>,
    pub(crate) output_tokens: Option<u64>,
    pub(crate) ttfc_s: Option<f64>,
    pub(crate) cost_usd: Option<f64>,
}

type SeriesMap = HashMap<Vec<KeyValue>, Arc<Series>, foldhash::fast::RandomState>;

/// Lazily made instruments: made at the first recorded call, so a meter provider
/// installed after the layer was built is still used.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// Which `Metrics` a thread's [`LAST`] series belongs to.
    id: u64,
    instruments: OnceLock<Instruments>,
    series: RwLock<SeriesMap>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Metrics {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            instruments: OnceLock::new(),
            series: RwLock::default(),
        }
    }
}

thread_local! {
    /// The series this thread's last call recorded to, and the id of the `Metrics` it
    /// is of: calls in a row are mostly alike (one model, one provider), and comparing
    /// a set with it costs a fraction of hashing the set for the map. Per thread, so
    /// calls on several threads share no lock for it.
    static LAST: RefCell<Option<(u64, Arc<Series>)>> = const { RefCell::new(None) };
}

impl Metrics {
    fn get(&self) -> &Instruments {
        self.instruments.get_or_init(|| {
            let scope = InstrumentationScope::builder("aitrace")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build();
            let meter = opentelemetry::global::meter_with_scope(scope);
            Instruments {
                duration: meter
                    .f64_histogram(c::METRIC_OPERATION_DURATION)
                    .with_unit("s")
                    .with_description("GenAI operation duration")
                    .with_boundaries(c::DURATION_BUCKETS.to_vec())
                    .build(),
                tokens: meter
                    .u64_histogram(c::METRIC_TOKEN_USAGE)
                    .with_unit("{token}")
                    .with_description("Number of input and output tokens used")
                    .with_boundaries(c::TOKEN_BUCKETS.to_vec())
                    .build(),
                ttfc: meter
                    .f64_histogram(c::METRIC_TIME_TO_FIRST_CHUNK)
                    .with_unit("s")
                    .with_description("Time to the first chunk of a streamed response")
                    .with_boundaries(c::DURATION_BUCKETS.to_vec())
                    .build(),
                cost: meter
                    .f64_counter(c::METRIC_COST)
                    .with_unit("USD")
                    .with_description("Cost of GenAI calls whose model is priced")
                    .build(),
            }
        })
    }

    /// Records one call. `attrs` are the call's metric attributes (capped, see the
    /// module docs); the token type is added for the token histogram.
    pub(crate) fn record(&self, attrs: Vec<KeyValue>, point: Point) {
        let i = self.get();
        if !aitrace_core::emit::sdk_meter_provider() {
            return record_unbound(i, capped(attrs).0, &point);
        }
        let last = LAST
            .try_with(|last| {
                last.borrow()
                    .as_ref()
                    .filter(|(id, series)| *id == self.id && series.attrs == attrs)
                    .map(|(_, series)| Arc::clone(series))
            })
            .ok()
            .flatten();
        if let Some(series) = last {
            series.record(i, &point);
            return;
        }
        let (found, full) = {
            let map = self.series.read().unwrap_or_else(|e| e.into_inner());
            (
                map.get(attrs.as_slice()).cloned(),
                map.len() >= MAX_BOUND_SERIES,
            )
        };
        if let Some(series) = found {
            series.record(i, &point);
            self.remember(series);
            return;
        }
        let (attrs, unchanged) = capped(attrs);
        if unchanged && !full && set_bytes(&attrs) <= MAX_BOUND_SET_BYTES {
            let series = {
                let mut map = self.series.write().unwrap_or_else(|e| e.into_inner());
                match map.get(attrs.as_slice()) {
                    Some(series) => Some(Arc::clone(series)),
                    None if map.len() < MAX_BOUND_SERIES => {
                        let series = Arc::new(Series::new(attrs.clone()));
                        map.insert(attrs.clone(), Arc::clone(&series));
                        Some(series)
                    }
                    None => None,
                }
            };
            if let Some(series) = series {
                series.record(i, &point);
                self.remember(series);
                return;
            }
        }
        record_unbound(i, attrs, &point);
    }

    fn remember(&self, series: Arc<Series>) {
        let _ = LAST.try_with(|last| *last.borrow_mut() = Some((self.id, series)));
    }
}

/// Bytes of an attribute set's values, as far as holding it costs memory.
fn set_bytes(attrs: &[KeyValue]) -> usize {
    attrs
        .iter()
        .map(|kv| match &kv.value {
            opentelemetry::Value::String(s) => s.as_str().len(),
            _ => 8,
        })
        .sum()
}

/// A call whose attribute set is not kept bound (the meter provider is not declared the
/// SDK's, a value the caps changed, a long set, or the map is full): its points are
/// looked up by the SDK.
fn record_unbound(i: &Instruments, mut attrs: Vec<KeyValue>, point: &Point) {
    i.duration.record(point.duration_s, &attrs);
    if let Some(t) = point.ttfc_s {
        i.ttfc.record(t, &attrs);
    }
    if let Some(usd) = point.cost_usd {
        i.cost.add(usd, &attrs);
    }
    for (tokens, kind) in [
        (point.input_tokens, "input"),
        (point.output_tokens, "output"),
    ] {
        if let Some(n) = tokens {
            attrs.push(KeyValue::new(c::GEN_AI_TOKEN_TYPE, kind));
            i.tokens.record(n, &attrs);
            attrs.pop();
        }
    }
}

/// One cap per attribute the caller controls (the request's and the response's model
/// share one: they name the same models).
fn cap_for(key: &str) -> Option<&'static CardinalityCap> {
    static MODELS: OnceLock<CardinalityCap> = OnceLock::new();
    static PROVIDERS: OnceLock<CardinalityCap> = OnceLock::new();
    static ERROR_TYPES: OnceLock<CardinalityCap> = OnceLock::new();
    static SERVERS: OnceLock<CardinalityCap> = OnceLock::new();
    let cell = match key {
        c::GEN_AI_REQUEST_MODEL | c::GEN_AI_RESPONSE_MODEL => &MODELS,
        c::GEN_AI_PROVIDER_NAME => &PROVIDERS,
        c::ERROR_TYPE => &ERROR_TYPES,
        c::SERVER_ADDRESS => &SERVERS,
        _ => return None,
    };
    Some(cell.get_or_init(CardinalityCap::default))
}

/// The attributes with caller-controlled values bounded and capped, and whether every
/// value was admitted unchanged.
fn capped(mut attrs: Vec<KeyValue>) -> (Vec<KeyValue>, bool) {
    let mut unchanged = true;
    for kv in &mut attrs {
        if let Some(cap) = cap_for(kv.key.as_str()) {
            let value = kv.value.as_str();
            let admitted = cap.admit(&value);
            if admitted != value {
                let admitted = admitted.into_owned();
                kv.value = admitted.into();
                unchanged = false;
            }
        }
    }
    (attrs, unchanged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_controlled_values_are_capped() {
        let attrs = |model: &str| {
            vec![
                KeyValue::new(c::GEN_AI_OPERATION_NAME, "chat"),
                KeyValue::new(c::GEN_AI_REQUEST_MODEL, model.to_owned()),
            ]
        };
        let mut distinct = std::collections::HashSet::new();
        for i in 0..2_001 {
            let (out, _) = capped(attrs(&format!("model-{i}-{}", "x".repeat(16 * 1024))));
            assert_eq!(out[0], KeyValue::new(c::GEN_AI_OPERATION_NAME, "chat"));
            let model = out[1].value.as_str().into_owned();
            assert!(model.len() <= aitrace_core::bound::MAX_NAME_BYTES);
            distinct.insert(model);
        }
        // At most the cap's values plus `_OTHER`.
        assert!(
            distinct.len() <= aitrace_core::bound::DEFAULT_MAX_DISTINCT_VALUES + 1,
            "{}",
            distinct.len()
        );
        assert!(distinct.contains("_OTHER"));
    }
}
