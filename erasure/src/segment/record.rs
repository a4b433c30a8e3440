//! The bytes of one segment record header and of one hint file entry (layouts in the
//! module doc of [`super`]). Pure encoding: no I/O.

/// Bytes of a record header.
pub(crate) const RECORD_HEADER: usize = 44;
const MAGIC: &[u8; 4] = b"CSG1";

/// Bytes of one hint entry.
pub(crate) const HINT_ENTRY: usize = 31;
/// First bytes of a hint file.
pub(crate) const HINT_MAGIC: &[u8; 8] = b"CSGHINT1";

/// What a record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The payload is a whole shard file image: its 48-byte header, then blocks and CRCs.
    Shard,
    /// The shard is gone; the payload is the u32 sequence number of the segment that held it.
    Tomb,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Shard => 1,
            Kind::Tomb => 2,
        }
    }

    fn from_byte(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Shard),
            2 => Some(Kind::Tomb),
            _ => None,
        }
    }
}

/// A decoded record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: Kind,
    pub shard: u16,
    pub id: u128,
    pub len: u32,
    /// Seconds since the Unix epoch when the shard was first written (kept by compaction).
    pub time: u32,
    pub payload_crc: u32,
}

impl Header {
    pub fn encode(&self) -> [u8; RECORD_HEADER] {
        let mut h = [0u8; RECORD_HEADER];
        h[0..4].copy_from_slice(MAGIC);
        h[4] = self.kind.byte();
        h[6..8].copy_from_slice(&self.shard.to_le_bytes());
        h[8..24].copy_from_slice(&self.id.to_le_bytes());
        h[24..28].copy_from_slice(&self.len.to_le_bytes());
        h[28..32].copy_from_slice(&self.time.to_le_bytes());
        h[32..36].copy_from_slice(&self.payload_crc.to_le_bytes());
        // 36..40 reserved, zero.
        let crc = crc32c::crc32c(&h[..40]);
        h[40..44].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// None for anything but an intact header: a torn or zeroed tail, or a damaged record.
    pub fn decode(h: &[u8; RECORD_HEADER]) -> Option<Header> {
        if &h[0..4] != MAGIC || crc32c::crc32c(&h[..40]).to_le_bytes() != h[40..44] {
            return None;
        }
        Some(Header {
            kind: Kind::from_byte(h[4])?,
            shard: u16::from_le_bytes(h[6..8].try_into().ok()?),
            id: u128::from_le_bytes(h[8..24].try_into().ok()?),
            len: u32::from_le_bytes(h[24..28].try_into().ok()?),
            time: u32::from_le_bytes(h[28..32].try_into().ok()?),
            payload_crc: u32::from_le_bytes(h[32..36].try_into().ok()?),
        })
    }
}

/// One record of a sealed segment, as its hint file lists it. `value` is the payload offset
/// in the segment for a shard, the cancelled segment's number for a tombstone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub kind: Kind,
    pub shard: u16,
    pub id: u128,
    pub value: u32,
    pub len: u32,
    pub time: u32,
}

impl Entry {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind.byte());
        out.extend_from_slice(&self.shard.to_le_bytes());
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.value.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.time.to_le_bytes());
    }

    pub fn decode(b: &[u8; HINT_ENTRY]) -> Option<Entry> {
        Some(Entry {
            kind: Kind::from_byte(b[0])?,
            shard: u16::from_le_bytes(b[1..3].try_into().ok()?),
            id: u128::from_le_bytes(b[3..19].try_into().ok()?),
            value: u32::from_le_bytes(b[19..23].try_into().ok()?),
            len: u32::from_le_bytes(b[23..27].try_into().ok()?),
            time: u32::from_le_bytes(b[27..31].try_into().ok()?),
        })
    }
}

/// A whole hint file: magic, entries, CRC32C of everything before it.
pub(crate) fn encode_hint(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HINT_MAGIC.len() + entries.len() * HINT_ENTRY + 4);
    out.extend_from_slice(HINT_MAGIC);
    for e in entries {
        e.encode(&mut out);
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// None unless the whole file is intact: a damaged hint is ignored and the segment scanned.
pub(crate) fn decode_hint(b: &[u8]) -> Option<Vec<Entry>> {
    let body_len = b.len().checked_sub(4)?;
    let (body, crc) = b.split_at(body_len);
    if !body.starts_with(HINT_MAGIC) || crc32c::crc32c(body).to_le_bytes() != crc {
        return None;
    }
    let entries = &body[HINT_MAGIC.len()..];
    if entries.len() % HINT_ENTRY != 0 {
        return None;
    }
    entries.chunks_exact(HINT_ENTRY).map(|c| Entry::decode(c.try_into().ok()?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_hint_round_trip_and_reject_damage() {
        let h =
            Header { kind: Kind::Shard, shard: 3, id: 7 << 100 | 9, len: 4096, time: 1_800_000_000, payload_crc: 42 };
        let mut b = h.encode();
        assert_eq!(Header::decode(&b), Some(h));
        b[10] ^= 1;
        assert_eq!(Header::decode(&b), None, "a flipped id byte fails the header CRC");
        assert_eq!(Header::decode(&[0; RECORD_HEADER]), None, "a zeroed tail is no record");

        let entries = vec![
            Entry { kind: Kind::Shard, shard: 1, id: 5, value: 44, len: 100, time: 3 },
            Entry { kind: Kind::Tomb, shard: 2, id: 6, value: 9, len: 4, time: 4 },
        ];
        let mut hint = encode_hint(&entries);
        assert_eq!(decode_hint(&hint), Some(entries));
        hint[12] ^= 1;
        assert_eq!(decode_hint(&hint), None);
        assert_eq!(decode_hint(&[]), None);
    }
}
