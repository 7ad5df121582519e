//! New DICOM UIDs and the current date and time in DICOM form.

use std::time::{SystemTime, UNIX_EPOCH};

/// A new, globally unique DICOM UID: "2.25." and the decimal form of a random (version 4)
/// UUID, as PS3.5 B.2 allows without a registered root. At most 44 characters.
pub fn new_uid() -> String {
    let mut bits: u128 = rand::random();
    // RFC 9562 version 4: version nibble 0100, variant bits 10.
    bits = (bits & !(0xF << 76)) | (0x4 << 76);
    bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    format!("2.25.{bits}")
}

/// Now in UTC as DICOM DA ("YYYYMMDD") and TM ("HHMMSS"); written beside a Timezone Offset
/// From UTC of "+0000" so readers need not guess the zone.
pub(crate) fn utc_now() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    (
        format!("{y:04}{m:02}{d:02}"),
        format!("{:02}{:02}{:02}", rest / 3600, rest / 60 % 60, rest % 60),
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day): H. Hinnant's
/// `civil_from_days` (https://howardhinnant.github.io/date_algorithms.html).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_map_to_calendar_dates() {
        // Day counts from Python's datetime.date arithmetic.
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1));
    }

    #[test]
    fn uid_is_a_version_4_uuid_under_2_25() {
        let uid = new_uid();
        let value: u128 = uid
            .strip_prefix("2.25.")
            .expect("prefix")
            .parse()
            .expect("decimal");
        assert_eq!((value >> 76) & 0xF, 4);
        assert_eq!((value >> 62) & 0x3, 2);
        assert!(uid.len() <= 64);
        assert_ne!(uid, new_uid());
    }

    #[test]
    fn now_is_well_formed() {
        let (date, time) = utc_now();
        assert_eq!(date.len(), 8);
        assert_eq!(time.len(), 6);
        assert!(date.bytes().chain(time.bytes()).all(|b| b.is_ascii_digit()));
        assert!(date.as_str() >= "20240101");
    }
}
