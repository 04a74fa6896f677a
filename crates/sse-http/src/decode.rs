//! Content decoding of a response body (gzip, deflate, br, zstd), as a client's network stack
//! does before the EventSource sees bytes; bounded, so a decompression bomb is an error.

use std::io::Write;

use bytes::Bytes;

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
    /// Zstandard (RFC 8878), which proxies such as Caddy offer (boxed: its state is large).
    Zstd(Box<zstd::stream::write::Decoder<'static, Bounded>>),
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
            Some("zstd") => {
                let mut d = zstd::stream::write::Decoder::new(Bounded::default()).ok()?;
                // An 8 MiB window at most, as browsers allow (RFC 9659): a frame header cannot
                // make the decoder allocate more.
                d.window_log_max(23).ok()?;
                Decoder::Zstd(Box::new(d))
            }
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
            Decoder::Zstd(d) => take(d.as_mut(), data, |d| d.get_mut()),
        }
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decoder::Identity => "Identity",
            Decoder::Gzip(_) => "Gzip",
            Decoder::Deflate(_) => "Deflate",
            Decoder::Brotli(_) => "Brotli",
            Decoder::Zstd(_) => "Zstd",
        })
    }
}
