//! A command's output as the model reads it: decoded as UTF-8 per stream, interleaved in
//! arrival order, capped.
//!
//! Once the cap is reached, further bytes are dropped without being decoded or kept, so that a
//! command printing gigabytes costs no memory.

use dw_protocol::Stream;

/// Decodes a byte stream that arrives in arbitrary chunks, keeping a character split between
/// two chunks whole; invalid bytes become U+FFFD.
#[derive(Debug, Default)]
pub struct Utf8Decoder {
    /// The start of a character whose remaining bytes have not arrived yet (at most 3 bytes).
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// The text of `bytes`, after whatever the previous chunk left unfinished.
    pub fn decode(&mut self, bytes: &[u8]) -> String {
        let mut input = std::mem::take(&mut self.pending);
        input.extend_from_slice(bytes);
        let complete = incomplete_tail_start(&input);
        self.pending = input.split_off(complete);
        String::from_utf8_lossy(&input).into_owned()
    }

    /// What is left at the end of the stream: U+FFFD for an unfinished character.
    pub fn finish(&mut self) -> String {
        if std::mem::take(&mut self.pending).is_empty() {
            String::new()
        } else {
            char::REPLACEMENT_CHARACTER.to_string()
        }
    }
}

/// Where a character that the end of `bytes` cuts short begins (`bytes.len()` if none does).
fn incomplete_tail_start(bytes: &[u8]) -> usize {
    let length = bytes.len();
    for back in 1..=length.min(3) {
        let byte = bytes[length - back];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue;
        }
        let needed = match byte {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if needed > back { length - back } else { length };
    }
    length
}

/// The capped, interleaved output of one command.
#[derive(Debug)]
pub struct Capture {
    limit: usize,
    output: String,
    truncated: bool,
    stdout: Utf8Decoder,
    stderr: Utf8Decoder,
}

impl Capture {
    /// An empty capture that keeps at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            output: String::new(),
            truncated: false,
            stdout: Utf8Decoder::default(),
            stderr: Utf8Decoder::default(),
        }
    }

    /// Takes a chunk read from `stream`; returns the text to stream as an event, if any of it
    /// fits under the cap.
    pub fn push(&mut self, stream: Stream, bytes: &[u8]) -> Option<String> {
        if self.truncated {
            return None;
        }
        let text = self.decoder(stream).decode(bytes);
        self.keep(text)
    }

    /// Ends `stream`, returning the text of an unfinished character, if any fits.
    pub fn finish(&mut self, stream: Stream) -> Option<String> {
        if self.truncated {
            return None;
        }
        let text = self.decoder(stream).finish();
        self.keep(text)
    }

    /// The output kept, and whether anything was dropped.
    pub fn into_output(self) -> (String, bool) {
        (self.output, self.truncated)
    }

    fn decoder(&mut self, stream: Stream) -> &mut Utf8Decoder {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    fn keep(&mut self, mut text: String) -> Option<String> {
        let room = self.limit - self.output.len();
        if text.len() > room {
            text.truncate(floor_char_boundary(&text, room));
            self.truncated = true;
        }
        if text.is_empty() {
            return None;
        }
        self.output.push_str(&text);
        Some(text)
    }
}

/// The largest character boundary in `text` at or before `index`.
pub fn floor_char_boundary(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    (0..=index)
        .rev()
        .find(|candidate| text.is_char_boundary(*candidate))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_character_split_across_chunks_stays_whole() {
        let bytes = "aé€😀".as_bytes();
        for split in 0..=bytes.len() {
            let mut decoder = Utf8Decoder::default();
            let mut text = decoder.decode(&bytes[..split]);
            text += &decoder.decode(&bytes[split..]);
            text += &decoder.finish();
            assert_eq!(text, "aé€😀", "split at {split}");
        }
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut decoder = Utf8Decoder::default();
        assert_eq!(decoder.decode(b"a\xFFb\xE2"), "a\u{FFFD}b");
        assert_eq!(decoder.decode(b"x"), "\u{FFFD}x");
        assert_eq!(decoder.decode(b"\xE2\x82"), "");
        assert_eq!(decoder.finish(), "\u{FFFD}");
        assert_eq!(decoder.finish(), "");
    }

    #[test]
    fn the_capture_stops_exactly_at_the_cap() {
        let mut capture = Capture::new(10);
        assert_eq!(capture.push(Stream::Stdout, b"12345").unwrap(), "12345");
        assert_eq!(capture.push(Stream::Stderr, b"6789").unwrap(), "6789");
        assert_eq!(capture.push(Stream::Stdout, b"abc").unwrap(), "a");
        assert_eq!(capture.push(Stream::Stdout, b"more"), None);
        assert_eq!(capture.into_output(), ("123456789a".to_owned(), true));
    }

    #[test]
    fn the_cap_never_cuts_a_character() {
        let mut capture = Capture::new(3);
        assert_eq!(capture.push(Stream::Stdout, "a€".as_bytes()).unwrap(), "a");
        assert_eq!(capture.into_output(), ("a".to_owned(), true));
    }

    #[test]
    fn output_that_fits_exactly_is_not_truncated() {
        let mut capture = Capture::new(3);
        capture.push(Stream::Stdout, b"abc");
        assert_eq!(capture.finish(Stream::Stdout), None);
        assert_eq!(capture.into_output(), ("abc".to_owned(), false));
    }
}
