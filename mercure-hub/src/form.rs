//! `application/x-www-form-urlencoded` read strictly: once percent-decoded,
//! every name and value must be UTF-8. The WHATWG parser (`url`'s
//! `form_urlencoded`) replaces invalid sequences with U+FFFD, which turns
//! distinct topics (`%FF` and `%FE`) into one and hides bytes the
//! protocol forbids; the hub refuses them instead.

use std::borrow::Cow;

use percent_encoding::percent_decode;

/// A name or value is not UTF-8 once decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotUtf8;

/// The name-value pairs of `input`, in order; an item is [`NotUtf8`] when
/// its name or value does not decode to UTF-8 (the caller stops there).
/// Empty sequences between `&`s are skipped, a pair without `=` has an
/// empty value, `+` is a space, and a `%` not followed by two hex digits
/// is kept as is, as the WHATWG parser does.
pub(crate) fn pairs(
    input: &[u8],
) -> impl Iterator<Item = Result<(Cow<'_, str>, Cow<'_, str>), NotUtf8>> {
    input
        .split(|&b| b == b'&')
        .filter(|sequence| !sequence.is_empty())
        .map(|sequence| {
            let (name, value) = match sequence.iter().position(|&b| b == b'=') {
                Some(at) => (&sequence[..at], &sequence[at + 1..]),
                None => (sequence, &b""[..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
}

/// One name or value: `+` as a space, percent-decoded, UTF-8.
fn decode(raw: &[u8]) -> Result<Cow<'_, str>, NotUtf8> {
    if !raw.iter().any(|&b| b == b'+' || b == b'%') {
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| NotUtf8);
    }
    let spaced: Cow<'_, [u8]> = if raw.contains(&b'+') {
        Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    };
    let decoded: Vec<u8> = percent_decode(&spaced).collect();
    String::from_utf8(decoded)
        .map(Cow::Owned)
        .map_err(|_| NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &str) -> Result<Vec<(String, String)>, NotUtf8> {
        pairs(input.as_bytes())
            .map(|pair| pair.map(|(n, v)| (n.into_owned(), v.into_owned())))
            .collect()
    }

    #[test]
    fn reads_like_the_whatwg_parser_when_valid() {
        for input in [
            "",
            "a=1&b=2",
            "a=1&&b=&c",
            "topic=https%3A%2F%2Fexample.com%2Fa+b&data=x%0Ay",
            "%C3%A9=%E2%82%AC",
            "a=%zz&b=%4&c=%",
            "a==b&=c",
            "a=1+%2B+2",
        ] {
            let expected: Vec<(String, String)> = url::form_urlencoded::parse(input.as_bytes())
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(read(input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn refuses_what_is_not_utf8() {
        for input in [
            &b"topic=%FF"[..],
            b"data=%C3",
            b"%FF=x",
            b"a=1&topic=%ED%A0%80",
            b"topic=\xff",
            b"ok=1&data=a\xc3(",
        ] {
            assert!(
                pairs(input).any(|pair| pair.is_err()),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
