//! Numbers for the canonical form: read exactly as serde_json 1.0.154's parser
//! reads them without `float_roundtrip` (its `de.rs`, step for step, rounding
//! errors included: that parser made every existing id), printed as its
//! `Value::to_string` prints them.

use super::{CanonError, Parser};
use std::sync::OnceLock;

/// A number as serde_json's parser (without `arbitrary_precision`) reads it.
enum Num {
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Parser<'_> {
    fn peek_or_null(&self) -> u8 {
        self.peek().unwrap_or(0)
    }

    fn digit(&self) -> Option<u64> {
        match self.peek() {
            Some(c @ b'0'..=b'9') => Some((c - b'0') as u64),
            _ => None,
        }
    }

    pub(super) fn number(&mut self, out: &mut String, positive: bool) -> Result<(), CanonError> {
        match self.parse_integer(positive)? {
            Num::U64(n) => out.push_str(&n.to_string()),
            Num::I64(n) => out.push_str(&n.to_string()),
            Num::F64(f) => push_f64(out, f),
        }
        Ok(())
    }

    fn parse_integer(&mut self, positive: bool) -> Result<Num, CanonError> {
        match self.digit() {
            Some(0) => {
                self.at += 1;
                if self.digit().is_some() {
                    return Err(self.err("invalid number"));
                }
                self.parse_number(positive, 0)
            }
            Some(first) => {
                self.at += 1;
                let mut significand = first;
                while let Some(digit) = self.digit() {
                    if overflows(significand, digit) {
                        return Ok(Num::F64(self.parse_long_integer(positive, significand)?));
                    }
                    self.at += 1;
                    significand = significand * 10 + digit;
                }
                self.parse_number(positive, significand)
            }
            None => Err(self.err("invalid number")),
        }
    }

    fn parse_number(&mut self, positive: bool, significand: u64) -> Result<Num, CanonError> {
        Ok(match self.peek_or_null() {
            b'.' => Num::F64(self.parse_decimal(positive, significand, 0)?),
            b'e' | b'E' => Num::F64(self.parse_exponent(positive, significand, 0)?),
            _ if positive => Num::U64(significand),
            _ => {
                let neg = (significand as i64).wrapping_neg();
                // A float on underflow, and on `-0`.
                if neg >= 0 {
                    Num::F64(-(significand as f64))
                } else {
                    Num::I64(neg)
                }
            }
        })
    }

    fn parse_decimal(
        &mut self,
        positive: bool,
        mut significand: u64,
        exponent_before: i32,
    ) -> Result<f64, CanonError> {
        self.at += 1;
        let mut exponent_after: i32 = 0;
        while let Some(digit) = self.digit() {
            if overflows(significand, digit) {
                let exponent = exponent_before.saturating_add(exponent_after);
                return self.parse_decimal_overflow(positive, significand, exponent);
            }
            self.at += 1;
            significand = significand * 10 + digit;
            exponent_after = exponent_after.saturating_sub(1);
        }
        if exponent_after == 0 {
            return Err(self.err("invalid number"));
        }
        let exponent = exponent_before.saturating_add(exponent_after);
        match self.peek_or_null() {
            b'e' | b'E' => self.parse_exponent(positive, significand, exponent),
            _ => self.f64_from_parts(positive, significand, exponent),
        }
    }

    fn parse_exponent(
        &mut self,
        positive: bool,
        significand: u64,
        starting_exp: i32,
    ) -> Result<f64, CanonError> {
        self.at += 1;
        let positive_exp = match self.peek_or_null() {
            b'+' => {
                self.at += 1;
                true
            }
            b'-' => {
                self.at += 1;
                false
            }
            _ => true,
        };
        let Some(first) = self.digit() else {
            return Err(self.err("invalid number"));
        };
        self.at += 1;
        let mut exp = first as i32;
        while let Some(digit) = self.digit() {
            self.at += 1;
            let digit = digit as i32;
            if exp >= i32::MAX / 10 && (exp > i32::MAX / 10 || digit > i32::MAX % 10) {
                return self.parse_exponent_overflow(positive, significand == 0, positive_exp);
            }
            exp = exp * 10 + digit;
        }
        let final_exp = if positive_exp {
            starting_exp.saturating_add(exp)
        } else {
            starting_exp.saturating_sub(exp)
        };
        self.f64_from_parts(positive, significand, final_exp)
    }

    fn f64_from_parts(
        &self,
        positive: bool,
        significand: u64,
        mut exponent: i32,
    ) -> Result<f64, CanonError> {
        let pow10 = pow10();
        let mut f = significand as f64;
        loop {
            match pow10.get(exponent.wrapping_abs() as usize) {
                Some(&pow) => {
                    if exponent >= 0 {
                        f *= pow;
                        if f.is_infinite() {
                            return Err(self.err("number out of range"));
                        }
                    } else {
                        f /= pow;
                    }
                    break;
                }
                None => {
                    if f == 0.0 {
                        break;
                    }
                    if exponent >= 0 {
                        return Err(self.err("number out of range"));
                    }
                    f /= 1e308;
                    exponent += 308;
                }
            }
        }
        Ok(if positive { f } else { -f })
    }

    /// Digits past `u64`: dropped, each one counted in the exponent.
    fn parse_long_integer(&mut self, positive: bool, significand: u64) -> Result<f64, CanonError> {
        let mut exponent: i32 = 0;
        loop {
            match self.peek_or_null() {
                b'0'..=b'9' => {
                    self.at += 1;
                    exponent = exponent.saturating_add(1);
                }
                b'.' => return self.parse_decimal(positive, significand, exponent),
                b'e' | b'E' => return self.parse_exponent(positive, significand, exponent),
                _ => return self.f64_from_parts(positive, significand, exponent),
            }
        }
    }

    /// Fraction digits past `u64`: ignored.
    fn parse_decimal_overflow(
        &mut self,
        positive: bool,
        significand: u64,
        exponent: i32,
    ) -> Result<f64, CanonError> {
        while self.digit().is_some() {
            self.at += 1;
        }
        match self.peek_or_null() {
            b'e' | b'E' => self.parse_exponent(positive, significand, exponent),
            _ => self.f64_from_parts(positive, significand, exponent),
        }
    }

    fn parse_exponent_overflow(
        &mut self,
        positive: bool,
        zero_significand: bool,
        positive_exp: bool,
    ) -> Result<f64, CanonError> {
        if !zero_significand && positive_exp {
            return Err(self.err("number out of range"));
        }
        while self.digit().is_some() {
            self.at += 1;
        }
        Ok(if positive { 0.0 } else { -0.0 })
    }
}

/// Whether `significand * 10 + digit` would pass `u64::MAX`.
fn overflows(significand: u64, digit: u64) -> bool {
    significand >= u64::MAX / 10 && (significand > u64::MAX / 10 || digit > u64::MAX % 10)
}

/// `1e0` … `1e308`, each the nearest `f64` (as the literals of serde_json's table).
fn pow10() -> &'static [f64; 309] {
    static TABLE: OnceLock<[f64; 309]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0.0; 309];
        for (i, p) in t.iter_mut().enumerate() {
            *p = format!("1e{i}").parse().unwrap_or(f64::INFINITY);
        }
        t
    })
}

/// The shortest digits that read back to `f` (positive, finite) and the decimal
/// exponent of the first: of several such, the nearest to `f`, ties to even, as
/// serde_json's printer (zmij) picks them.
fn shortest(f: f64) -> (String, i32) {
    let split = |sci: &str| -> (String, i32) {
        let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
        let digits = mantissa.chars().filter(|c| *c != '.').collect::<String>();
        let digits = digits.trim_end_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        (digits.to_owned(), exp.parse().unwrap_or(0))
    };
    // `{:e}` has the shortest length, but not always the nearest digits of it.
    let (digits, exp) = split(&format!("{f:e}"));
    // Exactly rounded to that length (ties to even): taken if it reads back.
    let nearest = format!("{:.*e}", digits.len().saturating_sub(1), f);
    if nearest.parse::<f64>() == Ok(f) {
        let (near, near_exp) = split(&nearest);
        if near.len() <= digits.len() {
            return (near, near_exp);
        }
    }
    (digits, exp)
}

/// A finite `f64` as serde_json 1.0.154 prints it: the shortest digits that read
/// back to the same `f64`, in plain notation when the decimal exponent is in
/// `-5..=15` (`100.0`, `0.00015`), else `d.ddde±x` (`1e+16`, `1.5e-7`).
pub fn push_f64(out: &mut String, f: f64) {
    if f.is_sign_negative() {
        out.push('-');
    }
    if f == 0.0 || !f.is_finite() {
        // Not finite cannot come from the parser; print it as zero rather than fail.
        out.push_str("0.0");
        return;
    }
    let (digits, exp) = shortest(f.abs());
    let n = digits.len() as i32;
    if (-5..=15).contains(&exp) {
        if exp >= n - 1 {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', (exp - (n - 1)) as usize));
            out.push_str(".0");
        } else if exp >= 0 {
            let (int, frac) = digits.split_at(exp as usize + 1);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&exp.unsigned_abs().to_string());
    }
}
