//! What a call cost, from an embedded model price table.
//!
//! Prices are kept as integers: micro-dollars per million tokens, which is the same
//! number as pico-dollars per token. A cost is a whole number of pico-dollars
//! ([`Cost`]), so summing a million calls gives exactly the product, with no floating
//! point drift; it becomes an `f64` of USD only when recorded (`gen_ai.usage.cost`).
//!
//! The embedded table (`prices/models.json`, each entry with its source and date) can
//! be extended or overridden from code and from a JSON file, in our own format or in
//! LiteLLM's `model_prices_and_context_window.json` format.
//!
//! ```
//! use aitrace_core::cost::{NoCost, PriceTable};
//! use aitrace_core::usage::Usage;
//!
//! let table = PriceTable::embedded();
//! // Dated snapshots, `models/` and provider prefixes are normalized.
//! let cost = table.cost(None, "gpt-4o-2024-08-06", &Usage::new(1_000_000, 0)).unwrap();
//! assert!(cost.usd() > 0.0);
//!
//! // An unknown model has no cost (never 0) and says why.
//! let err = table.cost(None, "my-local-llama", &Usage::new(10, 10)).unwrap_err();
//! assert_eq!(err, NoCost::UnknownModel("my-local-llama".into()));
//! assert_eq!(err.reason(), "unknown_model");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::ops::{Add, AddAssign};
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};

use serde::Deserialize;

use crate::conventions::Provider;
use crate::usage::Usage;

/// The embedded price table, as shipped (see `prices/models.json`).
const EMBEDDED_PRICES: &str = include_str!("../prices/models.json");

/// An exact amount of money in pico-dollars (10^-12 USD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cost {
    picodollars: u128,
}

impl Cost {
    /// No cost.
    pub const ZERO: Cost = Cost { picodollars: 0 };

    /// A cost of exactly this many pico-dollars.
    pub const fn from_picodollars(picodollars: u128) -> Cost {
        Cost { picodollars }
    }

    /// The exact amount in pico-dollars.
    pub const fn picodollars(self) -> u128 {
        self.picodollars
    }

    /// The amount in USD, as recorded on spans and metrics.
    pub fn usd(self) -> f64 {
        // Split to keep full precision for amounts far beyond 2^53 pico-dollars.
        let whole = (self.picodollars / 1_000_000_000_000) as f64;
        let frac = (self.picodollars % 1_000_000_000_000) as f64 / 1e12;
        whole + frac
    }
}

impl Add for Cost {
    type Output = Cost;
    fn add(self, rhs: Cost) -> Cost {
        Cost {
            picodollars: self.picodollars.saturating_add(rhs.picodollars),
        }
    }
}

impl AddAssign for Cost {
    fn add_assign(&mut self, rhs: Cost) {
        *self = *self + rhs;
    }
}

impl std::iter::Sum for Cost {
    fn sum<I: Iterator<Item = Cost>>(iter: I) -> Cost {
        iter.fold(Cost::ZERO, Add::add)
    }
}

impl fmt::Display for Cost {
    /// `$0.012345` (rounded to six decimals; exact when below a micro-dollar).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.picodollars != 0 && self.picodollars < 1_000_000 {
            let digits = format!("{:012}", self.picodollars);
            return write!(f, "$0.{}", digits.trim_end_matches('0'));
        }
        // Rounded to the nearest micro-dollar (half up).
        let micros = (self.picodollars + 500_000) / 1_000_000;
        write!(f, "${}.{:06}", micros / 1_000_000, micros % 1_000_000)
    }
}

/// Why a call has no cost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoCost {
    /// The model is not in the price table.
    #[error("no price known for model `{0}`")]
    UnknownModel(String),
    /// The response said nothing about token usage.
    #[error("the response reported no token usage")]
    UsageUnknown,
    /// No model name was known for the call.
    #[error("the call named no model")]
    ModelUnknown,
}

impl NoCost {
    /// Short marker value for the `aitrace.cost.unavailable` attribute.
    pub const fn reason(&self) -> &'static str {
        match self {
            NoCost::UnknownModel(_) => "unknown_model",
            NoCost::UsageUnknown => "usage_unknown",
            NoCost::ModelUnknown => "model_unknown",
        }
    }
}

/// Prices of one model, in micro-dollars per million tokens (= pico-dollars per token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Price {
    /// Uncached input.
    pub input: u64,
    /// Output (and reasoning, unless priced apart).
    pub output: u64,
    /// Input read from the cache; `None` means billed as input.
    pub cache_read: Option<u64>,
    /// Input written to the cache; `None` means billed as input.
    pub cache_write: Option<u64>,
    /// Reasoning output; `None` means billed as output.
    pub reasoning: Option<u64>,
}

impl Price {
    /// A price from USD per million input and output tokens (e.g. `2.5`, `10.0`).
    /// Values are kept to the micro-dollar per million tokens; negative or non-finite
    /// values count as 0.
    pub fn per_million(input_usd: f64, output_usd: f64) -> Price {
        Price {
            input: usd_per_million_to_units(input_usd),
            output: usd_per_million_to_units(output_usd),
            ..Price::default()
        }
    }

    /// Sets the price of cache reads, in USD per million tokens.
    pub fn with_cache_read(mut self, usd_per_million: f64) -> Price {
        self.cache_read = Some(usd_per_million_to_units(usd_per_million));
        self
    }

    /// Sets the price of cache writes, in USD per million tokens.
    pub fn with_cache_write(mut self, usd_per_million: f64) -> Price {
        self.cache_write = Some(usd_per_million_to_units(usd_per_million));
        self
    }

    /// Sets the price of reasoning tokens, in USD per million tokens.
    pub fn with_reasoning(mut self, usd_per_million: f64) -> Price {
        self.reasoning = Some(usd_per_million_to_units(usd_per_million));
        self
    }

    /// The exact cost of `usage` at this price.
    pub fn cost(&self, usage: &Usage) -> Cost {
        let mul = |tokens: u64, price: u64| u128::from(tokens) * u128::from(price);
        let input = mul(usage.uncached_input_tokens(), self.input)
            + mul(
                usage.cache_read_input_tokens,
                self.cache_read.unwrap_or(self.input),
            )
            + mul(
                usage.cache_creation_input_tokens,
                self.cache_write.unwrap_or(self.input),
            );
        let output = mul(usage.visible_output_tokens(), self.output)
            + mul(
                usage.reasoning_output_tokens,
                self.reasoning.unwrap_or(self.output),
            );
        Cost::from_picodollars(input + output)
    }
}

fn usd_per_million_to_units(usd: f64) -> u64 {
    if usd.is_finite() && usd > 0.0 {
        (usd * 1e6).round() as u64
    } else {
        0
    }
}

fn usd_per_token_to_units(usd: f64) -> u64 {
    if usd.is_finite() && usd > 0.0 {
        (usd * 1e12).round() as u64
    } else {
        0
    }
}

/// One entry of a price table.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPrice {
    /// Provider the price applies to; `None` applies to any provider.
    pub provider: Option<Provider>,
    /// Model id, lower case.
    pub model: String,
    /// The prices.
    pub price: Price,
    /// Where the price comes from.
    pub source: String,
    /// When the price was taken from its source (ISO date).
    pub date: String,
}

/// Errors loading a price file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriceFileError {
    /// The file could not be read.
    #[error("cannot read price file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not JSON of either known shape.
    #[error("price file is not valid JSON of a known shape: {0}")]
    Parse(#[from] serde_json::Error),
    /// The file parsed but held no usable price.
    #[error("price file holds no model with both an input and an output price")]
    Empty,
}

/// A model price table: lookups by (provider, model) with name normalization.
///
/// Entries added later win over earlier ones, so overrides beat the embedded table.
#[derive(Debug, Default)]
pub struct PriceTable {
    by_model: HashMap<String, Vec<ModelPrice>>,
    /// Prices found per (provider, model name as called): name normalization
    /// allocates, and a service calls the same few models all day. Bounded in bytes.
    memo: RwLock<Memo>,
}

/// The memo of [`PriceTable::price`] and the bytes its keys hold.
#[derive(Debug, Default)]
struct Memo {
    prices: HashMap<Box<str>, Option<Price>>,
    bytes: usize,
}

/// Most bytes of keys the memo holds (with each entry's overhead counted); past it,
/// lookups are simply not memoized (a hostile or very varied set of model names cannot
/// grow memory).
pub const MEMO_MAX_BYTES: usize = 256 * 1024;

/// Bytes counted per memo entry beyond its key (the map's slot and the key's header).
const MEMO_ENTRY_OVERHEAD: usize = 64;

/// Longest model name memoized: no real one is near it, so a longer one is looked up
/// each time rather than kept.
const MEMO_MAX_KEY_BYTES: usize = crate::bound::MAX_NAME_BYTES + 32;

impl Clone for PriceTable {
    fn clone(&self) -> PriceTable {
        PriceTable {
            by_model: self.by_model.clone(),
            memo: RwLock::new(Memo::default()),
        }
    }
}

impl PriceTable {
    /// An empty table.
    pub fn new() -> PriceTable {
        PriceTable::default()
    }

    /// The embedded table, parsed once.
    pub fn embedded() -> &'static PriceTable {
        static EMBEDDED: OnceLock<PriceTable> = OnceLock::new();
        EMBEDDED.get_or_init(|| {
            let mut table = PriceTable::new();
            // The embedded file is checked by a test; a broken one yields an empty
            // table rather than a panic in the instrumented application.
            let _ = table.load_json_str(EMBEDDED_PRICES, "embedded");
            table
        })
    }

    /// A builder starting from the embedded table.
    pub fn builder() -> PriceTableBuilder {
        PriceTableBuilder {
            table: PriceTable::embedded().clone(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.by_model.values().map(Vec::len).sum()
    }

    /// Whether the table has no entry.
    pub fn is_empty(&self) -> bool {
        self.by_model.is_empty()
    }

    /// Every entry (in no particular order).
    pub fn entries(&self) -> impl Iterator<Item = &ModelPrice> {
        self.by_model.values().flatten()
    }

    /// Adds (or replaces) an entry.
    pub fn insert(&mut self, entry: ModelPrice) {
        *self.memo.get_mut().unwrap_or_else(|e| e.into_inner()) = Memo::default();
        let key = entry.model.trim().to_ascii_lowercase();
        let list = self.by_model.entry(key).or_default();
        list.retain(|e| e.provider != entry.provider);
        list.push(entry);
    }

    /// Finds the price of `model`, trying the name as given and then normalized forms
    /// (dated snapshots, `models/` and provider prefixes, Bedrock and Vertex ids).
    /// With a provider, its own entry is preferred over another provider's.
    pub fn lookup(&self, provider: Option<&Provider>, model: &str) -> Option<&ModelPrice> {
        model_name_candidates(model)
            .iter()
            .find_map(|candidate| self.lookup_exact(provider, candidate))
    }

    fn lookup_exact(&self, provider: Option<&Provider>, key: &str) -> Option<&ModelPrice> {
        let list = self.by_model.get(key)?;
        let newest_first = || list.iter().rev();
        provider
            .and_then(|p| newest_first().find(|e| e.provider.as_ref() == Some(p)))
            .or_else(|| newest_first().find(|e| e.provider.is_none()))
            .or_else(|| newest_first().next())
    }

    /// The price of `model` (as [`PriceTable::lookup`] finds it), remembered for the
    /// next call with the same provider and name.
    pub fn price(&self, provider: Option<&Provider>, model: &str) -> Option<Price> {
        // The memo's key, `provider \0 model`, made on the stack when it is short (it
        // nearly always is): a lookup that finds it allocates nothing.
        let provider_name = provider.map_or("", Provider::as_str);
        let len = provider_name.len() + 1 + model.len();
        let mut stack = [0u8; 128];
        let owned: String;
        let key: &str = match stack.get_mut(..len) {
            Some(buf) => {
                let (head, tail) = buf.split_at_mut(provider_name.len());
                head.copy_from_slice(provider_name.as_bytes());
                tail[1..].copy_from_slice(model.as_bytes());
                // Two strings and a NUL between them: always UTF-8.
                std::str::from_utf8(buf).unwrap_or_default()
            }
            None => {
                owned = format!("{provider_name}\0{model}");
                &owned
            }
        };
        let memo = self.memo.read().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = memo.prices.get(key) {
            return *found;
        }
        let cost = key.len() + MEMO_ENTRY_OVERHEAD;
        let fits = key.len() <= MEMO_MAX_KEY_BYTES && memo.bytes + cost <= MEMO_MAX_BYTES;
        drop(memo);
        let found = self.lookup(provider, model).map(|e| e.price);
        if fits {
            let mut memo = self.memo.write().unwrap_or_else(|e| e.into_inner());
            if memo.bytes + cost <= MEMO_MAX_BYTES
                && memo.prices.insert(Box::from(key), found).is_none()
            {
                memo.bytes += cost;
            }
        }
        found
    }

    /// Bytes the price memo holds (keys and per-entry overhead), at most
    /// [`MEMO_MAX_BYTES`].
    pub fn memo_bytes(&self) -> usize {
        self.memo.read().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// The exact cost of `usage` on `model`, or why there is none.
    pub fn cost(
        &self,
        provider: Option<&Provider>,
        model: &str,
        usage: &Usage,
    ) -> Result<Cost, NoCost> {
        if model.trim().is_empty() {
            return Err(NoCost::ModelUnknown);
        }
        self.price(provider, model)
            .map(|price| price.cost(usage))
            .ok_or_else(|| NoCost::UnknownModel(model.to_owned()))
    }

    /// Loads prices from a JSON file in our format (`{"models": [...]}`) or in
    /// LiteLLM's `model_prices_and_context_window.json` format. Returns how many
    /// entries were added.
    pub fn load_json_file(&mut self, path: impl AsRef<Path>) -> Result<usize, PriceFileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PriceFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        self.load_json_str(&text, &path.display().to_string())
    }

    /// Like [`PriceTable::load_json_file`], from a string; `origin` names the source
    /// recorded on entries that carry none.
    pub fn load_json_str(&mut self, json: &str, origin: &str) -> Result<usize, PriceFileError> {
        let value: serde_json::Value = serde_json::from_str(json)?;
        let mut entries: Vec<ModelPrice> = if value.get("models").is_some_and(|m| m.is_array()) {
            let file: OwnFile = serde_json::from_value(value)?;
            file.models
                .into_iter()
                .map(|m| m.into_entry(origin))
                .collect()
        } else {
            let map: HashMap<String, serde_json::Value> = serde_json::from_value(value)?;
            map.into_iter()
                .filter_map(|(name, v)| litellm_entry(&name, v, origin))
                .collect()
        };
        // A blank name (e.g. LiteLLM's `provider/`) can never be looked up: skip it.
        entries.retain(|e| !e.model.trim().is_empty());
        if entries.is_empty() {
            return Err(PriceFileError::Empty);
        }
        let added = entries.len();
        for entry in entries {
            self.insert(entry);
        }
        Ok(added)
    }
}

/// Builds a [`PriceTable`] from the embedded one plus overrides.
///
/// ```
/// use aitrace_core::cost::{Price, PriceTable};
/// use aitrace_core::usage::Usage;
///
/// let table = PriceTable::builder()
///     .price("my-finetune", Price::per_million(1.0, 2.0))
///     .build();
/// let cost = table.cost(None, "my-finetune", &Usage::new(1_000_000, 500_000)).unwrap();
/// assert_eq!(cost.usd(), 2.0);
/// ```
#[derive(Debug, Clone)]
pub struct PriceTableBuilder {
    table: PriceTable,
}

impl PriceTableBuilder {
    /// Starts from an empty table instead of the embedded one.
    pub fn without_embedded(mut self) -> Self {
        self.table = PriceTable::new();
        self
    }

    /// Prices `model` for any provider.
    pub fn price(mut self, model: &str, price: Price) -> Self {
        self.table.insert(ModelPrice {
            provider: None,
            model: model.to_owned(),
            price,
            source: "user override".to_owned(),
            date: String::new(),
        });
        self
    }

    /// Prices `model` for one provider.
    pub fn provider_price(mut self, provider: Provider, model: &str, price: Price) -> Self {
        self.table.insert(ModelPrice {
            provider: Some(provider),
            model: model.to_owned(),
            price,
            source: "user override".to_owned(),
            date: String::new(),
        });
        self
    }

    /// Adds every price of a JSON file (see [`PriceTable::load_json_file`]).
    pub fn json_file(mut self, path: impl AsRef<Path>) -> Result<Self, PriceFileError> {
        self.table.load_json_file(path)?;
        Ok(self)
    }

    /// The table.
    pub fn build(self) -> PriceTable {
        self.table
    }
}

static GLOBAL: RwLock<Option<Arc<PriceTable>>> = RwLock::new(None);

/// Makes `table` the one layers use when not given their own.
pub fn set_global_price_table(table: PriceTable) {
    let mut slot = GLOBAL.write().unwrap_or_else(|e| e.into_inner());
    *slot = Some(Arc::new(table));
}

/// The table set by [`set_global_price_table`], or the embedded one.
pub fn global_price_table() -> Arc<PriceTable> {
    static EMBEDDED: OnceLock<Arc<PriceTable>> = OnceLock::new();
    let slot = GLOBAL.read().unwrap_or_else(|e| e.into_inner());
    match slot.as_ref() {
        Some(table) => Arc::clone(table),
        None => Arc::clone(EMBEDDED.get_or_init(|| Arc::new(PriceTable::embedded().clone()))),
    }
}

#[derive(Deserialize)]
struct OwnFile {
    models: Vec<OwnEntry>,
}

#[derive(Deserialize)]
struct OwnEntry {
    provider: Option<String>,
    model: String,
    input: f64,
    /// `null` for embedding models, which bill input only.
    output: Option<f64>,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    reasoning: Option<f64>,
    source: Option<String>,
    date: Option<String>,
}

impl OwnEntry {
    fn into_entry(self, origin: &str) -> ModelPrice {
        let mut price = Price::per_million(self.input, self.output.unwrap_or(0.0));
        price.cache_read = self.cache_read.map(usd_per_million_to_units);
        price.cache_write = self.cache_write.map(usd_per_million_to_units);
        price.reasoning = self.reasoning.map(usd_per_million_to_units);
        ModelPrice {
            provider: self.provider.as_deref().map(Provider::from_name),
            model: self.model.to_ascii_lowercase(),
            price,
            source: self.source.unwrap_or_else(|| origin.to_owned()),
            date: self.date.unwrap_or_default(),
        }
    }
}

/// One LiteLLM entry: per-token USD prices. Entries without both an input and an
/// output price (images, audio, the `sample_spec` example) are skipped.
fn litellm_entry(name: &str, value: serde_json::Value, origin: &str) -> Option<ModelPrice> {
    let per_token = |key: &str| value.get(key).and_then(serde_json::Value::as_f64);
    let input = per_token("input_cost_per_token")?;
    let output = per_token("output_cost_per_token")?;
    let price = Price {
        input: usd_per_token_to_units(input),
        output: usd_per_token_to_units(output),
        cache_read: per_token("cache_read_input_token_cost").map(usd_per_token_to_units),
        cache_write: per_token("cache_creation_input_token_cost").map(usd_per_token_to_units),
        reasoning: per_token("output_cost_per_reasoning_token").map(usd_per_token_to_units),
    };
    let provider = value
        .get("litellm_provider")
        .and_then(serde_json::Value::as_str)
        .map(litellm_provider);
    // LiteLLM keys some models as `provider/model`; calls name the bare model.
    let model = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    Some(ModelPrice {
        provider,
        model,
        price,
        source: format!("{origin} (LiteLLM format)"),
        date: String::new(),
    })
}

fn litellm_provider(name: &str) -> Provider {
    match name {
        "text-completion-openai" | "openai" => Provider::OpenAi,
        "gemini" => Provider::Gemini,
        n if n.starts_with("vertex_ai") => Provider::VertexAi,
        "bedrock" | "bedrock_converse" => Provider::AwsBedrock,
        "azure" | "azure_text" => Provider::AzureOpenAi,
        "mistral" | "codestral" | "text-completion-codestral" => Provider::MistralAi,
        other => Provider::from_name(other),
    }
}

/// The names to try for `model`, most specific first.
fn model_name_candidates(model: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(6);
    let mut push = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    let lower = model.trim().to_ascii_lowercase();
    push(&lower);

    // `models/gemini-2.5-pro`, `openai/gpt-4o`, Vertex resource paths: the last part.
    let mut name = lower.rsplit('/').next().unwrap_or(&lower).to_owned();
    push(&name);
    // Vertex snapshots: `claude-3-5-sonnet-v2@20241022`, `gemini-1.5-pro@002`.
    if let Some((base, _)) = name.split_once('@') {
        name = base.to_owned();
        push(&name);
    }
    // OpenRouter variants: `model:free`, Bedrock `...-v1:0` handled below.
    let bedrock = strip_bedrock(&name);
    if bedrock != name {
        name = bedrock;
        push(&name);
    }
    if let Some((base, tag)) = name.split_once(':') {
        if tag.chars().all(|c| c.is_ascii_alphabetic()) {
            name = base.to_owned();
            push(&name);
        }
    }
    let undated = strip_version_suffix(&name);
    if undated != name {
        push(&undated);
        name = undated;
    }
    // `claude-3.5-sonnet` (OpenRouter spelling) -> `claude-3-5-sonnet`.
    if name.starts_with("claude") && name.contains('.') {
        let dashed = name.replace('.', "-");
        push(&strip_version_suffix(&dashed));
    }
    out
}

/// `us.anthropic.claude-3-7-sonnet-20250219-v1:0` -> `claude-3-7-sonnet-20250219`.
fn strip_bedrock(name: &str) -> String {
    const REGIONS: &[&str] = &["us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au."];
    const VENDORS: &[&str] = &[
        "anthropic.",
        "meta.",
        "amazon.",
        "mistral.",
        "cohere.",
        "ai21.",
        "deepseek.",
        "openai.",
        "qwen.",
    ];
    let mut rest = name;
    for region in REGIONS {
        if let Some(r) = rest.strip_prefix(region) {
            rest = r;
            break;
        }
    }
    let Some(after_vendor) = VENDORS.iter().find_map(|v| rest.strip_prefix(v)) else {
        return name.to_owned();
    };
    let mut out = after_vendor;
    // `-v1:0`, `-v2:0`, `-v1`, `:0`
    if let Some((base, tail)) = out.rsplit_once(':') {
        if tail.chars().all(|c| c.is_ascii_digit()) {
            out = base;
        }
    }
    if let Some((base, tail)) = out.rsplit_once("-v") {
        if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) {
            out = base;
        }
    }
    out.to_owned()
}

/// Strips snapshot suffixes: `-2024-08-06`, `-20241022`, `-latest`, `-0613`, `-002`,
/// `-preview-05-20`.
fn strip_version_suffix(name: &str) -> String {
    let mut s = name;
    loop {
        let before = s;
        if let Some(base) = s.strip_suffix("-latest") {
            s = base;
        }
        let parts: Vec<&str> = s.rsplitn(4, '-').collect();
        let is_digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
        // -YYYY-MM-DD
        if parts.len() == 4
            && is_digits(parts[0], 2)
            && is_digits(parts[1], 2)
            && is_digits(parts[2], 4)
        {
            s = parts[3];
        } else if parts.len() >= 2
            && (is_digits(parts[0], 8) || is_digits(parts[0], 4) || is_digits(parts[0], 3))
        {
            // -YYYYMMDD, -MMDD, -002
            s = &s[..s.len() - parts[0].len() - 1];
        } else if parts.len() >= 3 && is_digits(parts[0], 2) && is_digits(parts[1], 2) {
            // -preview-05-20 -> -preview
            s = &s[..s.len() - parts[0].len() - parts[1].len() - 2];
        }
        if s == before {
            return s.to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_price_memo_is_bounded_in_bytes() {
        let table = PriceTable::embedded().clone();
        // 6 000 distinct 16 KiB model names (the issue's +64 MiB), then short ones.
        for i in 0..6_000 {
            let model = format!("{i}-{}", "m".repeat(16 * 1024));
            assert!(table.price(Some(&Provider::OpenAi), &model).is_none());
        }
        assert_eq!(table.memo_bytes(), 0, "no long name is kept");
        for i in 0..20_000 {
            let _ = table.price(Some(&Provider::OpenAi), &format!("unknown-model-{i}"));
        }
        assert!(
            table.memo_bytes() <= MEMO_MAX_BYTES,
            "{}",
            table.memo_bytes()
        );
        assert!(table.memo_bytes() > MEMO_MAX_BYTES / 2);
        // Known models still price, memoized or not.
        assert!(table
            .price(Some(&Provider::OpenAi), "gpt-4o-mini")
            .is_some());
    }

    #[test]
    fn memo_keys_are_the_same_made_on_the_stack_or_not() {
        let table = PriceTable::embedded().clone();
        // Short keys are made on the stack, keys past 128 bytes on the heap.
        for model in [
            "gpt-4o-mini".to_owned(),
            format!("gpt-4o-mini-{}", "x".repeat(140)),
        ] {
            let before = table.memo_bytes();
            let first = table.price(Some(&Provider::OpenAi), &model);
            let once = table.memo_bytes();
            assert!(once > before, "{model}: memoized");
            assert_eq!(table.price(Some(&Provider::OpenAi), &model), first);
            assert_eq!(table.memo_bytes(), once, "{model}: found, not added again");
            // Another provider (or none) is another key.
            let _ = table.price(None, &model);
            assert!(table.memo_bytes() > once);
        }
        assert!(table
            .price(Some(&Provider::OpenAi), "gpt-4o-mini")
            .is_some());
    }

    #[test]
    fn the_embedded_table_parses_and_is_dated() {
        let mut table = PriceTable::new();
        let n = table
            .load_json_str(EMBEDDED_PRICES, "embedded")
            .expect("embedded prices parse");
        assert!(n >= 40, "only {n} embedded prices");
        for e in table.entries() {
            assert!(!e.source.is_empty(), "{} has no source", e.model);
            assert_eq!(e.date.len(), 10, "{} has no ISO date", e.model);
            assert!(e.provider.is_some(), "{} has no provider", e.model);
        }
    }

    #[test]
    fn names_normalize() {
        let c = model_name_candidates("gpt-4o-2024-08-06");
        assert!(c.contains(&"gpt-4o".to_owned()), "{c:?}");
        let c = model_name_candidates("models/gemini-1.5-pro-002");
        assert!(c.contains(&"gemini-1.5-pro".to_owned()), "{c:?}");
        let c = model_name_candidates("us.anthropic.claude-3-7-sonnet-20250219-v1:0");
        assert!(c.contains(&"claude-3-7-sonnet".to_owned()), "{c:?}");
        let c = model_name_candidates("claude-3-5-sonnet-v2@20241022");
        assert!(c.contains(&"claude-3-5-sonnet-v2".to_owned()), "{c:?}");
        let c = model_name_candidates("anthropic/claude-3.5-sonnet");
        assert!(c.contains(&"claude-3-5-sonnet".to_owned()), "{c:?}");
        let c = model_name_candidates("gpt-3.5-turbo-0125");
        assert!(c.contains(&"gpt-3.5-turbo".to_owned()), "{c:?}");
        // A mini model never falls back to its bigger sibling.
        let c = model_name_candidates("gpt-4o-mini-2024-07-18");
        assert!(!c.contains(&"gpt-4o".to_owned()), "{c:?}");
    }

    #[test]
    fn cost_splits_cache_and_reasoning() {
        let price = Price::per_million(2.0, 8.0)
            .with_cache_read(0.5)
            .with_cache_write(2.5)
            .with_reasoning(10.0);
        let usage = Usage::new(1_000_000, 1_000_000)
            .with_cache_read(400_000)
            .with_cache_creation(100_000)
            .with_reasoning(250_000);
        // 500k*2 + 400k*0.5 + 100k*2.5 + 750k*8 + 250k*10 (per 1M) = 1+0.2+0.25+6+2.5
        assert_eq!(price.cost(&usage).usd(), 9.95);
    }

    #[test]
    fn cost_display() {
        assert_eq!(
            Cost::from_picodollars(12_345_000_000).to_string(),
            "$0.012345"
        );
        assert_eq!(Cost::from_picodollars(1_500).to_string(), "$0.0000000015");
        assert_eq!(Cost::ZERO.to_string(), "$0.000000");
        // Rounded, not cut: 0.0003027 USD.
        assert_eq!(Cost::from_picodollars(302_700_000).to_string(), "$0.000303");
        assert_eq!(
            Cost::from_picodollars(999_999_500_000).to_string(),
            "$1.000000"
        );
    }
}
