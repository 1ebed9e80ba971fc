//! [`Text`]: the strings of a span read from a file.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;

use compact_str::CompactString;

/// A string of a span read from a file (an id, a name, an attribute key or value).
///
/// It reads as a `&str` (it dereferences to one) and is built from one. Up to 24 bytes
/// (on 64-bit targets) are held inline, with no allocation of their own: span ids, most
/// names, keys and short values are that short (trace ids, 32 hex digits, are not), and a file of 100k spans has about 20 such strings per
/// span, read and dropped by every report (see BENCHMARKS.md, "Trace files").
///
/// ```
/// use aitrace_insight::tracefile::Text;
///
/// let name = Text::from("chat gpt-4o-mini");
/// assert_eq!(name, "chat gpt-4o-mini");
/// assert!(name.starts_with("chat "));
/// assert_eq!(name.len(), 16);
/// let owned: String = name.into();
/// assert_eq!(owned, "chat gpt-4o-mini");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(CompactString);

impl Text {
    /// An empty text (no allocation).
    pub const fn new() -> Text {
        Text(CompactString::const_new(""))
    }

    /// The text as a `&str`.
    #[inline]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The text as a `String`.
    pub fn into_string(self) -> String {
        self.0.into_string()
    }
}

impl Deref for Text {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Text {
    #[inline]
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<[u8]> for Text {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl Borrow<str> for Text {
    #[inline]
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As `str` shows itself: width and precision apply.
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl std::str::FromStr for Text {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Text, Self::Err> {
        Ok(Text::from(s))
    }
}

impl From<&str> for Text {
    #[inline]
    fn from(s: &str) -> Text {
        Text(CompactString::new(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(CompactString::from(s))
    }
}

impl From<Cow<'_, str>> for Text {
    fn from(s: Cow<'_, str>) -> Text {
        match s {
            Cow::Borrowed(s) => Text::from(s),
            Cow::Owned(s) => Text::from(s),
        }
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text::from(s.as_str())
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0.into_string()
    }
}

impl From<&Text> for String {
    fn from(t: &Text) -> String {
        t.as_str().to_owned()
    }
}

impl PartialEq<str> for Text {
    #[inline]
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    #[inline]
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Cow<'_, str>> for Text {
    fn eq(&self, other: &Cow<'_, str>) -> bool {
        self.as_str() == other.as_ref()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A JSON string, as `String` reads one (same errors), held as [`Text`] without a
/// `String` in between when the deserializer lends the text.
impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text::from(v))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text::from(v))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Text, E> {
                std::str::from_utf8(v)
                    .map(Text::from)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Bytes(v), &self))
            }
        }
        d.deserialize_string(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_compares_as_its_string() {
        for s in ["", "a", &"x".repeat(24), &"y".repeat(25), "é😀 mixed"] {
            let t = Text::from(s);
            assert_eq!(t.as_str(), s);
            assert_eq!(t, s);
            assert_eq!(t, Text::from(s.to_owned()));
            assert_eq!(String::from(t.clone()), s);
            assert_eq!(format!("{t}"), s);
            assert_eq!(
                format!("{t:>30.20}"),
                format!("{s:>30.20}"),
                "width, precision"
            );
            assert_eq!(String::from(&t), s);
            assert_eq!(
                serde_json::from_str::<Text>(&serde_json::to_string(s).unwrap_or_default()).ok(),
                Some(t.clone())
            );
            assert_eq!(format!("{t:?}"), format!("{s:?}"));
            assert_eq!(
                serde_json::to_string(&t).ok(),
                serde_json::to_string(s).ok()
            );
        }
        let mut sorted = vec![Text::from("b"), Text::from("a"), Text::from("a".repeat(30))];
        sorted.sort();
        assert_eq!(sorted, ["a", "a".repeat(30).as_str(), "b"]);
        assert_eq!(Text::new(), "");
        // Not a string: refused in `String`'s words.
        for json in ["5", "null", "[]"] {
            assert_eq!(
                serde_json::from_str::<Text>(json).map_err(|e| e.to_string()),
                serde_json::from_str::<String>(json)
                    .map(Text::from)
                    .map_err(|e| e.to_string()),
            );
        }
    }
}
