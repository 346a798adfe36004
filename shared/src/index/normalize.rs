//! Text normalisation before tokenising: compatibility decomposition (so full-width letters and
//! ligatures match their plain forms), accents removed from Latin, Greek and Cyrillic letters,
//! lowercase. Marks that change meaning in other scripts (Japanese voicing marks, Devanagari vowel
//! signs) are kept, and the text is recomposed so either spelling of them matches.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

pub fn normalize(text: &str) -> String {
    // Plain ASCII has nothing to decompose or strip: lowercase is all (and most help-centre text
    // is ASCII, so building an index skips the Unicode passes).
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let mut base = ' ';
    let stripped = text.nfkd().filter(|&c| {
        if is_combining_mark(c) {
            // Latin, Greek and Cyrillic end before U+0530 (Armenian).
            return (base as u32) >= 0x0530;
        }
        base = c;
        true
    });
    stripped.nfc().flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn folds_case_accents_and_width() {
        assert_eq!(normalize("Reset PASSWORD?"), "reset password?");
        assert_eq!(normalize("Café RÉSUMÉ"), "cafe resume");
        assert_eq!(normalize("ＡＢＣ ﬁle"), "abc file");
        assert_eq!(normalize("Straße"), "straße");
        assert_eq!(normalize("パスワード"), "パスワード");
        assert_eq!(normalize("ﾊﾟｽﾜｰﾄﾞ"), "パスワード");
        assert_eq!(normalize("Ελληνικά"), "ελληνικα");
    }
}
