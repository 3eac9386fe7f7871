//! Plain-ASCII spellings of the generated names, for the parts of the data
//! that real tenants keep ASCII (email local parts); display names keep their
//! letters. A small table of the letters the name pools use.

/// The ASCII spelling of one letter, if the table knows it.
fn letter(c: char) -> Option<&'static str> {
    Some(match c {
        'á' | 'à' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
        'Á' | 'À' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ą' => "A",
        'é' | 'è' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'É' | 'È' | 'Ê' | 'Ë' | 'Ē' | 'Ę' | 'Ě' => "E",
        'í' | 'ì' | 'î' | 'ï' | 'ı' => "i",
        'Í' | 'Ì' | 'Î' | 'Ï' | 'İ' => "I",
        'ó' | 'ò' | 'ô' | 'õ' | 'ö' | 'ø' | 'ő' => "o",
        'Ó' | 'Ò' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ő' => "O",
        'ú' | 'ù' | 'û' | 'ü' | 'ů' | 'ű' => "u",
        'Ú' | 'Ù' | 'Û' | 'Ü' | 'Ů' | 'Ű' => "U",
        'ý' | 'ÿ' => "y",
        'Ý' => "Y",
        'ç' | 'č' | 'ć' => "c",
        'Ç' | 'Č' | 'Ć' => "C",
        'ñ' | 'ń' | 'ň' => "n",
        'Ñ' | 'Ń' | 'Ň' => "N",
        'ł' => "l",
        'Ł' => "L",
        'š' | 'ś' | 'ş' => "s",
        'Š' | 'Ś' | 'Ş' => "S",
        'ž' | 'ź' | 'ż' => "z",
        'Ž' | 'Ź' | 'Ż' => "Z",
        'ř' => "r",
        'Ř' => "R",
        'ğ' => "g",
        'Ğ' => "G",
        'đ' | 'ð' => "d",
        'Đ' | 'Ð' => "D",
        'ß' => "ss",
        'æ' => "ae",
        'Æ' => "Ae",
        'œ' => "oe",
        'Œ' => "Oe",
        'þ' => "th",
        'Þ' => "Th",
        _ => return None,
    })
}

/// `s` in ASCII: letters the table knows spelled out (`Łukasz Ångström` →
/// `Lukasz Angstrom`), other ASCII kept, anything else (scripts without a
/// table entry, emoji) left out.
pub fn transliterate(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match letter(c) {
            Some(ascii) => out.push_str(ascii),
            None if c.is_ascii() => out.push(c),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::transliterate;

    #[test]
    fn accented_letters_keep_their_base_letter() {
        assert_eq!(transliterate("Łukasz Ångström"), "Lukasz Angstrom");
        assert_eq!(transliterate("Zoë Öberg"), "Zoe Oberg");
        assert_eq!(transliterate("Chloé García"), "Chloe Garcia");
        assert_eq!(transliterate("Jürgen Groß"), "Jurgen Gross");
        assert_eq!(transliterate("Søren Þórsson"), "Soren Thorsson");
        assert_eq!(transliterate("李 雷 🚀"), "  ");
    }
}
