//! Text read from files, made safe to print.

/// Text from a file, safe to print: control characters (escape sequences a hostile file
/// could send to the terminal, line breaks that would break the layout) become `�`.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}
