//! Version ids and stamps.
//!
//! Every history entry (`sm_versions`) is keyed by a [`Stamp`]: the log position of
//! the command that made it (index, the command's place in the entry) and a `sub`
//! that orders two entries made by one command (the null version a PUT pushes into
//! the history, sub 0, is older than the version the PUT makes, sub 1). Stamps are
//! made in apply from the entry's position, so every node makes the same ones, and
//! they grow with the log, so newer versions have larger stamps.
//!
//! A version's id is the hex of its stamp (26 digits): opaque to clients, unique in
//! the cluster, and a direct key into the history. The null version has no id
//! (S3 shows it as `null`); it is stamped when it enters the history.

/// Bytes of an encoded stamp.
pub(crate) const STAMP_LEN: usize = 13;

/// Where an entry was made in the log; larger is newer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub index: u64,
    pub seq: u32,
    pub sub: u8,
}

impl Stamp {
    fn bytes(&self) -> [u8; STAMP_LEN] {
        let mut b = [0u8; STAMP_LEN];
        b[..8].copy_from_slice(&self.index.to_be_bytes());
        b[8..12].copy_from_slice(&self.seq.to_be_bytes());
        b[12] = self.sub;
        b
    }

    /// The stamp's bytes, each inverted: newer stamps sort first.
    pub(crate) fn inverted(&self) -> [u8; STAMP_LEN] {
        self.bytes().map(|b| !b)
    }

    pub(crate) fn from_inverted(b: &[u8]) -> Option<Stamp> {
        let b: [u8; STAMP_LEN] = b.try_into().ok()?;
        Some(Stamp::from_bytes(b.map(|x| !x)))
    }

    fn from_bytes(b: [u8; STAMP_LEN]) -> Stamp {
        Stamp {
            index: u64::from_be_bytes(b[..8].try_into().expect("8 bytes")),
            seq: u32::from_be_bytes(b[8..12].try_into().expect("4 bytes")),
            sub: b[12],
        }
    }

    /// The version id of the entry stamped so.
    pub fn id(&self) -> String {
        hex::encode(self.bytes())
    }

    /// The stamp a version id names; `None` for anything that is not one (clients
    /// get 400 InvalidArgument for those).
    pub fn parse_id(id: &str) -> Option<Stamp> {
        if id.len() != 2 * STAMP_LEN || !id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let b: [u8; STAMP_LEN] = hex::decode(id).ok()?.try_into().ok()?;
        Some(Stamp::from_bytes(b))
    }
}

/// Whether `id` is a version id this store could have made, or `null`.
pub fn is_valid_version_id(id: &str) -> bool {
    id == "null" || Stamp::parse_id(id).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_order() {
        let a = Stamp { index: 7, seq: 0, sub: 1 };
        let b = Stamp { index: 7, seq: 1, sub: 0 };
        let c = Stamp { index: 300, seq: 0, sub: 1 };
        for s in [a, b, c] {
            assert_eq!(Stamp::parse_id(&s.id()), Some(s));
            assert_eq!(Stamp::from_inverted(&s.inverted()), Some(s));
        }
        assert!(a.inverted() > b.inverted() && b.inverted() > c.inverted(), "newer sorts first");
        assert!(a.id() < b.id() && b.id() < c.id(), "ids grow with the log");
        for bad in ["", "null0", "XYZ", &"0".repeat(25), &"0".repeat(27), &"A".repeat(26)] {
            assert!(Stamp::parse_id(bad).is_none(), "{bad:?}");
        }
        assert!(is_valid_version_id("null"));
    }
}
