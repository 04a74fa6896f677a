//! Response compression for event streams: the coding is chosen from `Accept-Encoding`, and the
//! compressor is flushed after every event so each one is decodable the moment it is sent.

use std::io::{self, Write};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};

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
/// tie br, then gzip, then deflate). `*` stands for any coding not named.
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
        for coding in [Coding::Brotli, Coding::Gzip, Coding::Deflate] {
            if !named.contains(&coding) {
                consider(&mut best, coding, q);
            }
        }
    }
    best.0
}

fn rank(c: Coding) -> u8 {
    match c {
        Coding::Brotli => 3,
        Coding::Gzip => 2,
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

/// A per-stream compressor whose output can be taken after each write.
pub enum Encoder {
    /// Pass-through.
    Identity,
    /// gzip.
    Gzip(GzEncoder<Vec<u8>>),
    /// zlib-wrapped deflate.
    Deflate(ZlibEncoder<Vec<u8>>),
    /// Brotli (boxed: its state is large).
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decoder::Identity => "Identity",
            Decoder::Gzip(_) => "Gzip",
            Decoder::Deflate(_) => "Deflate",
            Decoder::Brotli(_) => "Brotli",
        })
    }
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoder::Identity => "Identity",
            Encoder::Gzip(_) => "Gzip",
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
            Coding::Gzip => Encoder::Gzip(GzEncoder::new(Vec::new(), Compression::fast())),
            Coding::Deflate => Encoder::Deflate(ZlibEncoder::new(Vec::new(), Compression::fast())),
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
            Encoder::Gzip(e) => write_take(e, input, flush, |e| e.get_mut()),
            Encoder::Deflate(e) => write_take(e, input, flush, |e| e.get_mut()),
            Encoder::Brotli(e) => write_take(e.as_mut(), input, flush, |e| e.get_mut()),
        }
    }

    /// Ends the compressed stream (trailer, checksum) after the last event.
    pub fn finish(self) -> io::Result<Bytes> {
        Ok(Bytes::from(match self {
            Encoder::Identity => Vec::new(),
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Deflate(e) => e.finish()?,
            Encoder::Brotli(mut e) => {
                e.flush()?;
                e.into_inner()
            }
        }))
    }
}

fn write_take<W: Write>(
    writer: &mut W,
    input: &[u8],
    flush: bool,
    buffer: impl Fn(&mut W) -> &mut Vec<u8>,
) -> io::Result<Bytes> {
    writer.write_all(input)?;
    if flush {
        writer.flush()?;
    }
    Ok(Bytes::from(std::mem::take(buffer(writer))))
}

/// Streaming content decoding, as a client's network stack does before the EventSource sees
/// bytes; bounded, so a decompression bomb is an error rather than an allocation.
pub enum Decoder {
    /// Pass-through.
    Identity,
    /// gzip.
    Gzip(flate2::write::GzDecoder<Bounded>),
    /// zlib-wrapped deflate.
    Deflate(flate2::write::ZlibDecoder<Bounded>),
    /// Brotli (boxed: its state is large).
    Brotli(Box<brotli::DecompressorWriter<Bounded>>),
}

/// The most one network chunk may decompress to: far beyond what real data does (deflate
/// expands at most about 1000-fold), and a stop to decompression bombs from a hostile server.
pub const MAX_DECODED_PER_CHUNK: usize = 64 << 20;

/// Decoded bytes, refusing to grow past [`MAX_DECODED_PER_CHUNK`] before they are taken.
#[derive(Debug, Default)]
pub struct Bounded(Vec<u8>);

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_DECODED_PER_CHUNK {
            return Err(std::io::Error::other("decompressed data too large"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Decoder {
    /// The decoder of a `Content-Encoding` value; `None` for a coding it does not know (a
    /// network error, as in browsers).
    pub fn new(encoding: Option<&str>) -> Option<Self> {
        Some(match encoding.map(str::to_ascii_lowercase).as_deref() {
            None | Some("identity") => Decoder::Identity,
            Some("gzip") => Decoder::Gzip(flate2::write::GzDecoder::new(Bounded::default())),
            Some("deflate") => {
                Decoder::Deflate(flate2::write::ZlibDecoder::new(Bounded::default()))
            }
            Some("br") => Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(
                Bounded::default(),
                4096,
            ))),
            Some(_) => return None,
        })
    }

    /// Decodes a chunk; returns what is decodable so far, `None` on corrupt or explosive input
    /// (a network error).
    pub fn decode(&mut self, data: &[u8]) -> Option<Bytes> {
        fn take<W: Write>(
            w: &mut W,
            data: &[u8],
            inner: impl Fn(&mut W) -> &mut Bounded,
        ) -> Option<Bytes> {
            w.write_all(data).ok()?;
            w.flush().ok()?;
            Some(Bytes::from(std::mem::take(&mut inner(w).0)))
        }
        match self {
            Decoder::Identity => Some(Bytes::copy_from_slice(data)),
            Decoder::Gzip(d) => take(d, data, |d| d.get_mut()),
            Decoder::Deflate(d) => take(d, data, |d| d.get_mut()),
            Decoder::Brotli(d) => take(d.as_mut(), data, |d| d.get_mut()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    use rstest::rstest;
    use std::io::Read;

    #[rstest]
    #[case(&[], Coding::Identity)]
    #[case(&["gzip"], Coding::Gzip)]
    #[case(&["gzip, deflate, br"], Coding::Brotli)]
    #[case(&["gzip;q=1.0, br;q=0.5"], Coding::Gzip)]
    #[case(&["br;q=0, gzip;q=0"], Coding::Identity)]
    #[case(&["deflate", "gzip;q=0.9"], Coding::Deflate)]
    #[case(&["*"], Coding::Brotli)]
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
