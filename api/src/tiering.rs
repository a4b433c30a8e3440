//! `/cairn/v1/buckets/B/tiering`: a bucket's tiering by access (GET, PUT, DELETE).
//! A current version not read for `down_after_days` days moves from `hot_class` to
//! `cold_class`; one in `cold_class` read `up_after_reads` times within the last
//! `up_within_days` days moves back up. Days are lifecycle days.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessTiering {
    /// Keys the rule applies to (all when empty).
    #[serde(default)]
    pub prefix: String,
    pub cold_class: String,
    pub down_after_days: u32,
    /// `STANDARD` when not given.
    #[serde(default = "standard")]
    pub hot_class: String,
    pub up_after_reads: u32,
    /// 7 when not given; at most 31.
    #[serde(default = "week")]
    pub up_within_days: u32,
}

fn standard() -> String {
    "STANDARD".into()
}

fn week() -> u32 {
    7
}
