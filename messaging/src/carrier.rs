//! What is read from a message's headers is untrusted: values are size-checked before
//! the propagator sees them, and the run totals header is parsed strictly.

use aitrace_core::cost::Cost;
use aitrace_core::propagation::MAX_VALUE_LEN as MAX_VALUE;
use aitrace_core::run::RunTotals;
use aitrace_core::usage::Usage;
use opentelemetry::propagation::Extractor;

/// The value of header `key`, when present and not oversized.
pub(crate) fn header<'a>(carrier: &'a dyn Extractor, key: &str) -> Option<&'a str> {
    carrier.get(key).filter(|v| v.len() <= MAX_VALUE)
}

/// `RunTotals` as a header value: `v1;in=..;out=..;cr=..;cw=..;ro=..;pico=..;llm=..;nocost=..;tools=..`.
pub(crate) fn encode_totals(t: &RunTotals) -> String {
    format!(
        "v1;in={};out={};cr={};cw={};ro={};pico={};llm={};nocost={};tools={}",
        t.usage.input_tokens,
        t.usage.output_tokens,
        t.usage.cache_read_input_tokens,
        t.usage.cache_creation_input_tokens,
        t.usage.reasoning_output_tokens,
        t.cost.picodollars(),
        t.llm_calls,
        t.calls_without_cost,
        t.tool_calls,
    )
}

/// The totals of [`encode_totals`]; `None` for anything else (garbage is ignored,
/// never half-applied).
pub(crate) fn decode_totals(value: &str) -> Option<RunTotals> {
    let mut parts = value.split(';');
    if parts.next()? != "v1" {
        return None;
    }
    let mut t = RunTotals::default();
    let mut usage = Usage::default();
    let mut seen = 0u16;
    for part in parts {
        let (key, number) = part.split_once('=')?;
        let (bit, slot): (u16, &mut u64) = match key {
            "in" => (1, &mut usage.input_tokens),
            "out" => (1 << 1, &mut usage.output_tokens),
            "cr" => (1 << 2, &mut usage.cache_read_input_tokens),
            "cw" => (1 << 3, &mut usage.cache_creation_input_tokens),
            "ro" => (1 << 4, &mut usage.reasoning_output_tokens),
            "llm" => (1 << 5, &mut t.llm_calls),
            "nocost" => (1 << 6, &mut t.calls_without_cost),
            "tools" => (1 << 7, &mut t.tool_calls),
            "pico" => {
                if seen & (1 << 8) != 0 {
                    return None;
                }
                seen |= 1 << 8;
                t.cost = Cost::from_picodollars(number.parse().ok()?);
                continue;
            }
            _ => return None,
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        *slot = number.parse().ok()?;
    }
    if seen != 0x1ff || t.calls_without_cost > t.llm_calls {
        return None;
    }
    t.usage = usage;
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_round_trip() {
        let mut t = RunTotals {
            llm_calls: 3,
            calls_without_cost: 1,
            tool_calls: 2,
            ..RunTotals::default()
        };
        t.usage = Usage::new(120, 30).with_cache_read(7);
        t.cost = Cost::from_picodollars(42_000_000);
        assert_eq!(decode_totals(&encode_totals(&t)), Some(t));
    }

    #[test]
    fn garbage_totals_are_ignored() {
        let good = encode_totals(&RunTotals::default());
        for bad in [
            "",
            "v2;in=1",
            "v1;in=1",
            "v1;in=x;out=0;cr=0;cw=0;ro=0;pico=0;llm=0;nocost=0;tools=0",
            "v1;in=1;in=1;out=0;cr=0;cw=0;ro=0;pico=0;llm=0;nocost=0;tools=0",
            "v1;in=-1;out=0;cr=0;cw=0;ro=0;pico=0;llm=0;nocost=0;tools=0",
            "v1;in=0;out=0;cr=0;cw=0;ro=0;pico=0;llm=0;nocost=5;tools=0",
            "v1;in=0;out=0;cr=0;cw=0;ro=0;pico=0;llm=0;nocost=0;tools=0;x=1",
        ] {
            assert_eq!(decode_totals(bad), None, "{bad}");
        }
        assert!(decode_totals(&good).is_some());
    }
}
