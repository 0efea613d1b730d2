//! Decimal numbers as people write them (`2.5`, `-25e-1`, `60`), read into their digits
//! and a power of ten, then turned into a [`Duration`] exactly or into an `f64` for
//! display. Used by the seconds options and the state file's JSON reader. Pure; never
//! panics on any input.
//!
//! Hand-written rather than `str::parse::<f64>`: the standard float parser brings about
//! 15 KB of tables and code into a binary meant for routers, and the durations come out
//! exact (`0.1` is 100 ms, not the nearest binary fraction).

use std::time::Duration;

/// Significant digits kept; further digits are dropped (they are beyond an `f64`'s
/// precision and below a nanosecond in any duration we accept).
const MAX_DIGITS: u32 = 19;

/// A decimal number: `(-1)^negative × digits × 10^exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    digits: u64,
    exp: i32,
}

impl Decimal {
    /// Reads `[+-]digits[.digits][(e|E)[+-]digits]` (the integer or the fraction part
    /// may be empty, not both). Anything else, including surrounding blanks, `inf` and
    /// `nan`, is `None`.
    pub fn parse(s: &str) -> Option<Decimal> {
        let b = s.as_bytes();
        let mut i = 0;
        let negative = match b.first() {
            Some(b'-') => {
                i = 1;
                true
            }
            Some(b'+') => {
                i = 1;
                false
            }
            _ => false,
        };
        let (mut digits, mut exp, mut kept, mut seen) = (0u64, 0i32, 0u32, false);
        let mut after_point = false;
        while let Some(&c) = b.get(i) {
            match c {
                b'0'..=b'9' => {
                    seen = true;
                    let d = c - b'0';
                    if digits == 0 && d == 0 {
                        // A leading zero: only its place after the point counts.
                        exp = exp.saturating_sub(i32::from(after_point));
                    } else if kept < MAX_DIGITS {
                        digits = digits * 10 + u64::from(d);
                        kept += 1;
                        exp = exp.saturating_sub(i32::from(after_point));
                    } else {
                        // Beyond the kept precision: dropped, but its place counts.
                        exp = exp.saturating_add(i32::from(!after_point));
                    }
                }
                b'.' if !after_point => after_point = true,
                _ => break,
            }
            i += 1;
        }
        if !seen {
            return None;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            let rest = &s[i + 1..];
            let (sign, body) = match rest.as_bytes().first() {
                Some(b'-') => (-1i32, &rest[1..]),
                Some(b'+') => (1, &rest[1..]),
                _ => (1, rest),
            };
            if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let e = body.bytes().fold(0i32, |e, c| {
                e.saturating_mul(10).saturating_add(i32::from(c - b'0'))
            });
            exp = exp.saturating_add(sign * e);
            i = s.len();
        }
        (i == s.len()).then_some(Decimal {
            negative,
            digits,
            exp,
        })
    }

    /// The value as an `f64`, close enough to display (not correctly rounded in every
    /// last bit, and values below about 1e-300 come out as 0).
    pub fn to_f64(self) -> f64 {
        let magnitude = if self.digits == 0 {
            // Not 0 × 10^400, which is NaN.
            0.0
        } else if self.exp >= 0 {
            self.digits as f64 * 10f64.powi(self.exp)
        } else {
            self.digits as f64 / 10f64.powi(self.exp.saturating_neg())
        };
        if self.negative {
            -magnitude
        } else {
            magnitude
        }
    }

    /// The value as seconds, rounded up to whole nanoseconds (so that a tiny value is
    /// not mistaken for zero, which options read as "none"); `None` when negative
    /// (other than zero) or above `max`.
    pub fn to_duration(self, max: Duration) -> Option<Duration> {
        if self.digits == 0 {
            return Some(Duration::ZERO);
        }
        if self.negative {
            return None;
        }
        let shift = self.exp.saturating_add(9);
        let nanos = if shift >= 0 {
            10u128
                .checked_pow(shift.unsigned_abs())
                .and_then(|p| p.checked_mul(u128::from(self.digits)))?
        } else {
            // Beyond 10^38 the divisor overflows: the value is far below a nanosecond.
            10u128
                .checked_pow(shift.unsigned_abs())
                .map_or(1, |p| u128::from(self.digits).div_ceil(p))
        };
        let d = Duration::new(
            u64::try_from(nanos / 1_000_000_000).ok()?,
            (nanos % 1_000_000_000) as u32,
        );
        (d <= max).then_some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Option<f64> {
        Decimal::parse(s).map(Decimal::to_f64)
    }

    #[test]
    fn reads_what_people_write() {
        assert_eq!(f("60"), Some(60.0));
        assert_eq!(f("2.5"), Some(2.5));
        assert_eq!(f("-2.5e1"), Some(-25.0));
        assert_eq!(f("+1E+2"), Some(100.0));
        assert_eq!(f(".5"), Some(0.5));
        assert_eq!(f("5."), Some(5.0));
        assert_eq!(f("0.000"), Some(0.0));
        assert_eq!(f("007"), Some(7.0));
        assert_eq!(f("1234567"), Some(1_234_567.0));
        assert_eq!(f("0.001"), Some(0.001));
        for bad in [
            "", ".", "-", "e1", "1e", "1e+", "1.2.3", " 1", "1 ", "inf", "nan", "0x10",
        ] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn long_numbers_keep_their_magnitude() {
        let close = |s: &str, want: f64| {
            let got = f(s).unwrap();
            assert!(((got - want) / want).abs() < 1e-15, "{s}: {got}");
        };
        close("123456789012345678901234", 1.2345678901234568e23);
        close("0.1234567890123456789012", 0.12345678901234568);
        assert_eq!(f("1e400"), Some(f64::INFINITY));
        assert_eq!(f("1e-400"), Some(0.0));
        assert_eq!(f("1e99999999999"), Some(f64::INFINITY));
        assert_eq!(f("0e400"), Some(0.0));
        assert_eq!(f("-0.000e2147483647"), Some(0.0));
    }

    #[test]
    fn durations_are_exact() {
        let day = Duration::from_secs(86_400);
        let d = |s: &str| Decimal::parse(s).and_then(|x| x.to_duration(day));
        assert_eq!(d("0.1"), Some(Duration::from_millis(100)));
        assert_eq!(d("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(d("1e-9"), Some(Duration::from_nanos(1)));
        assert_eq!(
            d("1e-10"),
            Some(Duration::from_nanos(1)),
            "rounded up, not zero"
        );
        assert_eq!(d("1e-99999"), Some(Duration::from_nanos(1)));
        assert_eq!(d("1.0000000001"), Some(Duration::new(1, 1)));
        assert_eq!(d("86400"), Some(day));
        assert_eq!(d("8.64e4"), Some(day));
        assert_eq!(d("-0"), Some(Duration::ZERO));
        assert_eq!(d("0e99999"), Some(Duration::ZERO));
        assert_eq!(d("86400.000000001"), None);
        assert_eq!(d("-1"), None);
        assert_eq!(d("1e9"), None);
        assert_eq!(d("1e99999"), None);
        assert_eq!(d("99999999999999999999999999"), None);
    }
}
