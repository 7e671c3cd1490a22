//! Character classes the protocol forbids in header-like fields.

/// Whether `c` is a control character (C0, DEL or C1).
pub(crate) fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Whether `c` belongs to the Unicode general category Cf (format
/// characters: invisible marks such as zero-width spaces and bidirectional
/// overrides, which make visually identical topics differ).
pub(crate) fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{061C}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{0890}'..='\u{0891}'
        | '\u{08E2}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}')
}

/// The first forbidden character of `value`, if any.
pub(crate) fn first_forbidden(value: &str) -> Option<char> {
    value.chars().find(|&c| is_control(c) || is_format(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        for c in [
            '\0', '\n', '\r', '\t', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}',
        ] {
            assert!(is_control(c), "{c:?}");
        }
        for c in ['\u{200B}', '\u{202E}', '\u{FEFF}', '\u{2066}', '\u{E0041}'] {
            assert!(is_format(c), "{c:?}");
        }
        for c in ['a', ' ', 'é', '/', '\u{a0}', '😀', '\u{2028}'] {
            assert!(!is_control(c) && !is_format(c), "{c:?}");
        }
        assert_eq!(first_forbidden("https://a/b\u{200B}c"), Some('\u{200B}'));
        assert_eq!(first_forbidden("https://a/b"), None);
    }
}
