//! Inputs for the tests that hold the wire formats' fast readings (`aitrace_core::json`)
//! to serde_json's.

/// Inputs made from `seeds` by small edits: every byte dropped, doubled or
/// replaced by a few interesting bytes, escapes and whitespace inserted, pieces
/// swapped. Deterministic, so a failure names its input.
pub(crate) fn mutations(seeds: &[&str]) -> Vec<Vec<u8>> {
    const INSERTS: &[&[u8]] = &[
        b"\\",
        b"\\n",
        b"\\\"",
        b"\\u0041",
        b"\\ud83d",
        b"\\ud83d\\ude00",
        b"\\u00E9",
        b"\\u12",
        b"\\x",
        b"\"",
        b" ",
        b"\t",
        b"\x01",
        b"\x7f",
        "é".as_bytes(),
        b"\xff",
        b",",
        b":",
        b"{",
        b"}",
        b"[",
        b"]",
        b"0",
        b"-",
        b".5",
        b"e3",
        b"null",
        b"1",
        b"\"x\":1,",
    ];
    let mut out = Vec::new();
    for seed in seeds {
        let s = seed.as_bytes();
        out.push(s.to_vec());
        out.push(format!(" {seed} ").into_bytes());
        out.push(format!("[{seed}]").into_bytes());
        for i in 0..=s.len() {
            if i < s.len() {
                let mut d = s.to_vec();
                d.remove(i);
                out.push(d);
                let mut d = s.to_vec();
                d.insert(i, s[i]);
                out.push(d);
            }
            for ins in INSERTS {
                let mut d = s[..i].to_vec();
                d.extend_from_slice(ins);
                d.extend_from_slice(&s[i..]);
                out.push(d);
            }
        }
    }
    out
}

/// Holds a fast reading to serde_json's: every seed is read fast, every mutation of the
/// seeds that is read fast is read alike by serde_json (the two readings compared by
/// what `fast` and `serde` keep of them, as text), and more than one in `one_in` of the
/// mutations are read fast.
pub(crate) fn assert_reads_as_serde(
    seeds: &[&str],
    one_in: usize,
    fast: impl Fn(&str) -> Option<String>,
    serde: impl Fn(&str) -> serde_json::Result<String>,
) {
    for seed in seeds {
        assert!(fast(seed).is_some(), "seed not read fast: {seed}");
    }
    let (mut read, mut total) = (0, 0);
    for input in mutations(seeds) {
        let Ok(text) = std::str::from_utf8(&input) else {
            continue;
        };
        total += 1;
        let Some(ours) = fast(text) else {
            continue;
        };
        read += 1;
        match serde(text) {
            Ok(theirs) => assert_eq!(ours, theirs, "{text}"),
            Err(e) => panic!("read fast what serde_json rejects ({e}): {text}"),
        }
    }
    assert!(read * one_in > total, "{read} of {total} read fast");
}
