//! The framing of an `aws-chunked` request body, followed byte by byte.
//!
//! s3s decodes and verifies aws-chunked bodies, but a body that simply stops at a
//! chunk boundary, before its final zero-length chunk, ends for s3s like a complete
//! one. The final chunk is what proves the sender meant to stop there (in signed
//! streaming its signature closes the chain), so the gate follows the framing and
//! calls a body without it incomplete.
//!
//! The format: `hex-size[;extensions]\r\n`, then `size` bytes of data and `\r\n`,
//! repeated; a chunk of size 0 ends the data, and may be followed by trailer lines
//! (`name:value\r\n`) and an empty line. This tracker checks only the framing:
//! sizes, line ends and that the zero-length chunk arrived. Signatures and trailer
//! contents are s3s's.

/// Longest chunk header line accepted (`hex;chunk-signature=<64 hex>` is ~90 bytes).
const MAX_LINE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading a chunk header line; `len` bytes of it seen so far.
    Header {
        size: Option<u64>,
        in_ext: bool,
        len: usize,
        cr: bool,
    },
    /// Inside a chunk's data, this many bytes to go.
    Data(u64),
    /// After the data: expecting `\r` (false) or `\n` (true).
    DataEnd {
        cr: bool,
    },
    /// The zero-length chunk arrived; what follows is trailers.
    Final,
    Broken,
}

#[derive(Clone, Debug)]
pub struct ChunkFraming {
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FramingError {
    /// The body is not aws-chunked framing.
    Malformed,
    /// The body ended before its final zero-length chunk.
    Incomplete,
}

impl Default for ChunkFraming {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkFraming {
    pub fn new() -> Self {
        Self { state: State::Header { size: None, in_ext: false, len: 0, cr: false } }
    }

    /// Follows `data`; the first framing error sticks.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), FramingError> {
        while !data.is_empty() {
            match &mut self.state {
                State::Broken => return Err(FramingError::Malformed),
                State::Final => return Ok(()),
                State::Data(left) => {
                    let n = (*left).min(data.len() as u64) as usize;
                    *left -= n as u64;
                    data = &data[n..];
                    if *left == 0 {
                        self.state = State::DataEnd { cr: false };
                    }
                }
                State::DataEnd { cr } => {
                    let b = data[0];
                    data = &data[1..];
                    match (*cr, b) {
                        (false, b'\r') => *cr = true,
                        (true, b'\n') => self.state = State::Header { size: None, in_ext: false, len: 0, cr: false },
                        _ => return self.broken(),
                    }
                }
                State::Header { size, in_ext, len, cr } => {
                    let b = data[0];
                    data = &data[1..];
                    *len += 1;
                    if *len > MAX_LINE {
                        return self.broken();
                    }
                    if *cr {
                        if b != b'\n' {
                            return self.broken();
                        }
                        let Some(size) = *size else { return self.broken() };
                        self.state = if size == 0 { State::Final } else { State::Data(size) };
                        continue;
                    }
                    match b {
                        b'\r' => *cr = true,
                        b';' => *in_ext = true,
                        _ if *in_ext => {}
                        _ => {
                            let Some(d) = (b as char).to_digit(16) else { return self.broken() };
                            let next = size.unwrap_or(0).checked_mul(16).and_then(|s| s.checked_add(u64::from(d)));
                            match next {
                                Some(n) => *size = Some(n),
                                None => return self.broken(),
                            }
                        }
                    }
                }
            }
        }
        match self.state {
            State::Broken => Err(FramingError::Malformed),
            _ => Ok(()),
        }
    }

    /// The body ended: complete only if the zero-length chunk arrived.
    pub fn finish(&self) -> Result<(), FramingError> {
        match self.state {
            State::Final => Ok(()),
            State::Broken => Err(FramingError::Malformed),
            _ => Err(FramingError::Incomplete),
        }
    }

    fn broken(&mut self) -> Result<(), FramingError> {
        self.state = State::Broken;
        Err(FramingError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Frames `chunks` as aws-chunked, with a final chunk when `close`.
    fn frame(chunks: &[Vec<u8>], close: bool, sig: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let ext = |out: &mut Vec<u8>| {
            if sig {
                out.extend_from_slice(b";chunk-signature=");
                out.extend_from_slice(&[b'a'; 64]);
            }
        };
        for c in chunks.iter().filter(|c| !c.is_empty()) {
            out.extend_from_slice(format!("{:x}", c.len()).as_bytes());
            ext(&mut out);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(c);
            out.extend_from_slice(b"\r\n");
        }
        if close {
            out.extend_from_slice(b"0");
            ext(&mut out);
            out.extend_from_slice(b"\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
        }
        out
    }

    fn follow(body: &[u8], pieces: &[usize]) -> Result<(), FramingError> {
        let mut f = ChunkFraming::new();
        let mut rest = body;
        for &p in pieces {
            let n = p.min(rest.len());
            f.feed(&rest[..n])?;
            rest = &rest[n..];
        }
        f.feed(rest)?;
        f.finish()
    }

    #[test]
    fn known_bodies() {
        assert_eq!(follow(b"5\r\nhello\r\n0\r\n\r\n", &[]), Ok(()));
        assert_eq!(follow(b"5\r\nhello\r\n", &[]), Err(FramingError::Incomplete));
        assert_eq!(follow(b"", &[]), Err(FramingError::Incomplete));
        assert_eq!(follow(b"zz\r\n", &[]), Err(FramingError::Malformed));
        assert_eq!(follow(b"5\r\nhelloXX", &[]), Err(FramingError::Malformed));
        assert_eq!(follow(b"ffffffffffffffffff\r\n", &[]), Err(FramingError::Malformed));
        assert_eq!(follow(b"\r\n", &[]), Err(FramingError::Malformed));
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512),
                                        pieces in proptest::collection::vec(0usize..64, 0..8)) {
            let _ = follow(&body, &pieces);
        }

        #[test]
        fn framed_bodies_are_complete_and_every_cut_is_not(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..5),
            sig in any::<bool>(),
            pieces in proptest::collection::vec(0usize..97, 0..6),
        ) {
            let body = frame(&chunks, true, sig);
            prop_assert_eq!(follow(&body, &pieces), Ok(()));
            let open = frame(&chunks, false, sig);
            prop_assert_eq!(follow(&open, &pieces), Err(FramingError::Incomplete));
            // Any strict prefix that stops before the final chunk's line ends is incomplete.
            let final_line = open.len() + 1 + if sig { 81 } else { 0 } + 2;
            for cut in 0..final_line.min(body.len()) {
                prop_assert_eq!(follow(&body[..cut], &[]), Err(FramingError::Incomplete), "cut at {}", cut);
            }
        }
    }
}
