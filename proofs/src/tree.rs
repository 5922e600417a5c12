//! RFC 9162 Merkle trees over stored hashes.
//!
//! # Stored-hash layout
//!
//! A log stores every complete subtree hash once, in the order the hashes
//! become known while leaves are appended (the layout of Go's sumdb/tlog):
//! after leaf `m` come the hashes of every subtree that leaf completes, lowest
//! first. The node at `level` L, position `n` (covering leaves
//! `n·2^L .. (n+1)·2^L`) therefore sits at index
//! `stored_hash_index(L, n) = S((n+1)·2^L − 1) + L`, where `S(m) = 2m −
//! popcount(m)` is the number of hashes stored before leaf `m`. A tree of
//! size `N` has `S(N)` stored hashes in all.
//!
//! Tree math reads hashes through [`HashReader`] only, so the same code
//! proves over sqlite, fetched tiles, or a `Vec<Hash>` in a test.
//!
//! # Proofs
//!
//! Inclusion and consistency proofs are RFC 9162 §2.1.3 and §2.1.4 proofs:
//! lists of hashes from the leaf level up. Verification follows §2.1.3.2 and
//! §2.1.4.2, after checking that the proof has exactly the length its index
//! and sizes imply. Consistency proofs are defined for `0 < size1 <= size2`;
//! a proof from size 0 is rejected with [`Error::ConsistencyFromEmptyTree`]
//! (every tree is trivially consistent with the empty tree; a caller that
//! wants that must say so itself).

use crate::Error;
use crate::hash::{Hash, empty_root, node_hash};

/// Largest tree size handled. Stored-hash indexes stay far from overflow.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Reads stored hashes by stored-hash index (see the module docs).
pub trait HashReader {
    /// Returns the hashes at `indexes`, in the same order.
    ///
    /// # Errors
    /// Whatever the storage reports; [`Error::MissingHash`] for an absent index.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error>;
}

impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|u| self.get(u))
                    .copied()
                    .ok_or(Error::MissingHash { index: i })
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        self.as_slice().read_hashes(indexes)
    }
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        (**self).read_hashes(indexes)
    }
}

/// Number of hashes stored for a tree of `size` leaves: `2·size − popcount(size)`.
pub fn stored_hash_count(size: u64) -> u64 {
    2 * size - u64::from(size.count_ones())
}

/// Stored-hash index of the node at `level`, position `n`.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    let last_leaf = ((n + 1) << level) - 1;
    stored_hash_count(last_leaf) + u64::from(level)
}

/// Inverse of [`stored_hash_index`]: the `(level, n)` stored at `index`.
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // Find the leaf m with S(m) <= index < S(m+1); S(m) is within 64 of 2m.
    let mut m = index / 2;
    while stored_hash_count(m + 1) <= index {
        m += 1;
    }
    while stored_hash_count(m) > index {
        m -= 1;
    }
    let level = index - stored_hash_count(m);
    // level <= trailing ones of m < 64
    let level = level as u8;
    (level, ((m + 1) >> level) - 1)
}

fn check_size(size: u64) -> Result<(), Error> {
    if size > MAX_TREE_SIZE {
        return Err(Error::SizeTooLarge { size });
    }
    Ok(())
}

fn read_exact<R: HashReader + ?Sized>(r: &R, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
    let hashes = r.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(Error::HashReaderCount {
            requested: indexes.len(),
            actual: hashes.len(),
        });
    }
    Ok(hashes)
}

/// The hashes to store when appending leaf number `n` (whose leaf hash is
/// `leaf`) to a tree of size `n`: the leaf hash, then every subtree hash the
/// leaf completes, lowest first. `reader` must hold the tree of size `n`.
///
/// # Errors
/// Errors of `reader`; [`Error::SizeTooLarge`].
pub fn stored_hashes_for_leaf<R: HashReader + ?Sized>(
    n: u64,
    leaf: Hash,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    check_size(n + 1)?;
    let parents = n.trailing_ones();
    let indexes: Vec<u64> = (0..parents)
        .map(|l| stored_hash_index(l as u8, (n >> l) - 1))
        .collect();
    let lefts = read_exact(reader, &indexes)?;
    let mut out = Vec::with_capacity(lefts.len() + 1);
    let mut h = leaf;
    out.push(h);
    for left in &lefts {
        h = node_hash(left, &h);
        out.push(h);
    }
    Ok(out)
}

/// Appends to `out` the maximal complete subtrees covering leaves `lo..hi`,
/// left to right, as `(level, n)`.
fn subtrees(mut lo: u64, hi: u64, out: &mut Vec<(u8, u64)>) {
    while lo < hi {
        let align = if lo == 0 { 63 } else { lo.trailing_zeros() };
        let fit = 63 - (hi - lo).leading_zeros();
        let k = align.min(fit) as u8;
        out.push((k, lo >> k));
        lo += 1 << k;
    }
}

/// Hash of a range from its complete subtrees, folded from the right.
fn fold_right(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)))
}

/// Reads the hash of each range in `ranges` (each a RFC 9162 subtree range)
/// with one call to the reader.
fn range_hashes<R: HashReader + ?Sized>(
    ranges: &[(u64, u64)],
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    let mut parts = Vec::new();
    let mut bounds = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let start = parts.len();
        subtrees(lo, hi, &mut parts);
        bounds.push(start..parts.len());
    }
    let indexes: Vec<u64> = parts
        .iter()
        .map(|&(l, n)| stored_hash_index(l, n))
        .collect();
    let hashes = read_exact(reader, &indexes)?;
    Ok(bounds
        .into_iter()
        .filter_map(|b| fold_right(&hashes[b]))
        .collect())
}

/// The RFC 9162 root of the first `size` leaves.
///
/// # Errors
/// Errors of `reader`; [`Error::SizeTooLarge`].
pub fn tree_hash<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Hash, Error> {
    check_size(size)?;
    if size == 0 {
        return Ok(empty_root());
    }
    Ok(range_hashes(&[(0, size)], reader)?
        .pop()
        .unwrap_or_else(empty_root))
}

/// RFC 9162 PATH: the ranges whose hashes form the inclusion proof of leaf
/// `m` within leaves `lo..hi`, bottom-up.
fn inclusion_ranges(m: u64, lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
    if hi - lo <= 1 {
        return;
    }
    let k = largest_power_of_two_below(hi - lo);
    if m < lo + k {
        inclusion_ranges(m, lo, lo + k, out);
        out.push((lo + k, hi));
    } else {
        inclusion_ranges(m, lo + k, hi, out);
        out.push((lo, lo + k));
    }
}

/// RFC 9162 SUBPROOF for old size `m` within leaves `lo..hi`, bottom-up.
fn consistency_ranges(m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<(u64, u64)>) {
    let n = hi - lo;
    if m == n {
        if !complete {
            out.push((lo, hi));
        }
        return;
    }
    let k = largest_power_of_two_below(n);
    if m <= k {
        consistency_ranges(m, lo, lo + k, complete, out);
        out.push((lo + k, hi));
    } else {
        consistency_ranges(m - k, lo + k, hi, false, out);
        out.push((lo, lo + k));
    }
}

/// Largest power of two strictly less than `n` (n >= 2).
fn largest_power_of_two_below(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The RFC 9162 inclusion proof for leaf `index` in the tree of `size`.
///
/// # Errors
/// [`Error::IndexOutOfRange`], [`Error::SizeTooLarge`], errors of `reader`.
pub fn prove_inclusion<R: HashReader + ?Sized>(
    index: u64,
    size: u64,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    check_size(size)?;
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let mut ranges = Vec::new();
    inclusion_ranges(index, 0, size, &mut ranges);
    range_hashes(&ranges, reader)
}

/// The RFC 9162 consistency proof from `size1` to `size2`.
///
/// # Errors
/// [`Error::SizeOrder`], [`Error::ConsistencyFromEmptyTree`],
/// [`Error::SizeTooLarge`], errors of `reader`.
pub fn prove_consistency<R: HashReader + ?Sized>(
    size1: u64,
    size2: u64,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    check_size(size2)?;
    if size1 > size2 {
        return Err(Error::SizeOrder { size1, size2 });
    }
    if size1 == 0 {
        return Err(Error::ConsistencyFromEmptyTree);
    }
    let mut ranges = Vec::new();
    consistency_ranges(size1, 0, size2, true, &mut ranges);
    range_hashes(&ranges, reader)
}

/// Length of the inclusion proof of `index` in a tree of `size` (index < size).
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = (index >> inner).count_ones();
    (inner + border) as usize
}

/// Length of the consistency proof from `size1` to `size2` (0 < size1 < size2).
pub fn consistency_proof_len(size1: u64, size2: u64) -> usize {
    let shift = size1.trailing_zeros();
    let inner_full = 64 - ((size1 - 1) ^ (size2 - 1)).leading_zeros();
    let border = ((size1 - 1) >> inner_full).count_ones();
    let seed = usize::from(!size1.is_power_of_two());
    seed + (inner_full - shift + border) as usize
}

/// The root implied by an inclusion proof (RFC 9162 §2.1.3.2).
///
/// # Errors
/// [`Error::IndexOutOfRange`], [`Error::ProofLength`].
pub fn root_from_inclusion_proof(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(Error::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    Ok(r)
}

/// Verifies that `leaf` is at `index` in the tree of `size` with `root`.
///
/// # Errors
/// [`Error::IndexOutOfRange`], [`Error::ProofLength`], [`Error::RootMismatch`].
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    let computed = root_from_inclusion_proof(leaf, index, size, proof)?;
    if computed != *root {
        return Err(Error::RootMismatch {
            expected: *root,
            computed,
        });
    }
    Ok(())
}

/// The ranges whose hashes form the inclusion proof of several leaves
/// (`leaves`: strictly increasing, within `lo..hi`, not empty): the
/// maximal subtrees that hold none of them. At each node the side that
/// holds leaves comes first, then the other side's hash; when both hold
/// leaves, left then right. For one leaf this is RFC 9162 PATH.
fn multi_ranges(leaves: &[u64], lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
    if hi - lo <= 1 {
        return;
    }
    let mid = lo + largest_power_of_two_below(hi - lo);
    let split = leaves.partition_point(|&i| i < mid);
    match leaves.split_at(split) {
        (l, []) => {
            multi_ranges(l, lo, mid, out);
            out.push((mid, hi));
        }
        ([], r) => {
            multi_ranges(r, mid, hi, out);
            out.push((lo, mid));
        }
        (l, r) => {
            multi_ranges(l, lo, mid, out);
            multi_ranges(r, mid, hi, out);
        }
    }
}

fn check_leaf_indexes(indexes: impl Iterator<Item = u64>, size: u64) -> Result<(), Error> {
    let mut prev = None;
    let mut any = false;
    for i in indexes {
        any = true;
        if i >= size {
            return Err(Error::IndexOutOfRange { index: i, size });
        }
        if prev.is_some_and(|p| p >= i) {
            return Err(Error::LeafOrder);
        }
        prev = Some(i);
    }
    if !any {
        return Err(Error::LeafOrder);
    }
    Ok(())
}

/// The inclusion proof of several leaves at once (`indexes` strictly
/// increasing, at least one): the hashes of the largest subtrees that hold
/// none of them, in the order [`verify_inclusion_many`] reads them (depth
/// first; at each node the side holding leaves first, then the other
/// side's hash; left before right when both sides hold leaves). No hash is
/// sent that the leaves imply. For one leaf it is exactly the RFC 9162
/// inclusion proof.
///
/// # Errors
/// [`Error::IndexOutOfRange`], [`Error::LeafOrder`], [`Error::SizeTooLarge`],
/// errors of `reader`.
pub fn prove_inclusion_many<R: HashReader + ?Sized>(
    indexes: &[u64],
    size: u64,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    check_size(size)?;
    check_leaf_indexes(indexes.iter().copied(), size)?;
    let mut ranges = Vec::new();
    multi_ranges(indexes, 0, size, &mut ranges);
    range_hashes(&ranges, reader)
}

/// The number of hashes in [`prove_inclusion_many`]'s proof (indexes as there).
pub fn inclusion_many_proof_len(indexes: &[u64], size: u64) -> usize {
    let mut ranges = Vec::new();
    if !indexes.is_empty() && size > 0 {
        multi_ranges(indexes, 0, size, &mut ranges);
    }
    ranges.len()
}

fn root_many(
    leaves: &[(u64, Hash)],
    lo: u64,
    hi: u64,
    proof: &mut std::slice::Iter<'_, Hash>,
) -> Result<Hash, Error> {
    let short = Error::ProofLength {
        expected: 0,
        actual: 0,
    };
    if hi - lo <= 1 {
        return leaves.first().map(|(_, h)| *h).ok_or(short);
    }
    let mid = lo + largest_power_of_two_below(hi - lo);
    let split = leaves.partition_point(|(i, _)| *i < mid);
    let (l, r) = leaves.split_at(split);
    let (left, right) = match (l.is_empty(), r.is_empty()) {
        (false, true) => {
            let left = root_many(l, lo, mid, proof)?;
            (left, *proof.next().ok_or(short)?)
        }
        (true, false) => {
            let right = root_many(r, mid, hi, proof)?;
            (*proof.next().ok_or(short)?, right)
        }
        _ => (root_many(l, lo, mid, proof)?, root_many(r, mid, hi, proof)?),
    };
    Ok(node_hash(&left, &right))
}

/// Verifies that each `(index, leaf hash)` of `leaves` (indexes strictly
/// increasing, at least one) is in the tree of `size` with `root`, by a
/// proof from [`prove_inclusion_many`].
///
/// # Errors
/// [`Error::IndexOutOfRange`], [`Error::LeafOrder`], [`Error::ProofLength`],
/// [`Error::RootMismatch`].
pub fn verify_inclusion_many(
    leaves: &[(u64, Hash)],
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    check_leaf_indexes(leaves.iter().map(|(i, _)| *i), size)?;
    let indexes: Vec<u64> = leaves.iter().map(|(i, _)| *i).collect();
    let expected = inclusion_many_proof_len(&indexes, size);
    if proof.len() != expected {
        return Err(Error::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    let computed = root_many(leaves, 0, size, &mut proof.iter())?;
    if computed != *root {
        return Err(Error::RootMismatch {
            expected: *root,
            computed,
        });
    }
    Ok(())
}

/// Verifies that the tree of `size2` with `root2` extends the tree of
/// `size1` with `root1` (RFC 9162 §2.1.4.2).
///
/// # Errors
/// [`Error::SizeOrder`], [`Error::ConsistencyFromEmptyTree`],
/// [`Error::ProofLength`], [`Error::OldRootMismatch`], [`Error::RootMismatch`].
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), Error> {
    if size1 > size2 {
        return Err(Error::SizeOrder { size1, size2 });
    }
    if size1 == 0 {
        return Err(Error::ConsistencyFromEmptyTree);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(Error::ProofLength {
                expected: 0,
                actual: proof.len(),
            });
        }
        if root1 != root2 {
            return Err(Error::RootMismatch {
                expected: *root2,
                computed: *root1,
            });
        }
        return Ok(());
    }
    let expected = consistency_proof_len(size1, size2);
    if proof.len() != expected {
        return Err(Error::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    // With size1 a power of two, the proof omits the old root: it is the seed.
    let (seed, rest) = if size1.is_power_of_two() {
        (*root1, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let (fr, sr) = consistency_roots(size1, size2, &seed, rest)?;
    if fr != *root1 {
        return Err(Error::OldRootMismatch {
            expected: *root1,
            computed: fr,
        });
    }
    if sr != *root2 {
        return Err(Error::RootMismatch {
            expected: *root2,
            computed: sr,
        });
    }
    Ok(())
}

/// The roots of the trees of `size1` and `size2` (0 < size1 < size2) that a
/// consistency proof implies, from its seed (the larger tree's node the
/// proof starts at: the old root itself when `size1` is a power of two,
/// otherwise the proof's first hash) and the rest of the proof. RFC 9162
/// §2.1.4.2 compares these with the two signed roots; evidence of a fork
/// ([`crate::evidence`]) shows hashes for which the larger one matches and
/// the smaller one does not.
///
/// # Errors
/// [`Error::SizeOrder`], [`Error::ConsistencyFromEmptyTree`],
/// [`Error::ProofLength`].
pub fn consistency_roots(
    size1: u64,
    size2: u64,
    seed: &Hash,
    rest: &[Hash],
) -> Result<(Hash, Hash), Error> {
    if size1 >= size2 {
        return Err(Error::SizeOrder { size1, size2 });
    }
    if size1 == 0 {
        return Err(Error::ConsistencyFromEmptyTree);
    }
    let expected = consistency_proof_len(size1, size2) - usize::from(!size1.is_power_of_two());
    if rest.len() != expected {
        return Err(Error::ProofLength {
            expected,
            actual: rest.len(),
        });
    }
    let (mut fnode, mut snode) = (size1 - 1, size2 - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for c in rest {
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    Ok((fr, sr))
}

/// Stored-hash indexes of the complete subtrees of a tree of `size` leaves,
/// largest first: what [`TreeBuilder::from_subtree_roots`] needs.
pub fn subtree_root_indexes(size: u64) -> Vec<u64> {
    let mut parts = Vec::new();
    subtrees(0, size, &mut parts);
    parts
        .into_iter()
        .map(|(l, n)| stored_hash_index(l, n))
        .collect()
}

/// Computes a tree's root (and, on request, every stored hash) from leaf
/// hashes appended in order, holding only O(log n) state.
#[derive(Debug, Clone, Default)]
pub struct TreeBuilder {
    size: u64,
    /// Roots of the complete subtrees of the current tree, largest first.
    stack: Vec<Hash>,
}

impl TreeBuilder {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resumes a tree of `size` leaves from the roots of its complete
    /// subtrees, largest first (the hashes at stored indexes given by
    /// [`subtree_root_indexes`]).
    ///
    /// # Errors
    /// [`Error::HashReaderCount`] unless there is one root per set bit of `size`.
    pub fn from_subtree_roots(size: u64, roots: Vec<Hash>) -> Result<Self, Error> {
        if roots.len() != size.count_ones() as usize {
            return Err(Error::HashReaderCount {
                requested: size.count_ones() as usize,
                actual: roots.len(),
            });
        }
        Ok(TreeBuilder { size, stack: roots })
    }

    /// Number of leaves appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut n = self.size;
        while n & 1 == 1 {
            // The stack's top is the left sibling; invariant: one stack entry per set bit of size.
            let left = self.stack.pop().unwrap_or_default();
            h = node_hash(&left, &h);
            n >>= 1;
        }
        self.stack.push(h);
        self.size += 1;
    }

    /// Appends a leaf hash and returns every hash it adds to the stored-hash
    /// layout (the leaf, then the subtrees it completes, lowest first).
    pub fn push_stored(&mut self, leaf: Hash) -> Vec<Hash> {
        let mut out = vec![leaf];
        let mut h = leaf;
        let mut n = self.size;
        while n & 1 == 1 {
            let left = self.stack.pop().unwrap_or_default();
            h = node_hash(&left, &h);
            out.push(h);
            n >>= 1;
        }
        self.stack.push(h);
        self.size += 1;
        out
    }

    /// Roots of the complete subtrees of the tree so far, largest first.
    pub fn subtree_roots(&self) -> &[Hash] {
        &self.stack
    }

    /// The RFC 9162 root of the leaves appended so far.
    pub fn root(&self) -> Hash {
        fold_right(&self.stack).unwrap_or_else(empty_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn stored(n: u64) -> Vec<Hash> {
        let mut b = TreeBuilder::new();
        let mut v = Vec::new();
        for i in 0..n {
            v.extend(b.push_stored(leaf_hash(&i.to_be_bytes())));
        }
        v
    }

    #[test]
    fn builder_resumes_from_subtree_roots() {
        let v = stored(300);
        for size in [0u64, 1, 2, 3, 7, 8, 255, 256, 257, 299] {
            let roots = v.read_hashes(&subtree_root_indexes(size)).unwrap();
            let mut b = TreeBuilder::from_subtree_roots(size, roots).unwrap();
            let mut fresh = TreeBuilder::new();
            for i in 0..300u64 {
                let l = leaf_hash(&i.to_be_bytes());
                if i >= size {
                    assert_eq!(
                        b.push_stored(l),
                        fresh.push_stored(l),
                        "leaf {i} after resuming at {size}"
                    );
                } else {
                    fresh.push(l);
                }
            }
            assert_eq!(b.root(), fresh.root());
        }
        assert_eq!(
            TreeBuilder::from_subtree_roots(3, vec![]).unwrap_err(),
            Error::HashReaderCount {
                requested: 2,
                actual: 0
            }
        );
    }

    #[test]
    fn stored_index_roundtrip() {
        for i in 0..5000u64 {
            let (l, n) = split_stored_hash_index(i);
            assert_eq!(stored_hash_index(l, n), i, "index {i}");
        }
    }

    #[test]
    fn stored_hashes_match_builder() {
        let v = stored(300);
        assert_eq!(v.len() as u64, stored_hash_count(300));
        let mut acc = Vec::new();
        for i in 0..300u64 {
            let got = stored_hashes_for_leaf(i, leaf_hash(&i.to_be_bytes()), &acc).unwrap();
            acc.extend(got);
        }
        assert_eq!(acc, v);
    }

    #[test]
    fn proof_lengths_match_generated() {
        let v = stored(70);
        for size in 1..=70u64 {
            for i in 0..size {
                let p = prove_inclusion(i, size, &v).unwrap();
                assert_eq!(p.len(), inclusion_proof_len(i, size));
                if i > 0 && i < size {
                    let c = prove_consistency(i, size, &v).unwrap();
                    assert_eq!(c.len(), consistency_proof_len(i, size), "{i} {size}");
                }
            }
        }
    }
}
