//! Frame-exact timing of a video: frame ↔ milliseconds and SMPTE timecode, all in
//! integer arithmetic on the exact frame-rate ratio (`30000/1001`, never `29.97`), so a
//! frame is never one off at a boundary. Pure functions; the annotation model decides
//! with them.
//!
//! - A time `ms` falls in frame `floor(ms × num / (1000 × den))`.
//! - Frame `f` starts at `ceil(f × 1000 × den / num)` ms; so `frame_at_ms(ms_of_frame(f))
//!   == f` for every frame (for rates below 1000 fps).
//! - Timecode counts frames at the nominal rate (`ceil(num / den)`: 30 for 29.97).
//!   Drop-frame (`;`, for 30000/1001 and 60000/1001) skips the first 2 (or 4) frame
//!   numbers of every minute except each tenth, so the timecode keeps to the clock;
//!   numbers that are skipped do not exist and are refused as input.

use crate::assets::Ratio;

/// Why a timing input was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    #[error("a frame rate is a ratio of positive integers below 1000 frames per second")]
    BadRate,
    #[error("drop-frame timecode exists only at 30000/1001 and 60000/1001")]
    NoDropFrame,
    #[error("{0:?} is not a timecode (HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame)")]
    Malformed(String),
    #[error("{0} does not exist in drop-frame timecode (it is skipped)")]
    Skipped(String),
    #[error("frame {frame} starts at {starts_ms} ms; {ms} ms is in frame {at}")]
    Disagree { frame: u64, ms: u64, starts_ms: u64, at: u64 },
}

fn check(r: Ratio) -> Result<(u128, u128), TimingError> {
    let (num, den) = (u128::from(r.num), u128::from(r.den));
    if num == 0 || den == 0 || num >= 1000 * den {
        return Err(TimingError::BadRate);
    }
    Ok((num, den))
}

/// The frame a time falls in.
pub fn frame_at_ms(ms: u64, r: Ratio) -> Result<u64, TimingError> {
    let (num, den) = check(r)?;
    Ok(u64::try_from(u128::from(ms) * num / (1000 * den)).unwrap_or(u64::MAX))
}

/// The time a frame starts at, in whole milliseconds (rounded up into the frame).
pub fn ms_of_frame(frame: u64, r: Ratio) -> Result<u64, TimingError> {
    let (num, den) = check(r)?;
    Ok(u64::try_from((u128::from(frame) * 1000 * den).div_ceil(num)).unwrap_or(u64::MAX))
}

/// Fills in a frame and a time from either (or checks that both agree): the pair the
/// server stores.
pub fn frame_and_ms(frame: Option<u64>, ms: Option<u64>, r: Ratio) -> Result<Option<(u64, u64)>, TimingError> {
    Ok(match (frame, ms) {
        (None, None) => None,
        (Some(f), None) => Some((f, ms_of_frame(f, r)?)),
        (None, Some(t)) => Some((frame_at_ms(t, r)?, t)),
        (Some(f), Some(t)) => {
            let at = frame_at_ms(t, r)?;
            if at != f {
                return Err(TimingError::Disagree { frame: f, ms: t, starts_ms: ms_of_frame(f, r)?, at });
            }
            Some((f, t))
        }
    })
}

/// The nominal (timecode) rate: frames counted per timecode second.
pub fn nominal_fps(r: Ratio) -> Result<u64, TimingError> {
    let (num, den) = check(r)?;
    Ok(u64::try_from(num.div_ceil(den)).unwrap_or(u64::MAX))
}

/// Frame numbers skipped per minute in drop-frame timecode at `r`.
fn drop_per_minute(r: Ratio) -> Result<u64, TimingError> {
    match (r.num, r.den) {
        (30000, 1001) => Ok(2),
        (60000, 1001) => Ok(4),
        _ => Err(TimingError::NoDropFrame),
    }
}

/// Timecode fields (hours, minutes, seconds, frames) of frame `frame`.
pub fn timecode_parts(frame: u64, r: Ratio, drop: bool) -> Result<[u64; 4], TimingError> {
    let fps = nominal_fps(r)?;
    let mut n = frame;
    if drop {
        let d = drop_per_minute(r)?;
        let per_10_min = fps * 600 - 9 * d;
        let per_min = fps * 60 - d;
        let (tens, rest) = (n / per_10_min, n % per_10_min);
        n += 9 * d * tens;
        if rest > d {
            n += d * ((rest - d) / per_min);
        }
    }
    Ok([n / (fps * 3600), n / (fps * 60) % 60, n / fps % 60, n % fps])
}

/// The frame that timecode fields name (refused when drop-frame skips them).
pub fn frame_of_parts([h, m, s, f]: [u64; 4], r: Ratio, drop: bool) -> Result<u64, TimingError> {
    let fps = nominal_fps(r)?;
    let shown = || format!("{h:02}:{m:02}:{s:02}{}{f:02}", if drop { ';' } else { ':' });
    if m > 59 || s > 59 || f >= fps {
        return Err(TimingError::Malformed(shown()));
    }
    let counted = ((h * 60 + m) * 60 + s) * fps + f;
    if !drop {
        return Ok(counted);
    }
    let d = drop_per_minute(r)?;
    if s == 0 && f < d && m % 10 != 0 {
        return Err(TimingError::Skipped(shown()));
    }
    let minutes = h * 60 + m;
    Ok(counted - d * (minutes - minutes / 10))
}

/// SMPTE timecode of frame `frame`: `HH:MM:SS:FF`, or `HH:MM:SS;FF` in drop-frame.
pub fn timecode(frame: u64, r: Ratio, drop: bool) -> Result<String, TimingError> {
    let [h, m, s, f] = timecode_parts(frame, r, drop)?;
    Ok(format!("{h:02}:{m:02}:{s:02}{}{f:02}", if drop { ';' } else { ':' }))
}

/// The frame a timecode names. `;` (or `.`) before the frames means drop-frame, `:`
/// non-drop; hours may have more than two digits.
pub fn parse_timecode(tc: &str, r: Ratio) -> Result<u64, TimingError> {
    let bad = || TimingError::Malformed(tc.to_string());
    let (head, frames, drop) = match tc.rfind([';', '.']) {
        Some(i) => (&tc[..i], &tc[i + 1..], true),
        None => {
            let i = tc.rfind(':').ok_or_else(bad)?;
            (&tc[..i], &tc[i + 1..], false)
        }
    };
    let mut parts = head.split(':');
    let mut next = |max_len: usize| -> Result<u64, TimingError> {
        let p = parts.next().ok_or_else(bad)?;
        if p.is_empty() || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        p.parse().map_err(|_| bad())
    };
    let (h, m, s) = (next(6)?, next(2)?, next(2)?);
    if parts.next().is_some() || frames.len() != 2 || !frames.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    frame_of_parts([h, m, s, frames.parse().map_err(|_| bad())?], r, drop)
}
