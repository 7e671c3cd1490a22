//! Properties of the character rules shared by topics and selectors: the
//! characters refused are exactly the Unicode control (Cc) and format (Cf)
//! characters, as regex-syntax's Unicode tables list them (checked over
//! every character: the list in `text.rs` is written by hand), and a
//! string is refused as a
//! selector exactly when it is refused as the topic of an update.
//!
//! `PROPTEST_CASES` sets the number of cases (256 by default).

use mercure_core::{TopicSelector, Update};
use proptest::prelude::*;

/// Every character of the general categories Cc and Cf, and only those,
/// is refused: checked over all of Unicode against regex-syntax's tables.
#[test]
fn the_forbidden_characters_are_exactly_cc_and_cf() {
    let hir = regex_syntax::parse(r"[\p{Cc}\p{Cf}]").unwrap();
    let regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(class)) = hir.kind()
    else {
        panic!("a Unicode class: {hir:?}");
    };
    let forbidden = |c: char| {
        class
            .ranges()
            .iter()
            .any(|range| range.start() <= c && c <= range.end())
    };
    let mut mismatches = Vec::new();
    for c in (0..=0x10_FFFF_u32).filter_map(char::from_u32) {
        let refused = TopicSelector::exact(c.to_string()).first_forbidden_char() == Some(c);
        if refused != forbidden(c) {
            mismatches.push(format!("U+{:04X} refused: {refused}", u32::from(c)));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join(", "));
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn control_and_format_characters_are_refused(
        before in "[^\\p{Cc}\\p{Cf}]{0,8}",
        forbidden in "[\\p{Cc}\\p{Cf}]",
        after in "\\PC{0,8}",
    ) {
        let c = forbidden.chars().next().unwrap();
        let text = format!("{before}{forbidden}{after}");
        prop_assert_eq!(TopicSelector::exact(text.as_str()).first_forbidden_char(), Some(c));
        prop_assert_eq!(TopicSelector::pattern(text.as_str()).first_forbidden_char(), Some(c));
        prop_assert!(Update::builder(text.as_str()).build().is_err());
    }

    #[test]
    fn other_characters_are_accepted(text in "[^\\p{Cc}\\p{Cf}]{1,24}") {
        prop_assert_eq!(TopicSelector::exact(text.as_str()).first_forbidden_char(), None);
        prop_assert!(Update::builder(text.as_str()).build().is_ok(), "{:?}", text);
    }

    #[test]
    fn selectors_and_topics_follow_the_same_rules(
        text in prop_oneof![
            "\\PC{1,16}",
            "[a\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}\\p{Co} ]{1,6}",
            any::<String>().prop_filter("not empty", |s| !s.is_empty()),
        ],
    ) {
        let refused_as_selector = TopicSelector::exact(text.as_str()).first_forbidden_char().is_some();
        let refused_as_topic = Update::builder(text.as_str()).build().is_err();
        prop_assert_eq!(refused_as_selector, refused_as_topic, "{:?}", text);
    }
}
