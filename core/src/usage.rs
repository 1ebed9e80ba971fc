//! Token usage, with the GenAI conventions' counting rules.
//!
//! `input_tokens` includes cached tokens (read from and written to the cache) and
//! `output_tokens` includes reasoning tokens. Providers count differently:
//! OpenAI's `prompt_tokens` already include `cached_tokens`, while Anthropic reports
//! `input_tokens` without the cache, so [`Usage::from_anthropic`] adds them up.
//!
//! ```
//! use aitrace_core::usage::Usage;
//!
//! let openai = Usage::new(1_200, 300).with_cache_read(1_000).with_reasoning(120);
//! let anthropic = Usage::from_anthropic(50, 1_000, 200, 80);
//! assert_eq!(anthropic.input_tokens, 1_250);
//!
//! let run = openai + anthropic;
//! assert_eq!(run.input_tokens, 2_450);
//! assert_eq!(run.cache_read_input_tokens, 2_000);
//! assert_eq!(run.total_tokens(), 2_830);
//! ```

use std::ops::{Add, AddAssign};

use opentelemetry::KeyValue;

use crate::conventions::{self, NameSet};

/// Tokens used by one call or summed over many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub input_tokens: u64,
    /// Output tokens, reasoning ones included.
    pub output_tokens: u64,
    /// Input tokens served from the provider's cache.
    pub cache_read_input_tokens: u64,
    /// Input tokens written to the provider's cache.
    pub cache_creation_input_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_output_tokens: u64,
}

impl Usage {
    /// Usage with the given input and output tokens and nothing cached.
    pub const fn new(input_tokens: u64, output_tokens: u64) -> Usage {
        Usage {
            input_tokens,
            output_tokens,
            cache_read_input_tokens: 0,
            cache_creation_input_tokens: 0,
            reasoning_output_tokens: 0,
        }
    }

    /// Sets the cached (read) part of the input. It stays counted in `input_tokens`.
    pub const fn with_cache_read(mut self, tokens: u64) -> Usage {
        self.cache_read_input_tokens = tokens;
        self
    }

    /// Sets the cache-write part of the input. It stays counted in `input_tokens`.
    pub const fn with_cache_creation(mut self, tokens: u64) -> Usage {
        self.cache_creation_input_tokens = tokens;
        self
    }

    /// Sets the reasoning part of the output. It stays counted in `output_tokens`.
    pub const fn with_reasoning(mut self, tokens: u64) -> Usage {
        self.reasoning_output_tokens = tokens;
        self
    }

    /// Usage as Anthropic reports it: its `input_tokens` exclude the cache, so the
    /// conventions' input is `input + cache_read + cache_creation`.
    pub const fn from_anthropic(
        input_tokens: u64,
        cache_read_input_tokens: u64,
        cache_creation_input_tokens: u64,
        output_tokens: u64,
    ) -> Usage {
        Usage {
            input_tokens: input_tokens
                .saturating_add(cache_read_input_tokens)
                .saturating_add(cache_creation_input_tokens),
            output_tokens,
            cache_read_input_tokens,
            cache_creation_input_tokens,
            reasoning_output_tokens: 0,
        }
    }

    /// Input plus output tokens.
    pub const fn total_tokens(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }

    /// Input tokens that were neither read from nor written to the cache.
    pub const fn uncached_input_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_sub(self.cache_read_input_tokens)
            .saturating_sub(self.cache_creation_input_tokens)
    }

    /// Output tokens that were not reasoning.
    pub const fn visible_output_tokens(&self) -> u64 {
        self.output_tokens
            .saturating_sub(self.reasoning_output_tokens)
    }

    /// The usage attributes for a span, counts as `i64` (tracing-opentelemetry and
    /// most backends have no unsigned integers). Input and output are always present;
    /// cache and reasoning counts only when non-zero. `names.legacy` adds
    /// `gen_ai.usage.prompt_tokens` / `completion_tokens`.
    pub fn attributes(&self, names: NameSet) -> Vec<KeyValue> {
        let mut attrs = Vec::with_capacity(7);
        self.push_attributes(names, &mut attrs);
        attrs
    }

    /// [`Usage::attributes`], added to the end of `attrs` (for a caller that gathers
    /// a span's attributes in one list).
    ///
    /// ```
    /// use aitrace_core::conventions::NameSet;
    /// use aitrace_core::usage::Usage;
    /// use opentelemetry::KeyValue;
    ///
    /// let usage = Usage { input_tokens: 19, output_tokens: 10, ..Usage::default() };
    /// let mut attrs = vec![KeyValue::new("gen_ai.response.id", "chatcmpl-1")];
    /// usage.push_attributes(NameSet::default(), &mut attrs);
    /// assert_eq!(attrs.len(), 3);
    /// assert_eq!(attrs[1..], usage.attributes(NameSet::default())[..]);
    /// ```
    pub fn push_attributes(&self, names: NameSet, attrs: &mut Vec<KeyValue>) {
        attrs.push(KeyValue::new(
            conventions::GEN_AI_USAGE_INPUT_TOKENS,
            to_i64(self.input_tokens),
        ));
        attrs.push(KeyValue::new(
            conventions::GEN_AI_USAGE_OUTPUT_TOKENS,
            to_i64(self.output_tokens),
        ));
        let optional = [
            (
                conventions::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                self.cache_read_input_tokens,
            ),
            (
                conventions::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
                self.cache_creation_input_tokens,
            ),
            (
                conventions::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
                self.reasoning_output_tokens,
            ),
        ];
        for (key, value) in optional {
            if value > 0 {
                attrs.push(KeyValue::new(key, to_i64(value)));
            }
        }
        if names.legacy {
            if self.cache_creation_input_tokens > 0 {
                attrs.push(KeyValue::new(
                    conventions::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
                    to_i64(self.cache_creation_input_tokens),
                ));
            }
            attrs.push(KeyValue::new(
                conventions::GEN_AI_USAGE_PROMPT_TOKENS,
                to_i64(self.input_tokens),
            ));
            attrs.push(KeyValue::new(
                conventions::GEN_AI_USAGE_COMPLETION_TOKENS,
                to_i64(self.output_tokens),
            ));
        }
    }

    /// Records [`Usage::attributes`] onto a `tracing` span (through
    /// tracing-opentelemetry; a no-op when the span is disabled).
    pub fn record(&self, span: &tracing::Span, names: NameSet) {
        crate::span::set_attributes(span, self.attributes(names));
    }
}

/// Saturating conversion: counts beyond `i64::MAX` are absurd, not worth a panic.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Add for Usage {
    type Output = Usage;

    fn add(mut self, rhs: Usage) -> Usage {
        self += rhs;
        self
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, rhs: Usage) {
        self.input_tokens = self.input_tokens.saturating_add(rhs.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(rhs.output_tokens);
        self.cache_read_input_tokens = self
            .cache_read_input_tokens
            .saturating_add(rhs.cache_read_input_tokens);
        self.cache_creation_input_tokens = self
            .cache_creation_input_tokens
            .saturating_add(rhs.cache_creation_input_tokens);
        self.reasoning_output_tokens = self
            .reasoning_output_tokens
            .saturating_add(rhs.reasoning_output_tokens);
    }
}

impl std::iter::Sum for Usage {
    fn sum<I: Iterator<Item = Usage>>(iter: I) -> Usage {
        iter.fold(Usage::default(), Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::Value;

    fn get(attrs: &[KeyValue], key: &str) -> Option<Value> {
        attrs
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.clone())
    }

    #[test]
    fn anthropic_input_includes_the_cache() {
        let u = Usage::from_anthropic(10, 100, 1_000, 7);
        assert_eq!(u.input_tokens, 1_110);
        assert_eq!(u.uncached_input_tokens(), 10);
        assert_eq!(u.output_tokens, 7);
    }

    #[test]
    fn attributes_are_i64_and_skip_zero_extras() {
        let attrs = Usage::new(5, 6).attributes(NameSet::default());
        assert_eq!(attrs.len(), 2);
        assert_eq!(
            get(&attrs, conventions::GEN_AI_USAGE_INPUT_TOKENS),
            Some(Value::I64(5))
        );
        let attrs = Usage::new(5, 6)
            .with_reasoning(2)
            .attributes(NameSet { legacy: true });
        assert_eq!(
            get(&attrs, conventions::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
            Some(Value::I64(2))
        );
        assert_eq!(
            get(&attrs, conventions::GEN_AI_USAGE_COMPLETION_TOKENS),
            Some(Value::I64(6))
        );
    }

    #[test]
    fn sums_saturate_instead_of_overflowing() {
        let big = Usage::new(u64::MAX, 1);
        let sum = big + Usage::new(1, 1);
        assert_eq!(sum.input_tokens, u64::MAX);
        assert_eq!(
            get(
                &sum.attributes(NameSet::default()),
                "gen_ai.usage.input_tokens"
            ),
            Some(Value::I64(i64::MAX))
        );
        let total: Usage = [Usage::new(1, 2), Usage::new(3, 4)].into_iter().sum();
        assert_eq!(total, Usage::new(4, 6));
    }
}
