//! The standard input of `bangmail-receive`, cut into envelope lines.
//!
//! Input arrives in chunks of any size, cut anywhere. A line ends at `\n`
//! (a `\r` before it stays, as JSON whitespace); the last line needs no
//! `\n`. A line of nothing but ASCII whitespace is skipped. A line longer
//! than the limit becomes one [`Piece::TooLarge`], given as soon as it
//! passes the limit; the rest of it is skipped and never held. The pieces
//! are the same however the input was cut.

/// What a line of input became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A line, without its `\n`.
    Line(Vec<u8>),
    /// A line over the limit (its bytes are dropped).
    TooLarge,
}

/// Cuts input into [`Piece`]s, holding at most one line of up to the limit.
#[derive(Debug)]
pub struct Splitter {
    max: usize,
    partial: Vec<u8>,
    /// The current line passed the limit: skip to its end.
    skipping: bool,
}

impl Splitter {
    /// A splitter for lines of at most `max` bytes (without the `\n`).
    pub fn new(max: usize) -> Splitter {
        Splitter {
            max,
            partial: Vec::new(),
            skipping: false,
        }
    }

    /// Takes the next chunk of input: the pieces it completed, in order.
    pub fn push(&mut self, data: &[u8]) -> Vec<Piece> {
        let mut out = Vec::new();
        for chunk in data.split_inclusive(|b| *b == b'\n') {
            let (body, ends) = match chunk.split_last() {
                Some((b'\n', body)) => (body, true),
                _ => (chunk, false),
            };
            if !self.skipping {
                self.partial.extend_from_slice(body);
                if self.partial.len() > self.max {
                    self.skipping = true;
                    self.partial = Vec::new();
                    out.push(Piece::TooLarge);
                }
            }
            if ends {
                out.extend(self.take_line());
            }
        }
        out
    }

    /// Ends the input: the last line, if it had no `\n`.
    pub fn finish(mut self) -> Option<Piece> {
        self.take_line()
    }

    fn take_line(&mut self) -> Option<Piece> {
        let line = std::mem::take(&mut self.partial);
        let skipped = std::mem::replace(&mut self.skipping, false);
        (!skipped && !line.iter().all(u8::is_ascii_whitespace)).then_some(Piece::Line(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(max: usize, input: &[u8]) -> Vec<Piece> {
        let mut s = Splitter::new(max);
        let mut out = s.push(input);
        out.extend(s.finish());
        out
    }

    fn line(s: &str) -> Piece {
        Piece::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn lines_blank_lines_and_the_last_line() {
        assert_eq!(
            whole(100, b"{\"a\":1}\n\n  \t\n{\"b\":2}\r\n{\"c\":3}"),
            [line("{\"a\":1}"), line("{\"b\":2}\r"), line("{\"c\":3}")]
        );
        assert_eq!(whole(100, b""), []);
        assert_eq!(whole(100, b"\n\n \n"), []);
    }

    #[test]
    fn the_limit_is_inclusive_and_a_long_line_is_reported_once() {
        let at = "x".repeat(8);
        let over = "x".repeat(9);
        assert_eq!(whole(8, format!("{at}\n").as_bytes()), [line(&at)]);
        assert_eq!(
            whole(8, format!("{over}{over}{over}\nok\n{over}").as_bytes()),
            [Piece::TooLarge, line("ok"), Piece::TooLarge]
        );
    }

    #[test]
    fn any_cutting_gives_the_same_pieces() {
        let input = b"{\"a\":1}\n\nxxxxxxxxxxxxxxxxxxxx\n {\"b\":22}\r\n\n   \nxxxxxxxxxxxxx\nend";
        for max in [1, 7, 8, 12, 13, 100] {
            let want = whole(max, input);
            // Cut once anywhere, twice anywhere, and byte by byte.
            for i in 0..=input.len() {
                for j in i..=input.len() {
                    let mut s = Splitter::new(max);
                    let mut got = s.push(&input[..i]);
                    got.extend(s.push(&input[i..j]));
                    got.extend(s.push(&input[j..]));
                    got.extend(s.finish());
                    assert_eq!(got, want, "max {max}, cut at {i} and {j}");
                }
            }
            let mut s = Splitter::new(max);
            let mut got: Vec<Piece> = input.iter().flat_map(|b| s.push(&[*b])).collect();
            got.extend(s.finish());
            assert_eq!(got, want, "max {max}, byte by byte");
        }
    }
}
