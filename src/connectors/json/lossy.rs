//! Pages in which some bytes are not UTF-8. serde_json refuses such a body as a
//! whole; here each bad byte becomes `?` in a copy of the same length (so byte
//! offsets are shared), the copy is parsed, and each record whose original bytes
//! are not UTF-8 is rejected with those bytes kept losslessly, in base64. Used
//! for the records of every vendor's pages alike.

use crate::record::Rejected;
use base64::Engine as _;
use std::ops::Range;

/// A body with each byte of each invalid UTF-8 sequence replaced by `?`.
pub struct Lossy {
    text: String,
}

impl Lossy {
    /// `None` when `body` is valid UTF-8: there is nothing to repair.
    pub fn new(body: &[u8]) -> Option<Lossy> {
        let mut err = std::str::from_utf8(body).err()?;
        let mut bytes = body.to_vec();
        let mut at = 0;
        loop {
            let bad_from = at + err.valid_up_to();
            let bad_to = err.error_len().map_or(bytes.len(), |n| bad_from + n);
            bytes[bad_from..bad_to].fill(b'?');
            at = bad_to;
            match std::str::from_utf8(&bytes[at..]) {
                Ok(_) => break,
                Err(e) => err = e,
            }
        }
        // Every invalid sequence is now ASCII: this cannot fail.
        String::from_utf8(bytes).ok().map(|text| Lossy { text })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where `part`, a slice of [`Lossy::text`], lies in the original body.
    fn range_of(&self, part: &str) -> Option<Range<usize>> {
        let start = (part.as_ptr() as usize).checked_sub(self.text.as_ptr() as usize)?;
        let end = start.checked_add(part.len())?;
        (end <= self.text.len()).then_some(start..end)
    }

    /// Whether `part`'s original bytes are UTF-8 (it had no byte replaced).
    pub fn is_clean(&self, body: &[u8], part: &str) -> bool {
        self.range_of(part)
            .and_then(|r| body.get(r))
            .is_some_and(|b| std::str::from_utf8(b).is_ok())
    }

    /// `Ok` when `part` (one record, a slice of [`Lossy::text`]) was UTF-8 in
    /// `body`, else the record rejected with its original bytes. `what` names
    /// the record in the reason ("entry", "message").
    pub fn check(&self, body: &[u8], part: &str, what: &str) -> Result<(), Rejected> {
        let original = self.range_of(part).and_then(|r| body.get(r));
        match original.map(std::str::from_utf8) {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(not_utf8(
                what,
                original.unwrap_or_default(),
                e.valid_up_to(),
            )),
            // Not a slice of the copy (cannot happen): keep what we have.
            None => Err(not_utf8(what, part.as_bytes(), 0)),
        }
    }
}

/// A record whose bytes are not UTF-8 (the first bad one at `at`), kept whole:
/// `raw_payload` is TEXT, so it holds the bytes in standard base64.
pub fn not_utf8(what: &str, bytes: &[u8], at: usize) -> Rejected {
    let byte = bytes
        .get(at)
        .map_or(String::new(), |b| format!("byte 0x{b:02x} "));
    Rejected {
        reason: format!(
            "{what} is not valid UTF-8 ({byte}at offset {at} of the {what}); raw_payload holds its bytes in base64"
        ),
        raw_payload: base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}
