//! Recovery codes: ten single-use codes shown once when a person enrols their first strong
//! factor, for the day the phone and the app are both out of reach. Each is 10 characters of
//! Crockford's base32 alphabet (50 random bits), shown as `xxxxx-xxxxx` in lower case; the
//! letters people confuse with digits (i, l, o) and `u` are not in it, and typed ones are read as
//! the digit they look like. Stored only as an HMAC (like the other short codes).

/// How many codes a set holds.
pub const COUNT: usize = 10;
/// Characters of a code (without the dash).
pub const LENGTH: usize = 10;
/// Random bytes the caller supplies for one code (only the first 50 bits are used).
pub const RANDOM_BYTES: usize = 7;

/// Crockford's base32 alphabet in lower case: 32 symbols, 5 bits each.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A recovery code in its canonical form (10 lower-case symbols, no dash).
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(****)")
    }
}

impl RecoveryCode {
    /// A code from random bytes the caller drew from a CSPRNG: 50 bits, 5 per symbol.
    pub fn from_random(bytes: [u8; RANDOM_BYTES]) -> Self {
        let mut n = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let mut out = [0u8; LENGTH];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(n & 31) as usize];
            n >>= 5;
        }
        Self(out.iter().map(|b| char::from(*b)).collect())
    }

    /// Reads a typed code: case, spaces and dashes do not matter, and `o`, `i`, `l` are read as
    /// `0`, `1`, `1`. `None` when it cannot be a recovery code.
    pub fn parse(typed: &str) -> Option<Self> {
        if typed.len() > 64 {
            return None;
        }
        let mut out = String::with_capacity(LENGTH);
        for c in typed.chars() {
            let c = match c.to_ascii_lowercase() {
                ' ' | '-' | '\t' => continue,
                'o' => '0',
                'i' | 'l' => '1',
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
                _ => return None,
            };
            out.push(c);
        }
        (out.len() == LENGTH).then_some(Self(out))
    }

    /// The canonical form, the one that is hashed.
    pub fn canonical(&self) -> &str {
        &self.0
    }

    /// As shown to people: `xxxxx-xxxxx`.
    pub fn display(&self) -> String {
        let (a, b) = self.0.split_at(LENGTH / 2);
        format!("{a}-{b}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_bits_in_ten_symbols() {
        assert_eq!(RecoveryCode::from_random([0; 7]).display(), "00000-00000");
        // The first 50 of the 56 bits: all ones there is "zzzzz-zzzzz".
        assert_eq!(RecoveryCode::from_random([0xff; 7]).canonical(), "zzzzzzzzzz");
        let c = RecoveryCode::from_random([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]);
        assert_eq!(c.canonical().len(), LENGTH);
        assert!(c.canonical().bytes().all(|b| ALPHABET.contains(&b)));
        assert!(!c.canonical().contains(['i', 'l', 'o', 'u']));
        // Different bits make different codes (the low 6 bits are dropped).
        assert_ne!(c, RecoveryCode::from_random([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x9e]));
        assert_eq!(format!("{c:?}"), "RecoveryCode(****)");
    }

    #[test]
    fn typed_codes_are_normalised() {
        let c = RecoveryCode::parse("ab12c-de34f").unwrap();
        for same in ["AB12C-DE34F", "ab12cde34f", " ab12c de34f ", "ab-12c-de-34f", "AB12C DE34F"] {
            assert_eq!(RecoveryCode::parse(same), Some(c.clone()), "{same:?}");
        }
        // Letters that look like digits are read as them.
        assert_eq!(RecoveryCode::parse("Oi1L0-00000").map(|c| c.display()), Some("01110-00000".into()));
        assert_eq!(RecoveryCode::parse(&c.display()), Some(c));
    }

    #[test]
    fn malformed_codes() {
        for bad in ["", "ab12c-de34", "ab12c-de34ff", "ab12c-de34u", "ab12c_de34f", "ab12c-de34é", &"a".repeat(100)] {
            assert_eq!(RecoveryCode::parse(bad), None, "{bad:?}");
        }
    }
}
