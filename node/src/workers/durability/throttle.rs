//! A byte-rate limit for background I/O, as an erasure [`Pace`] callback.

use cairn_erasure::Pace;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Work done faster than the rate may run ahead by this much before it sleeps, so a
/// pass over small blobs is not a storm of tiny sleeps.
const BURST: Duration = Duration::from_millis(100);

/// None when `bytes_per_sec` is 0 (unthrottled). The callback runs on blocking threads
/// and sleeps there, so only the background task pays for the limit.
pub fn rate_limit(bytes_per_sec: u64) -> Option<Pace> {
    if bytes_per_sec == 0 {
        return None;
    }
    let next_free = Arc::new(Mutex::new(Instant::now()));
    Some(Arc::new(move |bytes: u64| {
        let cost = Duration::from_secs_f64(bytes as f64 / bytes_per_sec as f64);
        let now = Instant::now();
        let wake = {
            let mut next = next_free.lock().unwrap_or_else(|e| e.into_inner());
            *next = (*next).max(now) + cost;
            *next
        };
        if let Some(ahead) = wake.checked_duration_since(now + BURST) {
            std::thread::sleep(ahead);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_rate_after_the_burst() {
        let pace = rate_limit(10 << 20).unwrap();
        let start = Instant::now();
        // 3 MiB at 10 MiB/s: at least 300 ms less the burst allowance.
        for _ in 0..12 {
            pace(256 << 10);
        }
        assert!(start.elapsed() >= Duration::from_millis(190), "{:?}", start.elapsed());
        assert!(rate_limit(0).is_none());
    }
}
