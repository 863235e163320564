//! National Provider Identifiers: ten digits whose last is a Luhn check digit computed over the
//! prefix 80840 followed by the first nine (CMS NPI check-digit rule).

use serde::Serialize;
use thiserror::Error;

/// A valid NPI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Npi(String);

/// Why an NPI was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NpiError {
    #[error("An NPI is exactly 10 digits.")]
    Format,
    #[error("This is not a valid NPI: its check digit does not match.")]
    CheckDigit,
}

/// The Luhn check digit for the nine leading NPI digits, using the 80840 prefix.
pub fn check_digit(first_nine: &[u8; 9]) -> u8 {
    // Digits of "80840" + first nine, then double every second digit from the right of that
    // payload (the rightmost payload digit is doubled, since the check digit will follow it).
    let payload = [8u8, 0, 8, 4, 0].into_iter().chain(first_nine.iter().copied()).collect::<Vec<_>>();
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    ((10 - (sum % 10)) % 10) as u8
}

impl Npi {
    /// Parses a ten-digit NPI and verifies its check digit.
    pub fn parse(raw: &str) -> Result<Self, NpiError> {
        let raw = raw.trim();
        if raw.len() != 10 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NpiError::Format);
        }
        let digits: Vec<u8> = raw.bytes().map(|b| b - b'0').collect();
        let mut nine = [0u8; 9];
        nine.copy_from_slice(&digits[..9]);
        if check_digit(&nine) != digits[9] {
            return Err(NpiError::CheckDigit);
        }
        Ok(Self(raw.to_owned()))
    }

    /// Builds a valid NPI from nine leading digits (used by synthetic rosters and tests).
    pub fn from_first_nine(first_nine: &[u8; 9]) -> Self {
        let mut s: String = first_nine.iter().map(|d| char::from(b'0' + d % 10)).collect();
        s.push(char::from(b'0' + check_digit(first_nine)));
        Self(s)
    }

    /// The ten digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Npi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cms_example_is_valid() {
        // The CMS specification's worked example: 123456789 has check digit 3.
        assert_eq!(check_digit(&[1, 2, 3, 4, 5, 6, 7, 8, 9]), 3);
        assert!(Npi::parse("1234567893").is_ok());
    }

    #[test]
    fn wrong_check_digit_or_format_refused() {
        assert_eq!(Npi::parse("1234567890"), Err(NpiError::CheckDigit));
        assert_eq!(Npi::parse("123456789"), Err(NpiError::Format));
        assert_eq!(Npi::parse("12345678931"), Err(NpiError::Format));
        assert_eq!(Npi::parse("12345A7893"), Err(NpiError::Format));
        assert_eq!(Npi::parse(""), Err(NpiError::Format));
    }

    #[test]
    fn generated_npis_validate() {
        for seed in 0..200u32 {
            let mut nine = [0u8; 9];
            let mut x = seed.wrapping_mul(2_654_435_761);
            for d in &mut nine {
                *d = (x % 10) as u8;
                x /= 10;
            }
            nine[0] = 1 + nine[0] % 2;
            let npi = Npi::from_first_nine(&nine);
            assert_eq!(Npi::parse(npi.as_str()), Ok(npi.clone()));
        }
    }
}
