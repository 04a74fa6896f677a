//! Response compression for event streams: the coding is chosen from `Accept-Encoding`, and the
//! compressor is flushed after every event so each one is decodable the moment it is sent.

use std::io::{self, Write};

use bytes::Bytes;
use flate2::Compression;

/// A content coding the server can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// No compression.
    Identity,
    /// `gzip` (RFC 1952).
    Gzip,
    /// `deflate`, which HTTP defines as the zlib format (RFC 1950).
    Deflate,
    /// `br` (RFC 7932).
    Brotli,
}

impl Coding {
    /// The `Content-Encoding` token, or `None` for identity.
    pub fn token(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Deflate => Some("deflate"),
            Coding::Brotli => Some("br"),
        }
    }
}

/// Picks the coding a client prefers from its `Accept-Encoding` values (highest q wins; on a
/// tie gzip, then br, then deflate: a gzip stream shares its thread's compressor and keeps only
/// a few kilobytes of its own, a br stream keeps a whole compressor, and on small events gzip
/// that way compresses as well). `*` stands for any coding not named.
pub fn negotiate<'a>(accept_encoding: impl IntoIterator<Item = &'a str>) -> Coding {
    let mut best = (Coding::Identity, 0u16);
    let mut wildcard = None;
    let mut named = Vec::new();
    for value in accept_encoding {
        for item in value.split(',') {
            let mut parts = item.split(';');
            let token = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(parse_q)
                .unwrap_or(1000);
            let coding = match token.as_str() {
                "br" => Coding::Brotli,
                "gzip" | "x-gzip" => Coding::Gzip,
                "deflate" => Coding::Deflate,
                "*" => {
                    wildcard = Some(q);
                    continue;
                }
                _ => continue,
            };
            named.push(coding);
            consider(&mut best, coding, q);
        }
    }
    if let Some(q) = wildcard {
        for coding in [Coding::Gzip, Coding::Brotli, Coding::Deflate] {
            if !named.contains(&coding) {
                consider(&mut best, coding, q);
            }
        }
    }
    best.0
}

fn rank(c: Coding) -> u8 {
    match c {
        Coding::Gzip => 3,
        Coding::Brotli => 2,
        Coding::Deflate => 1,
        Coding::Identity => 0,
    }
}

fn consider(best: &mut (Coding, u16), coding: Coding, q: u16) {
    if q > best.1 || (q == best.1 && q > 0 && rank(coding) > rank(best.0)) {
        *best = (coding, q);
    }
}

/// A q-value in thousandths (`0.5` is 500); `None` when malformed.
fn parse_q(s: &str) -> Option<u16> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if !matches!(int, "0" | "1") || frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value: u16 = format!("{frac:0<3}").parse().ok()?;
    let value = if int == "1" { 1000 } else { frac_value };
    (value <= 1000).then_some(value)
}

/// Plaintext a gzip or deflate stream keeps as the dictionary of its next chunk: how far back a
/// match may reach across events. Events of a stream repeat each other's field names and
/// keys, so this keeps most of the ratio of a private compressor (0.29 against 0.28 of the
/// plaintext on small JSON events) at a small fraction of its memory.
pub const DICTIONARY_BYTES: usize = 4096;

/// Plaintext an unflushed gzip or deflate stream holds before compressing it, as a
/// compressor's internal buffer would.
pub const UNFLUSHED_BYTES: usize = 32 << 10;

thread_local! {
    /// The one raw-deflate compressor of this thread, shared by every gzip and deflate stream
    /// it serves: a compressor's state is hundreds of kilobytes, and a stream needs it only
    /// while one of its events is being compressed.
    static DEFLATE: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(Compression::fast(), false));
}

/// A per-stream compressor whose output can be taken after each write.
pub enum Encoder {
    /// Pass-through.
    Identity,
    /// gzip or zlib-wrapped deflate (boxed to keep identity streams small).
    Deflate(Box<DeflateStream>),
    /// Brotli (boxed: its state is large).
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
}

/// The state a gzip or zlib stream keeps between events: its framing, checksum and the tail of
/// its plaintext; the compressor itself is the thread's shared one, primed with that tail.
pub struct DeflateStream {
    gzip: bool,
    started: bool,
    dictionary: Vec<u8>,
    unflushed: Vec<u8>,
    crc: flate2::Crc,
    adler: (u32, u32),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoder::Identity => "Identity",
            Encoder::Deflate(d) if d.gzip => "Gzip",
            Encoder::Deflate(_) => "Deflate",
            Encoder::Brotli(_) => "Brotli",
        })
    }
}

impl Encoder {
    /// A fresh compressor for one response.
    pub fn new(coding: Coding) -> Self {
        match coding {
            Coding::Identity => Encoder::Identity,
            Coding::Gzip => Encoder::Deflate(Box::new(DeflateStream::new(true))),
            Coding::Deflate => Encoder::Deflate(Box::new(DeflateStream::new(false))),
            // Quality 4 and a 64 KiB window: fast, and bounded memory per stream.
            Coding::Brotli => Encoder::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                4096,
                4,
                16,
            ))),
        }
    }

    /// Compresses `input`; with `flush`, also emits everything needed to decode it now
    /// (a sync flush), so the client sees the event without waiting for more.
    pub fn encode(&mut self, input: &[u8], flush: bool) -> io::Result<Bytes> {
        match self {
            Encoder::Identity => Ok(Bytes::copy_from_slice(input)),
            Encoder::Deflate(d) => d.encode(input, flush).map(Bytes::from),
            Encoder::Brotli(e) => {
                e.write_all(input)?;
                if flush {
                    e.flush()?;
                }
                Ok(Bytes::from(std::mem::take(e.get_mut())))
            }
        }
    }

    /// Ends the compressed stream (trailer, checksum) after the last event.
    pub fn finish(self) -> io::Result<Bytes> {
        Ok(Bytes::from(match self {
            Encoder::Identity => Vec::new(),
            Encoder::Deflate(d) => d.finish()?,
            Encoder::Brotli(mut e) => {
                e.flush()?;
                e.into_inner()
            }
        }))
    }
}

/// The gzip header: deflate, no name or time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// The zlib header: deflate with a 32 KiB window, fastest level (its check bits included).
const ZLIB_HEADER: [u8; 2] = [0x78, 0x01];
/// A final, empty deflate block (fixed Huffman codes): the end of the deflate data.
const FINAL_EMPTY_BLOCK: [u8; 2] = [0x03, 0x00];

impl DeflateStream {
    fn new(gzip: bool) -> Self {
        DeflateStream {
            gzip,
            started: false,
            dictionary: Vec::new(),
            unflushed: Vec::new(),
            crc: flate2::Crc::new(),
            adler: (1, 0),
        }
    }

    fn encode(&mut self, input: &[u8], flush: bool) -> io::Result<Vec<u8>> {
        let mut out = self.header();
        if flush || self.unflushed.len() + input.len() >= UNFLUSHED_BYTES {
            if self.unflushed.is_empty() {
                self.compress(input, &mut out)?;
            } else {
                let mut held = std::mem::take(&mut self.unflushed);
                held.extend_from_slice(input);
                self.compress(&held, &mut out)?;
            }
        } else {
            self.unflushed.extend_from_slice(input);
        }
        Ok(out)
    }

    fn finish(mut self) -> io::Result<Vec<u8>> {
        let mut out = self.header();
        let held = std::mem::take(&mut self.unflushed);
        self.compress(&held, &mut out)?;
        out.extend_from_slice(&FINAL_EMPTY_BLOCK);
        if self.gzip {
            out.extend_from_slice(&self.crc.sum().to_le_bytes());
            out.extend_from_slice(&self.crc.amount().to_le_bytes());
        } else {
            let (a, b) = self.adler;
            out.extend_from_slice(&((b << 16) | a).to_be_bytes());
        }
        Ok(out)
    }

    /// The format's header, the first time only.
    fn header(&mut self) -> Vec<u8> {
        if std::mem::replace(&mut self.started, true) {
            Vec::new()
        } else if self.gzip {
            GZIP_HEADER.to_vec()
        } else {
            ZLIB_HEADER.to_vec()
        }
    }

    /// Appends `input` as byte-aligned, non-final deflate blocks (ending in a sync flush) made by
    /// the thread's compressor, primed with this stream's dictionary, so matches reach back
    /// into earlier events as the client's decoder window does.
    fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        if input.is_empty() {
            return Ok(());
        }
        DEFLATE.with(|c| -> io::Result<()> {
            let mut c = c.borrow_mut();
            c.reset();
            if !self.dictionary.is_empty() {
                c.set_dictionary(&self.dictionary)
                    .map_err(io::Error::other)?;
            }
            let start = c.total_in();
            loop {
                out.reserve(input.len() / 2 + 64);
                let done = usize::try_from(c.total_in() - start).unwrap_or(usize::MAX);
                let rest = input.get(done..).unwrap_or_default();
                let status = c
                    .compress_vec(rest, out, flate2::FlushCompress::Sync)
                    .map_err(io::Error::other)?;
                let consumed = c.total_in() - start == input.len() as u64;
                // Room left over means the flush is complete; a buffer error means nothing was
                // left to do.
                if consumed && (out.len() < out.capacity() || status == flate2::Status::BufError) {
                    return Ok(());
                }
            }
        })?;
        self.crc.update(input);
        self.adler = adler32(self.adler, input);
        let keep = DICTIONARY_BYTES.min(input.len());
        self.dictionary
            .extend_from_slice(&input[input.len() - keep..]);
        let excess = self.dictionary.len().saturating_sub(DICTIONARY_BYTES);
        self.dictionary.drain(..excess);
        Ok(())
    }
}

/// The Adler-32 running sums (RFC 1950) after `data`.
fn adler32((mut a, mut b): (u32, u32), data: &[u8]) -> (u32, u32) {
    const MOD: u32 = 65_521;
    // 5552 bytes is the most that can be summed before `b` could overflow.
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sse_http::decode::Decoder;

    #[test]
    fn a_decompression_bomb_is_a_network_error_not_an_allocation() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..100 {
            gz.write_all(&zeros).expect("compress");
        }
        let bomb = gz.finish().expect("finish");
        assert!(bomb.len() < 200 << 10, "{} bytes", bomb.len());
        let mut decoder = Decoder::new(Some("gzip")).expect("gzip");
        assert!(decoder.decode(&bomb).is_none());
        // Ordinary data decodes.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"data: a\n\n").expect("compress");
        let small = gz.finish().expect("finish");
        let mut decoder = Decoder::new(Some("gzip")).expect("gzip");
        assert_eq!(decoder.decode(&small).as_deref(), Some(&b"data: a\n\n"[..]));
    }

    #[test]
    fn a_zstd_stream_flushed_per_event_decodes_event_by_event() {
        let mut zstd = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("encoder");
        let mut decoder = Decoder::new(Some("zstd")).expect("zstd");
        for event in [&b"id: 1\ndata: a\n\n"[..], b"id: 2\ndata: b\n\n"] {
            zstd.write_all(event).expect("compress");
            zstd.flush().expect("flush");
            let chunk = std::mem::take(zstd.get_mut());
            assert_eq!(decoder.decode(&chunk).as_deref(), Some(event));
        }
        // A block split across network chunks decodes across them; garbage is an error.
        zstd.write_all(b"data: c\n\n").expect("compress");
        zstd.flush().expect("flush");
        let chunk = std::mem::take(zstd.get_mut());
        let (first, rest) = chunk.split_at(chunk.len() / 2);
        let mut got = decoder.decode(first).expect("decodes").to_vec();
        got.extend_from_slice(&decoder.decode(rest).expect("decodes"));
        assert_eq!(got, b"data: c\n\n");
        let mut fresh = Decoder::new(Some("zstd")).expect("zstd");
        assert!(fresh.decode(b"not zstd at all").is_none());
    }

    use rstest::rstest;
    use std::io::Read;

    #[rstest]
    #[case(&[], Coding::Identity)]
    #[case(&["gzip"], Coding::Gzip)]
    #[case(&["gzip, deflate, br"], Coding::Gzip)]
    #[case(&["gzip;q=0.9, br"], Coding::Brotli)]
    #[case(&["gzip;q=1.0, br;q=0.5"], Coding::Gzip)]
    #[case(&["br;q=0, gzip;q=0"], Coding::Identity)]
    #[case(&["deflate", "gzip;q=0.9"], Coding::Deflate)]
    #[case(&["*"], Coding::Gzip)]
    #[case(&["*;q=0.5, gzip;q=0"], Coding::Brotli)]
    #[case(&["*;q=0.5, br;q=0"], Coding::Gzip)]
    #[case(&["identity"], Coding::Identity)]
    #[case(&["GZIP;Q=1"], Coding::Gzip)]
    #[case(&["gzip;q=2"], Coding::Gzip)]
    #[case(&["gzip;q=0.001"], Coding::Gzip)]
    fn negotiation(#[case] header: &[&str], #[case] expected: Coding) {
        assert_eq!(negotiate(header.iter().copied()), expected);
    }

    fn decode(coding: Coding, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            Coding::Identity => out.extend_from_slice(bytes),
            Coding::Gzip => {
                let _ = flate2::read::GzDecoder::new(bytes).read_to_end(&mut out);
            }
            Coding::Deflate => {
                let _ = flate2::read::ZlibDecoder::new(bytes).read_to_end(&mut out);
            }
            Coding::Brotli => {
                let _ = brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out);
            }
        }
        out
    }

    /// After every flushed event, what was sent so far decodes to every event so far.
    #[rstest]
    #[case(Coding::Identity)]
    #[case(Coding::Gzip)]
    #[case(Coding::Deflate)]
    #[case(Coding::Brotli)]
    fn each_flushed_event_is_decodable_at_once(#[case] coding: Coding) {
        let mut enc = Encoder::new(coding);
        let mut sent = Vec::new();
        let mut plain = Vec::new();
        for i in 0..20 {
            let event = format!("id: {i}\ndata: event number {i}\n\n");
            plain.extend_from_slice(event.as_bytes());
            sent.extend_from_slice(&enc.encode(event.as_bytes(), true).expect("encode"));
            assert_eq!(decode(coding, &sent), plain, "after event {i}");
        }
        sent.extend_from_slice(&enc.finish().expect("finish"));
        assert_eq!(decode(coding, &sent), plain);
    }

    /// Decodes a finished stream strictly: a wrong checksum, length or framing is an error.
    fn decode_finished(coding: Coding, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        match coding {
            Coding::Gzip => flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?,
            Coding::Deflate => flate2::read::ZlibDecoder::new(bytes).read_to_end(&mut out)?,
            Coding::Identity | Coding::Brotli => unreachable!("deflate codings only"),
        };
        Ok(out)
    }

    /// Two streams served by one thread share its compressor: neither's dictionary leaks into
    /// the other, and each ends with its own correct checksum and length.
    #[rstest]
    #[case(Coding::Gzip)]
    #[case(Coding::Deflate)]
    fn interleaved_streams_share_the_compressor_but_not_their_history(#[case] coding: Coding) {
        let (mut a, mut b) = (Encoder::new(coding), Encoder::new(coding));
        let (mut sent_a, mut sent_b) = (Vec::new(), Vec::new());
        let (mut plain_a, mut plain_b) = (Vec::new(), Vec::new());
        for i in 0..200 {
            let ea = format!("id: {i}\ndata: {{\"stream\":\"a\",\"n\":{i}}}\n\n");
            let eb = format!("event: b\ndata: {}\n\n", "b".repeat(i % 50));
            sent_a.extend_from_slice(&a.encode(ea.as_bytes(), true).expect("encode"));
            sent_b.extend_from_slice(&b.encode(eb.as_bytes(), true).expect("encode"));
            plain_a.extend_from_slice(ea.as_bytes());
            plain_b.extend_from_slice(eb.as_bytes());
            assert_eq!(decode(coding, &sent_a), plain_a, "a after event {i}");
            assert_eq!(decode(coding, &sent_b), plain_b, "b after event {i}");
        }
        sent_a.extend_from_slice(&a.finish().expect("finish"));
        sent_b.extend_from_slice(&b.finish().expect("finish"));
        assert_eq!(
            decode_finished(coding, &sent_a).expect("a is valid"),
            plain_a
        );
        assert_eq!(
            decode_finished(coding, &sent_b).expect("b is valid"),
            plain_b
        );
        // Matches across events still pay: far smaller than the plaintext.
        assert!(
            sent_a.len() * 2 < plain_a.len(),
            "{} of {}",
            sent_a.len(),
            plain_a.len()
        );
    }

    /// Inputs larger than the dictionary and the unflushed buffer, flushed or not, and an empty
    /// stream: all finish as valid streams.
    #[rstest]
    #[case(Coding::Gzip, true)]
    #[case(Coding::Gzip, false)]
    #[case(Coding::Deflate, true)]
    #[case(Coding::Deflate, false)]
    fn large_and_empty_streams_finish_valid(#[case] coding: Coding, #[case] flush: bool) {
        let empty = Encoder::new(coding).finish().expect("finish");
        assert_eq!(
            decode_finished(coding, &empty).expect("empty is valid"),
            b""
        );
        let mut enc = Encoder::new(coding);
        let mut sent = Vec::new();
        let mut plain = Vec::new();
        let mut x = 1u64;
        for i in 0..20usize {
            // Poorly compressible data, 0 to 190 KiB per write.
            let chunk: Vec<u8> = (0..i * 10_000)
                .map(|_| {
                    x = crate::demo::splitmix64(x);
                    b'a' + (x % 26) as u8
                })
                .collect();
            sent.extend_from_slice(&enc.encode(&chunk, flush).expect("encode"));
            plain.extend_from_slice(&chunk);
            if let Encoder::Deflate(d) = &enc {
                assert!(d.dictionary.len() <= DICTIONARY_BYTES);
                assert!(d.unflushed.len() < UNFLUSHED_BYTES);
            }
        }
        sent.extend_from_slice(&enc.finish().expect("finish"));
        assert_eq!(decode_finished(coding, &sent).expect("valid"), plain);
    }

    #[test]
    fn adler32_matches_the_rfc_definition() {
        let (a, b) = adler32((1, 0), b"Wikipedia");
        assert_eq!((b << 16) | a, 0x11E6_0398);
        // Long input, where the sums must be reduced before they overflow.
        let zeros_then_ff = [vec![0xffu8; 100_000], vec![0u8; 10]].concat();
        let (a, b) = adler32((1, 0), &zeros_then_ff);
        let (mut ra, mut rb) = (1u64, 0u64);
        for &byte in &zeros_then_ff {
            ra = (ra + u64::from(byte)) % 65_521;
            rb = (rb + ra) % 65_521;
        }
        assert_eq!((u64::from(a), u64::from(b)), (ra, rb));
    }

    #[rstest]
    #[case(Coding::Gzip)]
    #[case(Coding::Deflate)]
    #[case(Coding::Brotli)]
    fn without_flush_events_are_held_back(#[case] coding: Coding) {
        let mut enc = Encoder::new(coding);
        let mut sent = Vec::new();
        for i in 0..5 {
            sent.extend_from_slice(
                &enc.encode(format!("data: {i}\n\n").as_bytes(), false)
                    .expect("encode"),
            );
        }
        assert!(
            decode(coding, &sent).is_empty(),
            "an unflushed compressor emitted decodable events"
        );
    }
}
