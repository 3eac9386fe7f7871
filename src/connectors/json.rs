//! JSON helpers every connector uses: a record's text kept as the vendor sent it
//! less insignificant whitespace, and (`lossy`) bodies with bytes that are not
//! UTF-8, so that one bad record is rejected alone rather than its whole page.

pub mod lossy;

/// Removes whitespace outside strings, byte for byte otherwise: the mirror keeps
/// what the vendor sent without paying for its pretty-printing.
pub fn compact_json(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    // Outside strings: copy up to the next quote or whitespace; inside: up to
    // the closing quote, stepping over escapes. Whole runs move at once.
    while at < bytes.len() {
        let rest = &bytes[at..];
        let Some(n) = rest
            .iter()
            .position(|b| matches!(b, b'"' | b' ' | b'\n' | b'\r' | b'\t'))
        else {
            out.extend_from_slice(rest);
            break;
        };
        out.extend_from_slice(&rest[..n]);
        at += n;
        if bytes[at] != b'"' {
            at += 1; // whitespace outside a string
            continue;
        }
        let mut end = at + 1;
        loop {
            match memchr::memchr2(b'"', b'\\', &bytes[end..]) {
                None => {
                    end = bytes.len();
                    break;
                }
                Some(k) if bytes[end + k] == b'\\' => end += k + 2,
                Some(k) => {
                    end += k + 1;
                    break;
                }
            }
        }
        let end = end.min(bytes.len());
        out.extend_from_slice(&bytes[at..end]);
        at = end;
    }
    String::from_utf8(out).unwrap_or_else(|_| raw.to_owned())
}
