//! The canonical JSON text of a Gong `logRecord`, the last part of the content id
//! (docs/gong-id.md). Computed from the wire text by this module alone, so that no
//! serde_json feature anywhere in the dependency graph (`preserve_order`,
//! `arbitrary_precision`, `float_roundtrip`) and no change of its number formatting
//! can change an id. The output is byte for byte what `serde_json::Value::to_string`
//! printed for the same text in a build with none of those features (serde_json
//! 1.0.154), which is how every existing id was computed:
//!
//! - no whitespace; object members sorted by the UTF-8 bytes of their unescaped
//!   keys; a repeated key keeps its last value (at the first key's place in the
//!   sort, which is the same place);
//! - strings unescaped, then escaped again as serde_json does: `\"`, `\\`, `\b`,
//!   `\f`, `\n`, `\r`, `\t`, other bytes below 0x20 as `\u00xx` (lower-case hex),
//!   everything else (`/`, U+007F, U+2028, non-BMP characters) as raw UTF-8;
//! - integers that fit in `u64` (or, negative, in `i64`) in decimal; every other
//!   number as the `f64` serde_json's default parser reads (see [`f64_from_parts`]),
//!   printed shortest-round-trip in serde_json's layout (`1.0`, `1e+21`, `1.5e-7`).

use std::borrow::Cow;

pub(super) mod number;

/// serde_json's recursion limit: it reads at most 127 nested arrays and
/// objects, and deeper input was already rejected by it.
const MAX_DEPTH: u32 = 127;

/// Why a text has no canonical form (it is not JSON serde_json would accept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonError {
    pub at: usize,
    pub what: &'static str,
}

impl std::fmt::Display for CanonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

/// The canonical text of one JSON value.
pub fn canonical(text: &str) -> Result<String, CanonError> {
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
        depth: 0,
        members: Vec::new(),
        scratch: String::new(),
    };
    let mut out = String::with_capacity(text.len());
    p.value(&mut out)?;
    p.ws();
    if p.at != p.s.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
    depth: u32,
    /// The members of the objects being read: key, and the span of the value in
    /// the output (a stack: an inner object's members sit above its parent's).
    members: Vec<(Cow<'a, str>, usize, usize)>,
    /// Where an object's output is copied while it is rewritten in key order.
    scratch: String,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &'static str) -> CanonError {
        CanonError { at: self.at, what }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8, what: &'static str) -> Result<(), CanonError> {
        self.ws();
        match self.peek() {
            Some(c) if c == b => {
                self.at += 1;
                Ok(())
            }
            _ => Err(self.err(what)),
        }
    }

    fn value(&mut self, out: &mut String) -> Result<(), CanonError> {
        self.ws();
        match self.peek() {
            Some(b'{') => self.nested(out, Self::object),
            Some(b'[') => self.nested(out, Self::array),
            Some(b'"') => {
                let s = self.string()?;
                push_str(out, &s);
                Ok(())
            }
            Some(b't') => self.ident(out, "true"),
            Some(b'f') => self.ident(out, "false"),
            Some(b'n') => self.ident(out, "null"),
            Some(b'-') => {
                self.at += 1;
                self.number(out, false)
            }
            Some(b'0'..=b'9') => self.number(out, true),
            _ => Err(self.err("expected a value")),
        }
    }

    fn nested(
        &mut self,
        out: &mut String,
        f: fn(&mut Self, &mut String) -> Result<(), CanonError>,
    ) -> Result<(), CanonError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.depth += 1;
        self.at += 1;
        let r = f(self, out);
        self.depth -= 1;
        r
    }

    fn ident(&mut self, out: &mut String, word: &'static str) -> Result<(), CanonError> {
        if !self.s[self.at..].starts_with(word.as_bytes()) {
            return Err(self.err("expected a value"));
        }
        self.at += word.len();
        out.push_str(word);
        Ok(())
    }

    fn array(&mut self, out: &mut String) -> Result<(), CanonError> {
        out.push('[');
        self.ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            out.push(']');
            return Ok(());
        }
        loop {
            self.value(out)?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    out.push(',');
                }
                Some(b']') => {
                    self.at += 1;
                    out.push(']');
                    return Ok(());
                }
                _ => return Err(self.err("expected `,` or `]`")),
            }
        }
    }

    /// An object's members are written to `out` as read, each remembered by its
    /// key and its span there; then, unless they came sorted and unrepeated, the
    /// object is rewritten in key order from one scratch copy.
    /// Both lists are shared by every object of the text (a stack for nesting),
    /// so a record costs no allocation per member.
    fn object(&mut self, out: &mut String) -> Result<(), CanonError> {
        out.push('{');
        let (base, body) = (self.members.len(), out.len());
        self.ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                self.ws();
                if self.peek() != Some(b'"') {
                    return Err(self.err("expected a key"));
                }
                let key = self.string()?;
                self.eat(b':', "expected `:`")?;
                if self.members.len() > base {
                    out.push(',');
                }
                let start = out.len();
                push_str(out, &key);
                out.push(':');
                self.value(out)?;
                self.members.push((key, start, out.len()));
                self.ws();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.err("expected `,` or `}`")),
                }
            }
        }
        self.arrange(out, base, body);
        out.push('}');
        Ok(())
    }

    /// Puts the members `base..`, written from `out[body..]` on, in key order;
    /// the last of repeated keys wins.
    fn arrange(&mut self, out: &mut String, base: usize, body: usize) {
        let members = &mut self.members[base..];
        let in_order = members
            .windows(2)
            .all(|w| w[0].0.as_bytes() < w[1].0.as_bytes());
        if !in_order {
            // Stable: among equal keys the last read stays last, and wins below.
            members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            self.scratch.clear();
            self.scratch.push_str(&out[body..]);
            out.truncate(body);
            let mut first = true;
            for (i, (key, start, end)) in members.iter().enumerate() {
                if members.get(i + 1).is_some_and(|next| next.0 == *key) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&self.scratch[start - body..end - body]);
            }
        }
        self.members.truncate(base);
    }

    /// A string at `"`, unescaped (borrowed when it has no escapes).
    fn string(&mut self) -> Result<Cow<'a, str>, CanonError> {
        self.at += 1;
        let start = self.at;
        let s: &'a [u8] = self.s;
        let mut owned: Option<Vec<u8>> = None;
        let mut run = start;
        loop {
            let Some(&b) = s.get(self.at) else {
                return Err(self.err("unterminated string"));
            };
            match b {
                b'"' => {
                    let text = match owned {
                        None => Cow::Borrowed(&s[start..self.at]),
                        Some(mut v) => {
                            v.extend_from_slice(&s[run..self.at]);
                            Cow::Owned(v)
                        }
                    };
                    self.at += 1;
                    return match text {
                        Cow::Borrowed(b) => std::str::from_utf8(b).map(Cow::Borrowed),
                        Cow::Owned(v) => String::from_utf8(v)
                            .map(Cow::Owned)
                            .map_err(|e| e.utf8_error()),
                    }
                    .map_err(|_| self.err("string is not UTF-8"));
                }
                b'\\' => {
                    let v = owned.get_or_insert_with(Vec::new);
                    v.extend_from_slice(&s[run..self.at]);
                    self.at += 1;
                    let c = self.escape()?;
                    let mut buf = [0u8; 4];
                    v.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    run = self.at;
                }
                0..=0x1f => return Err(self.err("control character in string")),
                _ => self.at += 1,
            }
        }
    }

    /// The character of one escape, after its `\`.
    fn escape(&mut self) -> Result<char, CanonError> {
        let Some(b) = self.peek() else {
            return Err(self.err("unterminated escape"));
        };
        self.at += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode(),
            _ => return Err(self.err("invalid escape")),
        })
    }

    fn hex4(&mut self) -> Result<u32, CanonError> {
        let digits = self
            .s
            .get(self.at..self.at + 4)
            .ok_or(self.err("short \\u escape"))?;
        let mut n = 0;
        for &d in digits {
            let v = (d as char)
                .to_digit(16)
                .ok_or(self.err("invalid \\u escape"))?;
            n = n * 16 + v;
        }
        self.at += 4;
        Ok(n)
    }

    /// `\uXXXX`, a surrogate pair as one character; a lone surrogate is an error,
    /// as it is to serde_json reading a string.
    fn unicode(&mut self) -> Result<char, CanonError> {
        let n = self.hex4()?;
        let n = match n {
            0xD800..=0xDBFF => {
                if !self.s[self.at..].starts_with(b"\\u") {
                    return Err(self.err("lone leading surrogate"));
                }
                self.at += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(self.err("lone leading surrogate"));
                }
                0x10000 + ((n - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.err("lone trailing surrogate")),
            n => n,
        };
        char::from_u32(n).ok_or(self.err("invalid \\u escape"))
    }
}

/// `s` as a JSON string, escaped as serde_json escapes.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        } else {
            out.push_str(short);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}
