//! Text read from files, made safe to print.

/// Text from a file, safe to print: control characters (escape sequences a hostile file
/// could send to the terminal, line breaks that would break the layout) become `�`.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    // ASCII (most text) is checked byte by byte; `char::is_control` is C0, DEL and C1.
    let control = if text.is_ascii() {
        text.bytes().any(|b| b < 0x20 || b == 0x7f)
    } else {
        text.chars().any(char::is_control)
    };
    if control {
        text.chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}
