#![no_main]
//! Fuzz target: ssh_lines. `bangmail-receive`'s standard input, from
//! anyone, cut at the points the input names: the pieces are the same as
//! for the input in one chunk and as byte by byte, and no line is over the
//! limit.

use ank_ssh::lines::{Piece, Splitter};
use libfuzzer_sys::fuzz_target;

fn split(max: usize, chunks: &[&[u8]]) -> Vec<Piece> {
    let mut s = Splitter::new(max);
    let mut out: Vec<Piece> = chunks.iter().flat_map(|c| s.push(c)).collect();
    out.extend(s.finish());
    out
}

fuzz_target!(|data: &[u8]| {
    // The first byte: the line limit; the next two: where to cut.
    let [max, a, b, input @ ..] = data else {
        return;
    };
    let max = usize::from(*max % 64);
    let (i, j) = (
        usize::from(*a).min(input.len()),
        usize::from(*b).min(input.len()),
    );
    let (i, j) = (i.min(j), i.max(j));
    let whole = split(max, &[input]);
    assert_eq!(split(max, &[&input[..i], &input[i..j], &input[j..]]), whole);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(split(max, &bytes), whole);
    for p in &whole {
        if let Piece::Line(l) = p {
            assert!(l.len() <= max && !l.contains(&b'\n'));
            assert!(!l.iter().all(u8::is_ascii_whitespace));
        }
    }
});
