//! The verifiable map: from label to the current (version, entry index, entry hash).
//!
//! A compressed binary prefix tree (a Merkle Patricia trie) over 256-bit
//! labels, bits numbered from the most significant bit of byte 0 (bit 0) to
//! the least significant bit of byte 31 (bit 255).
//!
//! # Definition
//!
//! For a set S of (label, value) pairs with distinct labels, `H(S)` is:
//!
//! * S empty: `SHA-256(0x12)`;
//! * one pair: the leaf hash
//!   `SHA-256(0x10 || label || version (u64 BE) || index (u64 BE) || entry_hash)`;
//! * otherwise, with `d` the first bit position at which the labels of S
//!   differ and `p` the first `d` bits of those labels followed by zero bits
//!   (32 bytes): `SHA-256(0x11 || d (1 byte) || p || H(S₀) || H(S₁))`, where
//!   `S_b` holds the pairs whose label has bit `d` equal to `b`.
//!
//! Every internal node commits to its split position and to the whole prefix
//! above it, and every leaf to its whole label, so no hash can be read as a
//! node at another depth or for another label; the three tags keep leaves,
//! nodes and the empty tree apart.
//!
//! # Proofs
//!
//! Looking a label `L` up walks from the root: at a node of depth `d` and
//! prefix `p`, if the first `d` bits of `L` are not `p` the walk stops (L is
//! absent); otherwise it goes to child `bit(L, d)`. It ends at the *terminal*:
//! the empty tree, a leaf, or a node whose prefix `L` leaves. A proof is the
//! terminal and the sibling hashes on the way up, each with its node's depth:
//!
//! ```text
//! 0x01                                              format
//! terminal: 0x00                                     empty tree
//!         | 0x01 label(32) version(8) index(8) entry_hash(32)   a leaf
//!         | 0x02 depth(1) prefix(32) left(32) right(32)         a node
//! n (1 byte), then n × (depth(1) sibling(32))        from the terminal upward
//! ```
//!
//! Depths strictly decrease upward; a node terminal is deeper than every
//! depth on its path; prefixes have zero bits from their depth on; nothing
//! follows the last sibling. Verification recomputes the root from the
//! terminal (directions and prefixes come from the terminal's key: its label,
//! or its prefix), compares it, and then checks that `L`'s walk really ends at
//! that terminal: `L` agrees with the terminal's key on every bit before each
//! path depth (and on the bit itself). The answer is `Present(value)` for a
//! leaf labelled `L`; `Absent` for the empty tree, a leaf with another label,
//! or a node whose prefix `L` leaves before the node's depth.
//! Proofs hold O(log n) hashes: 33 bytes per level plus the terminal.

use crate::Error;
use crate::error::MapProofError;
use crate::hash::{Hash, sha256, sha256_parts};

/// What the map holds for a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MapValue {
    pub version: u64,
    pub index: u64,
    /// The RFC 9162 leaf hash of the binding entry.
    pub entry_hash: Hash,
}

/// The root of the empty map.
pub fn empty_root() -> Hash {
    sha256(&[0x12])
}

/// Hash of a leaf.
pub fn leaf_hash(label: &Hash, v: &MapValue) -> Hash {
    sha256_parts(&[
        &[0x10],
        &label.0,
        &v.version.to_be_bytes(),
        &v.index.to_be_bytes(),
        &v.entry_hash.0,
    ])
}

/// Hash of an internal node splitting at `depth` under `prefix` (masked).
pub fn node_hash(depth: u8, prefix: &[u8; 32], left: &Hash, right: &Hash) -> Hash {
    sha256_parts(&[&[0x11, depth], prefix, &left.0, &right.0])
}

/// Bit `i` of a key (bit 0 is the most significant bit of byte 0).
pub fn bit(key: &[u8; 32], i: u8) -> bool {
    key[usize::from(i / 8)] & (0x80 >> (i % 8)) != 0
}

/// The first `d` bits of `key`, then zeros.
pub fn prefix(key: &[u8; 32], d: u8) -> [u8; 32] {
    let mut p = [0u8; 32];
    let full = usize::from(d / 8);
    p[..full].copy_from_slice(&key[..full]);
    if !d.is_multiple_of(8) {
        p[full] = key[full] & (0xffu8 << (8 - d % 8));
    }
    p
}

/// The first bit at which two keys differ; `None` when they are equal.
pub fn first_difference(a: &[u8; 32], b: &[u8; 32]) -> Option<u8> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .map(|i| (i * 8) as u8 + (a[i] ^ b[i]).leading_zeros() as u8)
}

/// Where a lookup ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Terminal {
    Empty,
    Leaf {
        label: Hash,
        value: MapValue,
    },
    Node {
        depth: u8,
        prefix: [u8; 32],
        left: Hash,
        right: Hash,
    },
}

/// A lookup proof for one label (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapProof {
    pub terminal: Terminal,
    /// (depth, sibling hash), from the terminal upward.
    pub path: Vec<(u8, Hash)>,
}

/// What a verified proof says about a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapLookup {
    Present(MapValue),
    Absent,
}

fn take<'a>(b: &mut &'a [u8], n: usize, at: usize) -> Result<&'a [u8], Error> {
    if b.len() < n {
        return Err(Error::MapProof(MapProofError::Truncated { offset: at }));
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Ok(h)
}

fn arr32(s: &[u8]) -> [u8; 32] {
    let mut a = [0u8; 32];
    a.copy_from_slice(s);
    a
}

fn u64_be(s: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    u64::from_be_bytes(a)
}

impl MapProof {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(2 + 97 + 33 * self.path.len());
        b.push(0x01);
        match &self.terminal {
            Terminal::Empty => b.push(0x00),
            Terminal::Leaf { label, value } => {
                b.push(0x01);
                b.extend_from_slice(&label.0);
                b.extend_from_slice(&value.version.to_be_bytes());
                b.extend_from_slice(&value.index.to_be_bytes());
                b.extend_from_slice(&value.entry_hash.0);
            }
            Terminal::Node {
                depth,
                prefix,
                left,
                right,
            } => {
                b.push(0x02);
                b.push(*depth);
                b.extend_from_slice(prefix);
                b.extend_from_slice(&left.0);
                b.extend_from_slice(&right.0);
            }
        }
        b.push(self.path.len() as u8);
        for (d, h) in &self.path {
            b.push(*d);
            b.extend_from_slice(&h.0);
        }
        b
    }

    /// Decodes a canonical encoding.
    ///
    /// # Errors
    /// [`Error::MapProof`] with the reason.
    pub fn decode(bytes: &[u8]) -> Result<MapProof, Error> {
        let e = |r| Error::MapProof(r);
        let mut b = bytes;
        let at = |b: &[u8]| bytes.len() - b.len();
        let format = take(&mut b, 1, 0)?[0];
        if format != 0x01 {
            return Err(e(MapProofError::Format(format)));
        }
        let kind = take(&mut b, 1, 1)?[0];
        let terminal = match kind {
            0x00 => Terminal::Empty,
            0x01 => {
                let o = at(b);
                let t = take(&mut b, 80, o)?;
                Terminal::Leaf {
                    label: Hash(arr32(&t[..32])),
                    value: MapValue {
                        version: u64_be(&t[32..40]),
                        index: u64_be(&t[40..48]),
                        entry_hash: Hash(arr32(&t[48..80])),
                    },
                }
            }
            0x02 => {
                let o = at(b);
                let t = take(&mut b, 97, o)?;
                let depth = t[0];
                let p = arr32(&t[1..33]);
                if prefix(&p, depth) != p {
                    return Err(e(MapProofError::PrefixNotMasked));
                }
                Terminal::Node {
                    depth,
                    prefix: p,
                    left: Hash(arr32(&t[33..65])),
                    right: Hash(arr32(&t[65..97])),
                }
            }
            k => return Err(e(MapProofError::TerminalKind(k))),
        };
        let o = at(b);
        let n = take(&mut b, 1, o)?[0];
        let mut path = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let o = at(b);
            let t = take(&mut b, 33, o)?;
            path.push((t[0], Hash(arr32(&t[1..]))));
        }
        if !b.is_empty() {
            return Err(e(MapProofError::TrailingBytes));
        }
        let proof = MapProof { terminal, path };
        proof.check_shape()?;
        Ok(proof)
    }

    /// Depth order and terminal rules that every valid proof obeys.
    fn check_shape(&self) -> Result<(), Error> {
        let e = |r| Error::MapProof(r);
        if matches!(self.terminal, Terminal::Empty) && !self.path.is_empty() {
            return Err(e(MapProofError::EmptyWithPath));
        }
        let mut below = match self.terminal {
            Terminal::Node { depth, .. } => Some(depth),
            _ => None,
        };
        for (d, _) in &self.path {
            if below.is_some_and(|b| *d >= b) {
                return Err(e(MapProofError::DepthOrder));
            }
            below = Some(*d);
        }
        Ok(())
    }

    /// The terminal's key: its label or its prefix.
    fn key(&self) -> Option<[u8; 32]> {
        match &self.terminal {
            Terminal::Empty => None,
            Terminal::Leaf { label, .. } => Some(label.0),
            Terminal::Node { prefix, .. } => Some(*prefix),
        }
    }

    /// The root this proof implies.
    ///
    /// # Errors
    /// [`Error::MapProof`] for a proof of impossible shape.
    pub fn root(&self) -> Result<Hash, Error> {
        self.check_shape()?;
        let mut h = match &self.terminal {
            Terminal::Empty => return Ok(empty_root()),
            Terminal::Leaf { label, value } => leaf_hash(label, value),
            Terminal::Node {
                depth,
                prefix,
                left,
                right,
            } => node_hash(*depth, prefix, left, right),
        };
        let key = self.key().unwrap_or([0; 32]);
        for (d, sib) in &self.path {
            let p = prefix(&key, *d);
            h = if bit(&key, *d) {
                node_hash(*d, &p, sib, &h)
            } else {
                node_hash(*d, &p, &h, sib)
            };
        }
        Ok(h)
    }
}

/// Verifies a lookup proof for `label` against a map `root`.
///
/// # Errors
/// [`Error::MapProof`] (shape), [`Error::MapRootMismatch`],
/// [`Error::MapPathMismatch`] (the label's walk leaves this path),
/// [`Error::MapNotTerminal`] (the label's walk would go on below the node).
pub fn verify_map_proof(label: &Hash, proof: &MapProof, root: &Hash) -> Result<MapLookup, Error> {
    let computed = proof.root()?;
    if computed != *root {
        return Err(Error::MapRootMismatch {
            expected: *root,
            computed,
        });
    }
    let Some(key) = proof.key() else {
        return Ok(MapLookup::Absent);
    };
    // The label's walk follows the path iff it agrees with the terminal's key
    // up to and including every path depth.
    let diff = first_difference(&label.0, &key);
    if let Some(f) = diff
        && proof.path.iter().any(|(d, _)| f <= *d)
    {
        return Err(Error::MapPathMismatch);
    }
    match &proof.terminal {
        Terminal::Leaf { value, .. } if diff.is_none() => Ok(MapLookup::Present(*value)),
        Terminal::Leaf { .. } => Ok(MapLookup::Absent),
        Terminal::Node { depth, .. } => match diff {
            Some(f) if f < *depth => Ok(MapLookup::Absent),
            _ => Err(Error::MapNotTerminal),
        },
        Terminal::Empty => Ok(MapLookup::Absent),
    }
}

/// The root of the map after setting `label` to `value`, from a proof for
/// `label` against the map's `root` before: the proof's path is the only
/// part of the map the update changes. An absent label's leaf is joined to
/// the terminal under a new node at their first differing bit.
///
/// # Errors
/// As [`verify_map_proof`].
pub fn root_after_update(
    label: &Hash,
    proof: &MapProof,
    root: &Hash,
    value: &MapValue,
) -> Result<Hash, Error> {
    verify_map_proof(label, proof, root)?;
    let new_leaf = leaf_hash(label, value);
    let join = |old: Hash, other: &[u8; 32]| -> Result<Hash, Error> {
        // Verification proved the label leaves the terminal's key somewhere.
        let d = first_difference(&label.0, other).ok_or(Error::MapNotTerminal)?;
        let p = prefix(&label.0, d);
        Ok(if bit(&label.0, d) {
            node_hash(d, &p, &old, &new_leaf)
        } else {
            node_hash(d, &p, &new_leaf, &old)
        })
    };
    let mut h = match &proof.terminal {
        Terminal::Empty => return Ok(new_leaf),
        Terminal::Leaf { label: l, .. } if l == label => new_leaf,
        Terminal::Leaf { label: l, value: v } => join(leaf_hash(l, v), &l.0)?,
        Terminal::Node {
            depth,
            prefix: p,
            left,
            right,
        } => join(node_hash(*depth, p, left, right), p)?,
    };
    // The label agrees with the terminal's key at and above every path depth.
    for (d, sib) in &proof.path {
        let p = prefix(&label.0, *d);
        h = if bit(&label.0, *d) {
            node_hash(*d, &p, sib, &h)
        } else {
            node_hash(*d, &p, &h, sib)
        };
    }
    Ok(h)
}

/// An in-memory map: build, update, root, prove. Compact: a leaf is its
/// label and value (80 bytes, its hash computed when needed); an inner node
/// is its cached hash, children, split depth and one leaf below it, from whose
/// label its prefix follows (48 bytes). Hashes are recomputed lazily, so a
/// batch of updates costs one pass over the changed paths.
///
/// Two ways to update it:
///
/// * [`Map::insert`] then [`Map::root`]: in place (replays, bulk builds);
/// * [`Map::prepare`] then [`Map::apply`]: a batch is prepared, hashes and
///   root included, from a shared reference (readers keep reading the map as
///   it was, e.g. under a read lock), and applied later by copying the
///   changed nodes in: a short exclusive step. A prepared batch that is never
///   applied leaves the map untouched.
#[derive(Debug, Clone, Default)]
pub struct Map {
    leaves: Vec<LeafNode>,
    inners: Vec<InnerNode>,
    root: Option<u32>,
    /// Counts changes, so a batch prepared on an older state is refused.
    generation: u64,
}

/// Child references: the high bit marks a leaf.
const LEAF: u32 = 1 << 31;

#[derive(Debug, Clone)]
struct LeafNode {
    label: [u8; 32],
    value: MapValue,
}

#[derive(Debug, Clone)]
struct InnerNode {
    hash: Hash,
    children: [u32; 2],
    /// A leaf below this node; the node's prefix is that leaf's label cut at `depth`.
    key_leaf: u32,
    depth: u8,
    dirty: bool,
}

/// Access to a map's nodes: the map itself, or a copy-on-write overlay on it.
trait Nodes {
    fn leaf(&self, i: u32) -> &LeafNode;
    fn inner(&self, i: u32) -> &InnerNode;
    fn leaf_mut(&mut self, i: u32) -> &mut LeafNode;
    fn inner_mut(&mut self, i: u32) -> &mut InnerNode;
    fn push_leaf(&mut self, l: LeafNode) -> u32;
    fn push_inner(&mut self, n: InnerNode) -> u32;
    fn root_ref(&self) -> Option<u32>;
    fn set_root(&mut self, r: u32);
}

impl Nodes for Map {
    fn leaf(&self, i: u32) -> &LeafNode {
        &self.leaves[i as usize]
    }
    fn inner(&self, i: u32) -> &InnerNode {
        &self.inners[i as usize]
    }
    fn leaf_mut(&mut self, i: u32) -> &mut LeafNode {
        &mut self.leaves[i as usize]
    }
    fn inner_mut(&mut self, i: u32) -> &mut InnerNode {
        &mut self.inners[i as usize]
    }
    fn push_leaf(&mut self, l: LeafNode) -> u32 {
        self.leaves.push(l);
        (self.leaves.len() - 1) as u32
    }
    fn push_inner(&mut self, n: InnerNode) -> u32 {
        self.inners.push(n);
        (self.inners.len() - 1) as u32
    }
    fn root_ref(&self) -> Option<u32> {
        self.root
    }
    fn set_root(&mut self, r: u32) {
        self.root = Some(r);
    }
}

/// A cheap hasher for node indexes (a multiplicative hash: the table uses
/// the high bits), much faster than the default for the many small lookups
/// a prepared batch makes.
#[derive(Debug, Default, Clone, Copy)]
struct IndexHasher(u64);

impl std::hash::Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type IndexMap<V> = std::collections::HashMap<u32, V, std::hash::BuildHasherDefault<IndexHasher>>;

/// The changes a batch makes to a map, prepared from a shared reference.
#[derive(Debug, Clone)]
struct Changes {
    generation: u64,
    base_leaves: usize,
    base_inners: usize,
    new_leaves: Vec<LeafNode>,
    new_inners: Vec<InnerNode>,
    changed_leaves: IndexMap<LeafNode>,
    changed_inners: IndexMap<InnerNode>,
    root: Option<u32>,
}

/// A copy-on-write view: reads fall through to the base map.
struct Overlay<'a> {
    base: &'a Map,
    c: Changes,
}

impl Nodes for Overlay<'_> {
    fn leaf(&self, i: u32) -> &LeafNode {
        if i as usize >= self.c.base_leaves {
            return &self.c.new_leaves[i as usize - self.c.base_leaves];
        }
        self.c
            .changed_leaves
            .get(&i)
            .unwrap_or(&self.base.leaves[i as usize])
    }
    fn inner(&self, i: u32) -> &InnerNode {
        if i as usize >= self.c.base_inners {
            return &self.c.new_inners[i as usize - self.c.base_inners];
        }
        self.c
            .changed_inners
            .get(&i)
            .unwrap_or(&self.base.inners[i as usize])
    }
    fn leaf_mut(&mut self, i: u32) -> &mut LeafNode {
        if i as usize >= self.c.base_leaves {
            return &mut self.c.new_leaves[i as usize - self.c.base_leaves];
        }
        let base = self.base;
        self.c
            .changed_leaves
            .entry(i)
            .or_insert_with(|| base.leaves[i as usize].clone())
    }
    fn inner_mut(&mut self, i: u32) -> &mut InnerNode {
        if i as usize >= self.c.base_inners {
            return &mut self.c.new_inners[i as usize - self.c.base_inners];
        }
        let base = self.base;
        self.c
            .changed_inners
            .entry(i)
            .or_insert_with(|| base.inners[i as usize].clone())
    }
    fn push_leaf(&mut self, l: LeafNode) -> u32 {
        self.c.new_leaves.push(l);
        (self.c.base_leaves + self.c.new_leaves.len() - 1) as u32
    }
    fn push_inner(&mut self, n: InnerNode) -> u32 {
        self.c.new_inners.push(n);
        (self.c.base_inners + self.c.new_inners.len() - 1) as u32
    }
    fn root_ref(&self) -> Option<u32> {
        self.c.root
    }
    fn set_root(&mut self, r: u32) {
        self.c.root = Some(r);
    }
}

/// The node's key: a leaf's label, an inner node's prefix.
fn key_of(n: &impl Nodes, r: u32) -> [u8; 32] {
    if r & LEAF != 0 {
        n.leaf(r & !LEAF).label
    } else {
        let i = n.inner(r);
        prefix(&n.leaf(i.key_leaf).label, i.depth)
    }
}

/// A node's hash; inner hashes must be current.
fn hash_of(n: &impl Nodes, r: u32) -> Hash {
    if r & LEAF != 0 {
        let l = n.leaf(r & !LEAF);
        leaf_hash(&Hash(l.label), &l.value)
    } else {
        n.inner(r).hash
    }
}

/// Sets the value of `label`; returns the previous one.
fn insert(n: &mut impl Nodes, label: Hash, value: MapValue) -> Option<MapValue> {
    let leaf = LeafNode {
        label: label.0,
        value,
    };
    let Some(mut cur) = n.root_ref() else {
        let l = n.push_leaf(leaf);
        n.set_root(l | LEAF);
        return None;
    };
    let mut path: Vec<(u32, usize)> = Vec::new();
    let split_at = loop {
        if cur & LEAF != 0 {
            let idx = cur & !LEAF;
            match first_difference(&label.0, &n.leaf(idx).label) {
                None => {
                    let old = std::mem::replace(&mut n.leaf_mut(idx).value, value);
                    dirty(n, &path);
                    return Some(old);
                }
                Some(f) => break f,
            }
        }
        let depth = n.inner(cur).depth;
        match first_difference(&label.0, &key_of(n, cur)) {
            Some(f) if f < depth => break f,
            _ => {
                let side = usize::from(bit(&label.0, depth));
                path.push((cur, side));
                cur = n.inner(cur).children[side];
            }
        }
    };
    let leaf = n.push_leaf(leaf);
    let children = if bit(&label.0, split_at) {
        [cur, leaf | LEAF]
    } else {
        [leaf | LEAF, cur]
    };
    let node = n.push_inner(InnerNode {
        hash: Hash::default(),
        children,
        key_leaf: leaf,
        depth: split_at,
        dirty: true,
    });
    match path.last() {
        None => n.set_root(node),
        Some(&(parent, side)) => n.inner_mut(parent).children[side] = node,
    }
    dirty(n, &path);
    None
}

fn dirty(n: &mut impl Nodes, path: &[(u32, usize)]) {
    for &(r, _) in path {
        n.inner_mut(r).dirty = true;
    }
}

/// Recomputes every stale inner hash under `r` (iteratively: no recursion depth).
fn rehash(n: &mut impl Nodes, r: u32) {
    if r & LEAF != 0 || !n.inner(r).dirty {
        return;
    }
    let mut stack = vec![(r, false)];
    while let Some((i, expanded)) = stack.pop() {
        let node = n.inner(i);
        if !expanded {
            stack.push((i, true));
            for c in node.children {
                if c & LEAF == 0 && n.inner(c).dirty {
                    stack.push((c, false));
                }
            }
            continue;
        }
        let (depth, [c0, c1]) = (node.depth, node.children);
        let key = key_of(n, i);
        let h = node_hash(depth, &key, &hash_of(n, c0), &hash_of(n, c1));
        let node = n.inner_mut(i);
        node.hash = h;
        node.dirty = false;
    }
}

/// The map's root; inner hashes must be current.
fn root_of(n: &impl Nodes) -> Hash {
    n.root_ref().map_or_else(empty_root, |r| hash_of(n, r))
}

/// The lookup proof for `label`; inner hashes must be current.
fn prove_in(n: &impl Nodes, label: &Hash) -> MapProof {
    let Some(root) = n.root_ref() else {
        return MapProof {
            terminal: Terminal::Empty,
            path: Vec::new(),
        };
    };
    let mut cur = root;
    let mut path = Vec::new();
    let terminal = loop {
        if cur & LEAF != 0 {
            let l = n.leaf(cur & !LEAF);
            break Terminal::Leaf {
                label: Hash(l.label),
                value: l.value,
            };
        }
        let (depth, children) = (n.inner(cur).depth, n.inner(cur).children);
        let key = key_of(n, cur);
        if first_difference(&label.0, &key).is_some_and(|f| f < depth) {
            break Terminal::Node {
                depth,
                prefix: key,
                left: hash_of(n, children[0]),
                right: hash_of(n, children[1]),
            };
        }
        let side = usize::from(bit(&label.0, depth));
        path.push((depth, hash_of(n, children[1 - side])));
        cur = children[side];
    };
    path.reverse();
    MapProof { terminal, path }
}

/// A batch of updates prepared by [`Map::prepare`], with the root the map
/// will have once it is [applied](Map::apply).
#[derive(Debug, Clone)]
pub struct PreparedBatch {
    changes: Changes,
    root: Hash,
}

impl PreparedBatch {
    /// The map's root after the batch.
    pub fn root(&self) -> Hash {
        self.root
    }
}

/// [`Map::apply`] was given a batch prepared on another state of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the batch was prepared on another state of the map")]
pub struct StaleBatch;

impl Map {
    /// An empty map.
    pub fn new() -> Map {
        Map::default()
    }

    /// Every (label, value) in the map, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (Hash, MapValue)> + '_ {
        self.leaves.iter().map(|l| (Hash(l.label), l.value))
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Frees spare capacity (after a bulk build).
    pub fn shrink_to_fit(&mut self) {
        self.leaves.shrink_to_fit();
        self.inners.shrink_to_fit();
    }

    /// Sets the value of `label`; returns the previous one.
    pub fn insert(&mut self, label: Hash, value: MapValue) -> Option<MapValue> {
        self.generation += 1;
        insert(self, label, value)
    }

    /// The map's root.
    pub fn root(&mut self) -> Hash {
        if let Some(r) = self.root {
            rehash(self, r);
        }
        root_of(self)
    }

    /// Whether every inner hash is current (no [`Map::insert`] since the last [`Map::root`]).
    pub fn is_clean(&self) -> bool {
        self.root
            .is_none_or(|r| r & LEAF != 0 || !self.inners[r as usize].dirty)
    }

    /// The root of a clean map (see [`Map::is_clean`]); `None` otherwise.
    pub fn current_root(&self) -> Option<Hash> {
        self.is_clean().then(|| root_of(self))
    }

    /// The current value of `label`.
    pub fn get(&self, label: &Hash) -> Option<MapValue> {
        let mut cur = self.root?;
        loop {
            if cur & LEAF != 0 {
                let l = &self.leaves[(cur & !LEAF) as usize];
                return (l.label == label.0).then_some(l.value);
            }
            let depth = self.inners[cur as usize].depth;
            if first_difference(&label.0, &key_of(self, cur)).is_some_and(|f| f < depth) {
                return None;
            }
            cur = self.inners[cur as usize].children[usize::from(bit(&label.0, depth))];
        }
    }

    /// The lookup proof for `label` (membership or absence).
    pub fn prove(&mut self, label: &Hash) -> MapProof {
        if let Some(r) = self.root {
            rehash(self, r);
        }
        prove_in(self, label)
    }

    /// The lookup proof for `label` from a clean map (see [`Map::is_clean`]),
    /// through a shared reference; `None` if the map has pending hashes.
    pub fn proof(&self, label: &Hash) -> Option<MapProof> {
        self.is_clean().then(|| prove_in(self, label))
    }

    /// Prepares a batch of updates (in order; a later update of a label wins)
    /// without changing the map: the changed nodes are copied aside and
    /// rehashed there. The map must be clean.
    pub fn prepare(&self, updates: &[(Hash, MapValue)]) -> PreparedBatch {
        let mut o = Overlay {
            base: self,
            c: Changes {
                generation: self.generation,
                base_leaves: self.leaves.len(),
                base_inners: self.inners.len(),
                new_leaves: Vec::new(),
                new_inners: Vec::new(),
                changed_leaves: IndexMap::default(),
                changed_inners: IndexMap::default(),
                root: self.root,
            },
        };
        for (label, value) in updates {
            insert(&mut o, *label, *value);
        }
        if let Some(r) = o.c.root {
            rehash(&mut o, r);
        }
        let root = root_of(&o);
        PreparedBatch { changes: o.c, root }
    }

    /// Applies a prepared batch: copies its nodes in. Cheap next to
    /// preparing it; the map is clean afterwards.
    ///
    /// # Errors
    /// [`StaleBatch`] if the map changed since the batch was prepared
    /// (nothing is applied then).
    pub fn apply(&mut self, batch: PreparedBatch) -> Result<(), StaleBatch> {
        let c = batch.changes;
        if c.generation != self.generation {
            return Err(StaleBatch);
        }
        self.generation += 1;
        for (i, l) in c.changed_leaves {
            self.leaves[i as usize] = l;
        }
        for (i, n) in c.changed_inners {
            self.inners[i as usize] = n;
        }
        self.leaves.extend(c.new_leaves);
        self.inners.extend(c.new_inners);
        self.root = c.root;
        Ok(())
    }
}

/// Recomputes the map from a log's entries alone, in order, checking the
/// log's rules on them: each label's versions go 1, 2, 3, …; a key holder's
/// binding is signed by a device of the label's previous key set; and each
/// map-root entry holds the root of the map of every binding before it.
///
/// It keeps each label's current Ed25519 keys (for the next signature
/// check) beside the map, about 100 bytes per label with one device, and
/// the entries since the last map-root entry, from which
/// [`Replay::map_root_evidence`] proves a contradicted map root to anyone.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// The map of every binding before the last map-root entry.
    map: Map,
    /// The bindings since, in order, not yet in `map`.
    pending: Vec<(Hash, MapValue)>,
    /// After a contradicted map root: each label's value before that batch
    /// (`None`: absent), to rebuild the map the evidence starts from.
    before: std::collections::HashMap<Hash, Option<MapValue>>,
    /// Their labels' versions (over `map`'s).
    versions: std::collections::HashMap<Hash, u64>,
    keys: std::collections::HashMap<Hash, Box<[[u8; 32]]>>,
    /// The entries from the last map-root entry (or from index 0) on.
    batch: Vec<Vec<u8>>,
    batch_start: u64,
    /// Set once a map-root entry was found contradicted: nothing more is
    /// replayed, and every later push returns this error.
    contradicted: Option<Error>,
    size: u64,
    last_is_map_root: bool,
    bindings: u64,
    map_roots: u64,
    operator: u64,
}

impl Replay {
    /// Before the first entry.
    pub fn new() -> Replay {
        Replay::default()
    }

    /// Entries replayed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// How many binding entries were replayed.
    pub fn bindings(&self) -> u64 {
        self.bindings
    }

    /// How many map-root entries were replayed (each checked).
    pub fn map_roots(&self) -> u64 {
        self.map_roots
    }

    /// How many bindings the operator made (recoveries), which only the
    /// operator's word authorises.
    pub fn operator_bindings(&self) -> u64 {
        self.operator
    }

    fn version(&self, label: &Hash) -> u64 {
        self.versions
            .get(label)
            .copied()
            .or_else(|| self.map.get(label).map(|v| v.version))
            .unwrap_or(0)
    }

    /// Replays the next entry (the one at index [`Replay::size`]).
    ///
    /// # Errors
    /// [`Error::Entry`] or [`Error::KeySet`] for an entry that does not
    /// decode (read as [`crate::binding::BindingRecord::read`]: key points
    /// are not checked); [`Error::ReplayVersion`] for a version that is not the
    /// label's next; [`Error::ReplayAuthority`] for a key holder's binding
    /// that no device of the previous key set signed;
    /// [`Error::ReplayMapRoot`] for a map-root entry that is not the map of
    /// the bindings before it (after which every push fails so). The entry
    /// is not applied after an error.
    pub fn push(&mut self, entry: &[u8]) -> Result<(), Error> {
        use crate::binding::Authority;
        let index = self.size;
        if let Some(e) = &self.contradicted {
            return Err(e.clone());
        }
        if entry.first() == Some(&crate::binding::MAP_ROOT_TYPE) {
            let m = crate::binding::MapRootEntry::decode(entry)?;
            // Applied in place (the fast path); what it replaced is
            // remembered only until the root is known to match.
            let mut before = std::collections::HashMap::new();
            for (label, value) in &self.pending {
                let prev = self.map.insert(*label, *value);
                before.entry(*label).or_insert(prev);
            }
            let computed = self.map.root();
            if computed != m.root {
                // Kept, with what the map was, for the evidence.
                self.batch.push(entry.to_vec());
                self.before = before;
                let e = Error::ReplayMapRoot {
                    index,
                    signed: m.root,
                    computed,
                };
                self.contradicted = Some(e.clone());
                return Err(e);
            }
            self.pending.clear();
            self.versions.clear();
            self.batch.clear();
            self.batch.push(entry.to_vec());
            self.batch_start = index;
            self.last_is_map_root = true;
            self.map_roots += 1;
        } else {
            let e = crate::binding::BindingRecord::read(entry)?;
            let expected = self.version(&e.label) + 1;
            if e.version != expected {
                return Err(Error::ReplayVersion {
                    index,
                    expected,
                    actual: e.version,
                });
            }
            let previous = self.keys.get(&e.label).map_or(&[][..], |k| &k[..]);
            e.check_authorization_keys(previous)
                .map_err(|err| match err {
                    Error::Authority(reason) => Error::ReplayAuthority { index, reason },
                    other => other,
                })?;
            if e.authority() == Authority::Operator {
                self.operator += 1;
            }
            self.pending.push((
                e.label,
                MapValue {
                    version: e.version,
                    index,
                    entry_hash: crate::hash::leaf_hash(entry),
                },
            ));
            self.versions.insert(e.label, e.version);
            self.keys.insert(e.label, e.signing_keys.into_boxed_slice());
            self.batch.push(entry.to_vec());
            self.last_is_map_root = false;
            self.bindings += 1;
        }
        self.size += 1;
        Ok(())
    }

    /// Checks that the entries replayed so far form a tree a checkpoint may
    /// sign: it ends with a map-root entry.
    ///
    /// # Errors
    /// [`Error::NoMapRoot`].
    pub fn check_end(&self) -> Result<(), Error> {
        if self.size == 0 || !self.last_is_map_root {
            return Err(Error::NoMapRoot {
                index: self.size.saturating_sub(1),
            });
        }
        Ok(())
    }

    /// The map root of every binding replayed so far.
    pub fn root(&mut self) -> Hash {
        self.flush();
        self.map.root()
    }

    fn flush(&mut self) {
        for (label, value) in self.pending.drain(..) {
            self.map.insert(label, value);
        }
        self.versions.clear();
    }

    /// The map of every binding replayed so far.
    pub fn into_map(mut self) -> Map {
        self.flush();
        self.map
    }

    /// After [`Error::ReplayMapRoot`]: evidence of it
    /// ([`crate::evidence`], kind `map-root`) against `checkpoint`, a
    /// checkpoint whose tree holds the contradicted entry, with the tree's
    /// hashes from `tree` (e.g. its tiles).
    ///
    /// # Errors
    /// [`crate::evidence::EvidenceError::NotAFork`] when no map-root entry
    /// was contradicted; reader errors; the tree is too small.
    pub fn map_root_evidence(
        &self,
        checkpoint: &crate::checkpoint::VerifiedCheckpoint,
        tree: &(impl crate::tree::HashReader + ?Sized),
    ) -> Result<crate::evidence::Evidence, Error> {
        if self.contradicted.is_none() {
            return Err(Error::Evidence(crate::evidence::EvidenceError::NotAFork));
        }
        // The map before the contradicted batch: the current one with the
        // batch's labels put back as they were.
        let mut map = Map::new();
        for (label, value) in self.map.entries() {
            match self.before.get(&label) {
                Some(Some(prev)) => {
                    map.insert(label, *prev);
                }
                Some(None) => {}
                None => {
                    map.insert(label, value);
                }
            }
        }
        let mut map_proofs = Vec::with_capacity(self.pending.len());
        for (label, value) in &self.pending {
            map_proofs.push(map.prove(label));
            map.insert(*label, *value);
        }
        let indexes: Vec<u64> =
            (self.batch_start..self.batch_start + self.batch.len() as u64).collect();
        let inclusion = crate::tree::prove_inclusion_many(&indexes, checkpoint.size(), tree)?;
        let e = crate::evidence::Evidence::map_root(
            checkpoint,
            self.batch_start,
            self.batch.clone(),
            inclusion,
            map_proofs,
        );
        e.verify_map_root(checkpoint)?;
        Ok(e)
    }
}
