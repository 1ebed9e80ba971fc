//! Price table and cost arithmetic through the public API.

use aitrace_core::conventions::Provider;
use aitrace_core::cost::{Cost, NoCost, Price, PriceTable};
use aitrace_core::usage::Usage;

#[test]
fn dated_and_prefixed_names_find_the_base_price() {
    let table = PriceTable::embedded();
    let base = table.lookup(None, "gpt-4o").expect("gpt-4o is priced");
    for name in ["gpt-4o-2024-08-06", "openai/gpt-4o", "GPT-4o"] {
        let found = table.lookup(Some(&Provider::OpenAi), name).expect(name);
        assert_eq!(found.price, base.price, "{name}");
    }
    let sonnet = table
        .lookup(None, "claude-sonnet-4-5")
        .expect("sonnet 4.5 priced");
    for name in [
        "claude-sonnet-4-5-20250929",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "claude-sonnet-4-5@20250929",
    ] {
        assert_eq!(
            table.lookup(None, name).map(|e| e.price),
            Some(sonnet.price),
            "{name}"
        );
    }
    let flash = table
        .lookup(None, "gemini-2.5-flash")
        .expect("flash priced");
    assert_eq!(
        table
            .lookup(Some(&Provider::Gemini), "models/gemini-2.5-flash")
            .map(|e| e.price),
        Some(flash.price)
    );
    // Every entry carries its source and date.
    for entry in table.entries() {
        assert!(
            !entry.source.is_empty() && entry.date.starts_with("20"),
            "{entry:?}"
        );
    }
}

#[test]
fn unknown_models_have_no_cost_and_say_why() {
    let table = PriceTable::embedded();
    let err = table
        .cost(
            Some(&Provider::Other("ollama".into())),
            "llama3.1:8b",
            &Usage::new(5, 5),
        )
        .unwrap_err();
    assert_eq!(err, NoCost::UnknownModel("llama3.1:8b".into()));
    assert_eq!(err.reason(), "unknown_model");
    assert_eq!(
        table.cost(None, "", &Usage::new(1, 1)),
        Err(NoCost::ModelUnknown)
    );
}

#[test]
fn a_million_calls_sum_to_the_exact_product() {
    let table = PriceTable::builder()
        .without_embedded()
        // Prices that are not exact in binary floating point.
        .price("m", Price::per_million(0.15, 0.6).with_cache_read(0.075))
        .build();
    let usage = Usage::new(1_234, 567).with_cache_read(1_000);
    let one = table.cost(None, "m", &usage).unwrap();
    // 234*0.15 + 1000*0.075 + 567*0.6 micro-dollars = 35.1 + 75 + 340.2 = 450.3 µ$
    assert_eq!(one, Cost::from_picodollars(450_300_000));
    let mut sum = Cost::ZERO;
    let mut float_sum = 0.0f64;
    for _ in 0..1_000_000 {
        sum += one;
        float_sum += one.usd();
    }
    assert_eq!(sum, Cost::from_picodollars(450_300_000 * 1_000_000));
    assert_eq!(sum.usd(), 450.3);
    // The naive float sum drifts; ours does not.
    assert_ne!(float_sum, 450.3);
}

#[test]
fn litellm_format_file_overrides_the_embedded_price() {
    let dir = std::env::temp_dir().join(format!("aitrace-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model_prices_and_context_window.json");
    std::fs::write(
        &path,
        r#"{
          "sample_spec": {"max_tokens": "set to max_output_tokens", "input_cost_per_token": 0.0},
          "gpt-4o": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
                     "cache_read_input_token_cost": 5e-07, "litellm_provider": "openai", "mode": "chat"},
          "groq/my-groq-model": {"input_cost_per_token": 5.9e-07, "output_cost_per_token": 7.9e-07,
                     "litellm_provider": "groq"},
          "o-reasoner": {"input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06,
                     "output_cost_per_reasoning_token": 8e-06, "cache_creation_input_token_cost": 1.25e-06},
          "dall-e-3": {"output_cost_per_image": 0.04}
        }"#,
    )
    .unwrap();
    let table = PriceTable::builder().json_file(&path).unwrap().build();
    let gpt4o = table
        .lookup(Some(&Provider::OpenAi), "gpt-4o-2024-08-06")
        .unwrap();
    assert_eq!(gpt4o.price.input, 1_000_000);
    assert_eq!(gpt4o.price.cache_read, Some(500_000));
    let usage = Usage::new(1_000_000, 1_000_000);
    assert_eq!(
        table
            .cost(Some(&Provider::OpenAi), "gpt-4o", &usage)
            .unwrap()
            .usd(),
        3.0
    );
    let groq = table
        .lookup(Some(&Provider::Groq), "my-groq-model")
        .unwrap();
    assert_eq!(groq.price.output, 790_000);
    let reasoning = Usage::new(0, 1_000_000).with_reasoning(500_000);
    assert_eq!(
        table.cost(None, "o-reasoner", &reasoning).unwrap().usd(),
        6.0
    );
    assert!(table.lookup(None, "dall-e-3").is_none());
    // Other embedded models are still there.
    assert!(table.lookup(None, "claude-sonnet-4-5").is_some());

    std::fs::write(&path, "{not json").unwrap();
    let err = PriceTable::builder().json_file(&path).unwrap_err();
    assert!(err.to_string().contains("not valid JSON"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
