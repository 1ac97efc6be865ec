//! Times as Unix microseconds: how the store keeps them and how cursors write them.

use time::OffsetDateTime;

/// `at` in whole microseconds since the Unix epoch (saturating far outside ±292,000 years).
pub fn from_time(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// The time `micros` stands for; out of `time`'s range it is the epoch.
pub fn to_time(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_second_is_a_million_micros() {
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
        assert_eq!(from_time(at), 1_700_000_000_000_000);
        assert_eq!(to_time(1_700_000_000_000_000), at);
    }

    proptest! {
        #[test]
        fn micros_round_trip_within_times_range(micros in -62_000_000_000_000_000i64..250_000_000_000_000_000) {
            prop_assert_eq!(from_time(to_time(micros)), micros);
        }
    }
}
