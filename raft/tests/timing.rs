//! Frame-exact timing: every frame of the first 10 hours at each common rate
//! round-trips frame → ms → frame and frame → timecode → frame exactly, and the
//! known drop-frame landmarks hold.

use cairn_raft::assets::Ratio;
use cairn_raft::timing::*;

const fn r(num: u32, den: u32) -> Ratio {
    Ratio { num, den }
}

/// The common rates, and whether each is also counted in drop-frame.
const RATES: [(Ratio, bool); 8] = [
    (r(24000, 1001), false),
    (r(24, 1), false),
    (r(25, 1), false),
    (r(30000, 1001), true),
    (r(30, 1), false),
    (r(50, 1), false),
    (r(60000, 1001), true),
    (r(60, 1), false),
];

#[test]
fn every_frame_of_ten_hours_round_trips_at_every_common_rate() {
    for (rate, has_drop) in RATES {
        let frames = u64::from(rate.num) * 36_000 / u64::from(rate.den);
        let drops: &[bool] = if has_drop { &[false, true] } else { &[false] };
        for f in 0..frames {
            let ms = ms_of_frame(f, rate).unwrap();
            assert_eq!(frame_at_ms(ms, rate).unwrap(), f, "frame {f} at {rate:?}: starts at {ms} ms");
            if f > 0 {
                assert_eq!(frame_at_ms(ms - 1, rate).unwrap(), f - 1, "the ms before frame {f} is in frame {}", f - 1);
            }
            for &drop in drops {
                let parts = timecode_parts(f, rate, drop).unwrap();
                assert_eq!(
                    frame_of_parts(parts, rate, drop).unwrap(),
                    f,
                    "frame {f} at {rate:?} drop {drop}: {parts:?}"
                );
                // The text form too, on a sample (it is the same parts).
                if f % 1009 == 0 {
                    let tc = timecode(f, rate, drop).unwrap();
                    assert_eq!(parse_timecode(&tc, rate).unwrap(), f, "{tc}");
                }
            }
        }
    }
}

#[test]
fn drop_frame_landmarks_and_refusals() {
    let ntsc = r(30000, 1001);
    // A minute in: frame numbers 00 and 01 are skipped, so 1800 frames is ;02.
    assert_eq!(timecode(1799, ntsc, true).unwrap(), "00:00:59;29");
    assert_eq!(timecode(1800, ntsc, true).unwrap(), "00:01:00;02");
    // Every tenth minute keeps them: ten minutes is 17982 frames.
    assert_eq!(timecode(17982, ntsc, true).unwrap(), "00:10:00;00");
    assert_eq!(timecode(17982 * 6, ntsc, true).unwrap(), "01:00:00;00", "an hour of clock is an hour of timecode");
    assert_eq!(timecode(17982 * 6, ntsc, false).unwrap(), "00:59:56:12", "non-drop drifts 3.6 s an hour");
    assert_eq!(parse_timecode("00:01:00;02", ntsc).unwrap(), 1800);
    assert_eq!(parse_timecode("00:01:00.02", ntsc).unwrap(), 1800, "a period is drop-frame too");
    assert!(matches!(parse_timecode("00:01:00;00", ntsc), Err(TimingError::Skipped(_))));
    assert!(matches!(parse_timecode("00:01:00;01", ntsc), Err(TimingError::Skipped(_))));
    assert_eq!(parse_timecode("00:10:00;00", ntsc).unwrap(), 17982);
    let fast = r(60000, 1001);
    assert_eq!(timecode(3600, fast, true).unwrap(), "00:01:00;04");
    assert!(matches!(parse_timecode("00:01:00;03", fast), Err(TimingError::Skipped(_))));
    assert_eq!(timecode(86_400, r(24, 1), false).unwrap(), "01:00:00:00");
    assert!(matches!(timecode(5, r(25, 1), true), Err(TimingError::NoDropFrame)));
    for bad in ["", "1:2:3", "00:00:00:30", "00:60:00:00", "00:00:60:00", "aa:00:00:00", "00:00:00:5", "00:00:00::05"] {
        assert!(parse_timecode(bad, ntsc).is_err(), "{bad:?}");
    }
    assert!(matches!(frame_at_ms(0, r(0, 1)), Err(TimingError::BadRate)));
    assert!(matches!(frame_at_ms(0, r(1000, 1)), Err(TimingError::BadRate)));
}

#[test]
fn a_frame_and_a_time_are_filled_in_or_must_agree() {
    let ntsc = r(30000, 1001);
    // Frame 1 of 29.97 starts at 33.366… ms: 34 ms is the first whole ms inside it.
    assert_eq!(frame_and_ms(Some(1), None, ntsc).unwrap(), Some((1, 34)));
    assert_eq!(frame_and_ms(None, Some(33), ntsc).unwrap(), Some((0, 33)));
    assert_eq!(frame_and_ms(Some(1), Some(40), ntsc).unwrap(), Some((1, 40)));
    let e = frame_and_ms(Some(2), Some(40), ntsc).unwrap_err();
    assert_eq!(e, TimingError::Disagree { frame: 2, ms: 40, starts_ms: 67, at: 1 });
    assert_eq!(frame_and_ms(None, None, ntsc).unwrap(), None);
    // 10 hours at 23.976: float arithmetic at a hard-coded rate would be off; this is not.
    let film = r(24000, 1001);
    let f = 863_136; // 10 h of 23.976 minus a little
    assert_eq!(frame_at_ms(ms_of_frame(f, film).unwrap(), film).unwrap(), f);
}
