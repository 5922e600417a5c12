//! C2SP tlog-tiles: tile coordinates, paths, inventories, hashes and entry bundles.
//!
//! A tile at tile level `L` and index `N` holds the hashes of tree level
//! `8·L`, positions `256·N .. 256·N + W`, each 32 bytes, concatenated
//! (`W` = width, 1..=256). A full tile has width 256 and is immutable; a
//! partial one (`.p/W`) exists only for the right edge of the tree.
//! Entry bundles (`tile/entries/N`) hold the entries of leaves
//! `256·N .. 256·N + W`, each as a big-endian uint16 length and the entry
//! bytes, with nothing after the last entry.
//!
//! Paths: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`. `L` is a
//! decimal 0..=63 without leading zeros. `N` is written in groups of three
//! decimal digits, every group but the last prefixed with `x`, with no
//! leading all-zero group: 1234067 → `x001/x234/067`, 5 → `005`. `W` of a
//! partial tile is a decimal 1..=255 without leading zeros. The parser
//! accepts exactly the strings the encoder produces.

use std::collections::HashMap;

use crate::Error;
use crate::error::TilePathError;
use crate::hash::{Hash, node_hash};
use crate::tree::{HashReader, split_stored_hash_index};

/// Tree levels per tile.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// Which data a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Hashes of tree level `8·level`.
    Hashes { level: u8 },
    /// Leaf entries (an entry bundle).
    Entries,
}

/// One tile or entry bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    pub kind: TileKind,
    pub index: u64,
    /// 1..=256; 256 is a full tile.
    pub width: u16,
}

impl Tile {
    /// A hash tile. `width` is clamped to 1..=256.
    pub fn hashes(level: u8, index: u64, width: u16) -> Tile {
        Tile {
            kind: TileKind::Hashes { level },
            index,
            width: width.clamp(1, 256),
        }
    }

    /// An entry bundle. `width` is clamped to 1..=256.
    pub fn entries(index: u64, width: u16) -> Tile {
        Tile {
            kind: TileKind::Entries,
            index,
            width: width.clamp(1, 256),
        }
    }

    /// Whether the tile is full (immutable).
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// Expected byte length of a hash tile (32 × width). Entry bundles vary.
    pub fn hash_tile_len(&self) -> usize {
        usize::from(self.width) * Hash::LEN
    }

    /// The C2SP path, without a leading slash.
    pub fn path(&self) -> String {
        let mut s = match self.kind {
            TileKind::Hashes { level } => format!("tile/{level}/"),
            TileKind::Entries => "tile/entries/".to_owned(),
        };
        s.push_str(&encode_index(self.index));
        if !self.is_full() {
            s.push_str(&format!(".p/{}", self.width));
        }
        s
    }

    /// Parses a C2SP tile path (with or without a leading slash), strictly.
    ///
    /// # Errors
    /// [`Error::TilePath`] with the reason.
    pub fn parse_path(path: &str) -> Result<Tile, Error> {
        let err = |reason| Error::TilePath {
            path: path.chars().take(200).collect(),
            reason,
        };
        let rest = path.strip_prefix('/').unwrap_or(path);
        let rest = rest
            .strip_prefix("tile/")
            .ok_or(err(TilePathError::Prefix))?;
        let (level, rest) = rest.split_once('/').ok_or(err(TilePathError::Level))?;
        let kind = if level == "entries" {
            TileKind::Entries
        } else {
            TileKind::Hashes {
                level: parse_level(level).ok_or(err(TilePathError::Level))?,
            }
        };
        let (index, width) = parse_index_width(rest).map_err(err)?;
        Ok(Tile { kind, index, width })
    }
}

fn parse_level(s: &str) -> Option<u8> {
    let l = parse_canonical_decimal(s)?;
    (l < 64).then_some(l as u8)
}

/// A decimal with no sign, no leading zeros (except "0"), fitting u64.
pub(crate) fn parse_canonical_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Parses `<N>[.p/<W>]`; a missing `.p/W` means width 256.
fn parse_index_width(s: &str) -> Result<(u64, u16), TilePathError> {
    let (index, width) = match s.split_once(".p/") {
        Some((i, w)) => {
            let w = parse_canonical_decimal(w)
                .filter(|w| (1..256).contains(w))
                .ok_or(TilePathError::Width)?;
            (i, w as u16)
        }
        None => (s, 256),
    };
    let segments: Vec<&str> = index.split('/').collect();
    let mut n: u64 = 0;
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let digits = if last {
            *seg
        } else {
            seg.strip_prefix('x').ok_or(TilePathError::IndexSegment)?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TilePathError::IndexSegment);
        }
        let d: u64 = digits.parse().map_err(|_| TilePathError::IndexSegment)?;
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(d))
            .ok_or(TilePathError::IndexOverflow)?;
    }
    if encode_index(n) != index {
        return Err(TilePathError::NonCanonical);
    }
    Ok((n, width))
}

/// Encodes a tile index: `1234067` → `x001/x234/067`.
pub fn encode_index(mut n: u64) -> String {
    let mut groups = vec![n % 1000];
    n /= 1000;
    while n > 0 {
        groups.push(n % 1000);
        n /= 1000;
    }
    let last = groups.len() - 1;
    let mut s = String::with_capacity(4 * groups.len());
    for (i, g) in groups.iter().rev().enumerate() {
        if i != last {
            s.push('x');
        }
        s.push_str(&format!("{g:03}"));
        if i != last {
            s.push('/');
        }
    }
    s
}

/// Every hash tile that a tree of `size` leaves has, level by level,
/// full tiles then the partial one.
pub fn tiles_for_size(size: u64) -> Vec<Tile> {
    tiles_with_height(u32::from(TILE_HEIGHT), 0, size)
        .into_iter()
        .map(|(level, index, width)| Tile::hashes(level, index, width as u16))
        .collect()
}

/// Every entry bundle of a tree of `size` leaves.
pub fn entry_bundles_for_size(size: u64) -> Vec<Tile> {
    changed_entry_bundles(0, size)
}

/// The hash tiles that differ between trees of `old` and `new` leaves:
/// tiles that became full and the new partial tiles.
pub fn changed_tiles(old: u64, new: u64) -> Vec<Tile> {
    tiles_with_height(u32::from(TILE_HEIGHT), old, new)
        .into_iter()
        .map(|(level, index, width)| Tile::hashes(level, index, width as u16))
        .collect()
}

/// The entry bundles that differ between trees of `old` and `new` leaves.
pub fn changed_entry_bundles(old: u64, new: u64) -> Vec<Tile> {
    tiles_with_height(u32::from(TILE_HEIGHT), old, new)
        .into_iter()
        .filter(|&(level, _, _)| level == 0)
        .map(|(_, index, width)| Tile::entries(index, width as u16))
        .collect()
}

/// Tiles of height `h` (as `(level, index, width)`) that differ between
/// trees of `old` and `new` leaves. With `old == 0`, every tile of `new`.
pub(crate) fn tiles_with_height(h: u32, old: u64, new: u64) -> Vec<(u8, u64, u64)> {
    let full = 1u64 << h;
    let mut out = Vec::new();
    let mut level = 0u32;
    while level * h < 64 && new >> (level * h) > 0 {
        let old_n = old >> (level * h);
        let new_n = new >> (level * h);
        if old_n < new_n {
            for idx in old_n / full..new_n / full {
                out.push((level as u8, idx, full));
            }
            if !new_n.is_multiple_of(full) {
                out.push((level as u8, new_n / full, new_n % full));
            }
        }
        level += 1;
    }
    out
}

/// The hash tile holding the hash at tree `level` (a multiple of 8 or not),
/// position `n`, as it exists in a tree of `size` leaves: `(tile, offset,
/// count)`, where the node is the root of `count` consecutive tile hashes
/// starting at `offset`.
pub fn tile_for_node(level: u8, n: u64, size: u64) -> (Tile, usize, usize) {
    let tl = level / TILE_HEIGHT;
    let sub = level % TILE_HEIGHT;
    let base = n << sub;
    let index = base / TILE_WIDTH;
    let at_level = size >> (u32::from(tl) * u32::from(TILE_HEIGHT));
    // Callers check that the node exists in the tree; saturate rather than wrap if not.
    let width = at_level.saturating_sub(index * TILE_WIDTH).min(TILE_WIDTH);
    (
        Tile::hashes(tl, index, width as u16),
        (base % TILE_WIDTH) as usize,
        1usize << sub,
    )
}

/// Splits hash-tile data into its hashes.
///
/// # Errors
/// [`Error::TileLength`] unless `data` is exactly 32 × the tile's width.
pub fn tile_hashes(tile: &Tile, data: &[u8]) -> Result<Vec<Hash>, Error> {
    if data.len() != tile.hash_tile_len() {
        return Err(Error::TileLength {
            expected: tile.hash_tile_len(),
            actual: data.len(),
        });
    }
    data.chunks_exact(Hash::LEN).map(Hash::from_slice).collect()
}

/// Root of `hashes`, whose length is a power of two (a complete subtree).
fn complete_root(hashes: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| node_hash(&p[0], &p[p.len() - 1]))
            .collect();
    }
    level.first().copied().unwrap_or_default()
}

/// Reads stored hashes of a tree of fixed size out of its hash tiles.
///
/// `fetch` returns a tile's bytes. Tiles are fetched at most once per
/// [`HashReader::read_hashes`] call.
pub struct TileHashReader<F> {
    size: u64,
    fetch: F,
}

impl<F> std::fmt::Debug for TileHashReader<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileHashReader")
            .field("size", &self.size)
            .finish()
    }
}

impl<F: Fn(&Tile) -> Result<Vec<u8>, Error>> TileHashReader<F> {
    /// A reader for the tree of `size` leaves.
    pub fn new(size: u64, fetch: F) -> Self {
        TileHashReader { size, fetch }
    }
}

impl<F: Fn(&Tile) -> Result<Vec<u8>, Error>> HashReader for TileHashReader<F> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        let mut cache: HashMap<Tile, Vec<Hash>> = HashMap::new();
        let mut out = Vec::with_capacity(indexes.len());
        for &i in indexes {
            let (level, n) = split_stored_hash_index(i);
            if n >= (self.size >> level) {
                return Err(Error::MissingHash { index: i });
            }
            let (tile, offset, count) = tile_for_node(level, n, self.size);
            let hashes = match cache.entry(tile) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let data = (self.fetch)(&tile)?;
                    v.insert(tile_hashes(&tile, &data)?)
                }
            };
            let span = hashes
                .get(offset..offset + count)
                .ok_or(Error::MissingHash { index: i })?;
            out.push(complete_root(span));
        }
        Ok(out)
    }
}

/// Encodes entries as an entry bundle.
///
/// # Errors
/// [`Error::EntryTooLong`] for an entry over 65535 bytes.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.as_ref().len() + 2).sum());
    for e in entries {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| Error::EntryTooLong { len: e.len() })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Decodes an entry bundle, which must hold exactly `width` entries and
/// nothing after them.
///
/// # Errors
/// [`Error::BundleTruncated`], [`Error::BundleEntryCount`].
pub fn decode_entry_bundle(data: &[u8], width: usize) -> Result<Vec<&[u8]>, Error> {
    let mut out = Vec::with_capacity(width.min(256));
    let mut at = 0usize;
    while at < data.len() {
        if data.len() - at < 2 {
            return Err(Error::BundleTruncated { offset: at });
        }
        let len = usize::from(u16::from_be_bytes([data[at], data[at + 1]]));
        if data.len() - at - 2 < len {
            return Err(Error::BundleTruncated { offset: at });
        }
        out.push(&data[at + 2..at + 2 + len]);
        at += 2 + len;
        if out.len() > width {
            return Err(Error::BundleEntryCount {
                expected: width,
                actual: out.len(),
            });
        }
    }
    if out.len() != width {
        return Err(Error::BundleEntryCount {
            expected: width,
            actual: out.len(),
        });
    }
    Ok(out)
}

/// Recomputes a whole tiled log from its entries and checks every tile.
///
/// Feed the leaf hashes in order with [`TiledLogChecker::push_leaf`]; take
/// each completed full hash tile with [`TiledLogChecker::take_full_tiles`]
/// and, at the end, the right edge with [`TiledLogChecker::partial_tiles`],
/// and compare them with the tiles served; [`TiledLogChecker::root`] is the
/// tree's root. Memory is O(256 · levels).
#[derive(Debug, Default)]
pub struct TiledLogChecker {
    builder: crate::tree::TreeBuilder,
    /// Hashes of the not-yet-full tile at each tile level.
    pending: Vec<Vec<Hash>>,
    /// Completed full tiles, taken by the caller with [`TiledLogChecker::take_full_tiles`].
    full: Vec<(Tile, Vec<Hash>)>,
}

impl TiledLogChecker {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves seen so far.
    pub fn size(&self) -> u64 {
        self.builder.size()
    }

    /// Adds one leaf hash.
    pub fn push_leaf(&mut self, leaf: Hash) {
        self.builder.push(leaf);
        self.push_at(0, leaf);
    }

    fn push_at(&mut self, tl: usize, h: Hash) {
        if self.pending.len() <= tl {
            self.pending.resize_with(tl + 1, Vec::new);
        }
        self.pending[tl].push(h);
        if self.pending[tl].len() as u64 == TILE_WIDTH {
            let hashes = std::mem::take(&mut self.pending[tl]);
            let done = self.builder.size() >> (8 * (tl as u32 + 1));
            let tile = Tile::hashes(tl as u8, done - 1, 256);
            let root = complete_root(&hashes);
            self.full.push((tile, hashes));
            self.push_at(tl + 1, root);
        }
    }

    /// Full tiles completed since the last call, with their hashes.
    pub fn take_full_tiles(&mut self) -> Vec<(Tile, Vec<Hash>)> {
        std::mem::take(&mut self.full)
    }

    /// The partial tiles of the current size, with their hashes.
    pub fn partial_tiles(&self) -> Vec<(Tile, Vec<Hash>)> {
        let size = self.builder.size();
        self.pending
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.is_empty())
            .map(|(tl, p)| {
                let index = (size >> (8 * tl as u32)) / TILE_WIDTH;
                (Tile::hashes(tl as u8, index, p.len() as u16), p.clone())
            })
            .collect()
    }

    /// The RFC 9162 root of the leaves seen.
    pub fn root(&self) -> Hash {
        self.builder.root()
    }
}

/// Serialises hashes as tile data.
pub fn tile_data(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

/// The data of the hash tile at tile level `level`, index `index`, `width`
/// hashes wide, read from a log's stored hashes (indexed as
/// [`crate::tree::stored_hash_index`]); the caller checks that the tree is
/// large enough.
///
/// # Errors
/// Whatever the reader reports.
pub fn hash_tile_data(
    level: u8,
    index: u64,
    width: u16,
    stored: &(impl crate::tree::HashReader + ?Sized),
) -> Result<Vec<u8>, Error> {
    let tree_level = (8 * u16::from(level)).min(63) as u8;
    let start = index.saturating_mul(256);
    let idx: Vec<u64> = (start..start.saturating_add(u64::from(width)))
        .map(|n| crate::tree::stored_hash_index(tree_level, n))
        .collect();
    Ok(tile_data(&stored.read_hashes(&idx)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding() {
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(5), "005");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(encode_index(1234067), "x001/x234/067");
        assert_eq!(encode_index(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
        for n in [0, 1, 999, 1000, 1001, 123456789, u64::MAX] {
            let t = Tile::hashes(3, n, 17);
            assert_eq!(Tile::parse_path(&t.path()).unwrap(), t);
        }
    }

    #[test]
    fn rejects_non_canonical_index() {
        let e = Tile::parse_path("tile/0/x000/001").unwrap_err();
        assert!(matches!(
            e,
            Error::TilePath {
                reason: TilePathError::NonCanonical,
                ..
            }
        ));
        let e = Tile::parse_path("tile/00/001").unwrap_err();
        assert!(matches!(
            e,
            Error::TilePath {
                reason: TilePathError::Level,
                ..
            }
        ));
        let e = Tile::parse_path("tile/0/001.p/07").unwrap_err();
        assert!(matches!(
            e,
            Error::TilePath {
                reason: TilePathError::Width,
                ..
            }
        ));
    }
}

#[cfg(test)]
mod sumdb_tests {
    /// Go sumdb's NewTiles counts for height 10 (../shared vectors).
    #[test]
    fn new_tiles_height_10() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/vectors/golang-mod/extracted/sumdb-tlog-vectors.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "missing {}",
                path.display()
            );
            eprintln!("skipping: {} not found", path.display());
            return;
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cases = v["new_tiles_count_height_10"]["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 7);
        for c in cases {
            let (old, new) = (c["old"].as_u64().unwrap(), c["new"].as_u64().unwrap());
            let got = super::tiles_with_height(10, old, new).len() as u64;
            assert_eq!(got, c["want"].as_u64().unwrap(), "{old} -> {new}");
        }
    }
}
