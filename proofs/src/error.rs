//! The one error type of this crate.
//!
//! Every distinct verification failure has its own variant, with the values
//! that explain it, so callers and tests can match on exactly what went wrong.
//! Format errors of one kind (a tile path, a key, a note, …) carry a small
//! reason enum instead of a string.

use crate::hash::Hash;

/// Everything that can go wrong when parsing or verifying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // ---- hashes and trees ----
    /// A hash was not exactly 32 bytes.
    #[error("hash is {actual} bytes, want 32")]
    HashLength { actual: usize },
    /// Text that should be standard base64 (RFC 4648 §4, padded) was not.
    #[error("invalid base64 in {what}")]
    Base64 { what: &'static str },
    /// A leaf index at or beyond the tree size.
    #[error("index {index} is out of range for tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("size1 {size1} is greater than size2 {size2}")]
    SizeOrder { size1: u64, size2: u64 },
    /// A consistency proof from the empty tree; RFC 9162 defines them only for 0 < size1.
    #[error("a consistency proof from the empty tree is meaningless")]
    ConsistencyFromEmptyTree,
    /// A proof with the wrong number of hashes for its index and sizes.
    #[error("proof has {actual} hashes, want {expected}")]
    ProofLength { expected: usize, actual: usize },
    /// Leaves of a several-leaf inclusion proof that are none, or not in
    /// strictly increasing index order.
    #[error("leaf indexes must be at least one and strictly increasing")]
    LeafOrder,
    /// The root computed from a proof differs from the expected root.
    #[error("root mismatch: expected {expected}, computed {computed}")]
    RootMismatch { expected: Hash, computed: Hash },
    /// The old root computed from a consistency proof differs from the given one.
    #[error("old root mismatch: expected {expected}, computed {computed}")]
    OldRootMismatch { expected: Hash, computed: Hash },
    /// A tree size beyond what the stored-hash layout can address (2^62).
    #[error("tree size {size} is too large")]
    SizeTooLarge { size: u64 },
    /// A [`crate::HashReader`] did not return the hash asked for.
    #[error("hash reader has no stored hash at index {index}")]
    MissingHash { index: u64 },
    /// A [`crate::HashReader`] returned the wrong number of hashes.
    #[error("hash reader returned {actual} hashes for {requested} indexes")]
    HashReaderCount { requested: usize, actual: usize },

    // ---- tiles ----
    /// A tile path that is not in strict C2SP tlog-tiles form.
    #[error("invalid tile path {path:?}: {reason}")]
    TilePath { path: String, reason: TilePathError },
    /// Tile data whose length is not 32 × width.
    #[error("tile data is {actual} bytes, want {expected}")]
    TileLength { expected: usize, actual: usize },
    /// A tile whose contents differ from what the entries imply.
    #[error("tile {path} does not match the hashes recomputed from the entries")]
    TileMismatch { path: String },
    /// An entry bundle that ends inside an entry (or its length prefix).
    #[error("entry bundle truncated at byte {offset}")]
    BundleTruncated { offset: usize },
    /// An entry bundle with a number of entries other than its width.
    #[error("entry bundle has {actual} entries, want {expected}")]
    BundleEntryCount { expected: usize, actual: usize },
    /// An entry too long for a uint16 length prefix.
    #[error("entry of {len} bytes does not fit a uint16 length prefix")]
    EntryTooLong { len: usize },

    // ---- signed notes and keys ----
    /// A verifier or signer key that is not in strict C2SP text form.
    #[error("invalid key: {0}")]
    Key(KeyError),
    /// A note that is not in signed-note form.
    #[error("malformed note: {0}")]
    Note(NoteError),
    /// A note with more signature lines than we accept.
    #[error("note has {count} signatures, at most {max} accepted")]
    TooManySignatures { count: usize, max: usize },
    /// Two verifier keys with the same name and key ID.
    #[error("ambiguous key {name}+{id:08x}")]
    AmbiguousKey { name: String, id: u32 },
    /// A signature by a known key that does not verify.
    #[error("invalid signature for key {name}+{id:08x}")]
    InvalidSignature { name: String, id: u32 },
    /// No signature on the note is by a known key.
    #[error("note has no verifiable signatures")]
    NoVerifiedSignature,
    /// A cosignature/v1 signature that is not 76 bytes.
    #[error("cosignature is {actual} bytes, want 76")]
    CosignatureLength { actual: usize },
    /// A key of the wrong type for its role (e.g. an Ed25519 note key as a witness key).
    #[error("key {name} has type 0x{alg:02x}, want 0x{want:02x} for this role")]
    KeyRole { name: String, alg: u8, want: u8 },

    // ---- checkpoints ----
    /// A checkpoint body that is not in C2SP tlog-checkpoint form.
    #[error("malformed checkpoint: {0}")]
    Checkpoint(CheckpointError),
    /// A checkpoint whose origin is not the one expected (the log key's name).
    #[error("checkpoint origin {actual:?}, want {expected:?}")]
    OriginMismatch { expected: String, actual: String },
    /// The log's signature is absent from a checkpoint.
    #[error("checkpoint is not signed by the log key {name}+{id:08x}")]
    MissingLogSignature { name: String, id: u32 },

    // ---- tlog-proof ----
    /// A tlog-proof bundle that is not in C2SP form.
    #[error("malformed tlog-proof: {0}")]
    TlogProof(TlogProofError),

    // ---- policy ----
    /// A tlog-policy file that does not parse.
    #[error("policy line {line}: {reason}")]
    Policy { line: usize, reason: PolicyError },
    /// A checkpoint signed by a log not in the policy.
    #[error("checkpoint origin {origin:?} is not signed by any log of the policy")]
    UnknownLog { origin: String },
    /// Fewer witnesses cosigned than the quorum needs.
    #[error("witness quorum not met: {cosigned} valid cosignatures from policy witnesses")]
    QuorumNotMet { cosigned: usize },

    // ---- ank bindings ----
    /// An address that is not valid.
    #[error("invalid address: {0}")]
    Address(AddressError),
    /// A binding entry that is not in canonical form.
    #[error("invalid entry: {0}")]
    Entry(EntryError),
    /// A key set that is not in canonical form.
    #[error("invalid key set: {0}")]
    KeySet(KeySetError),
    /// A map proof that is not in canonical form.
    #[error("malformed map proof: {0}")]
    MapProof(MapProofError),
    /// A map proof that leads to another root.
    #[error("map root mismatch: expected {expected}, computed {computed}")]
    MapRootMismatch { expected: Hash, computed: Hash },
    /// A map proof whose path the label's lookup would leave.
    #[error("the label's lookup does not follow this map proof's path")]
    MapPathMismatch,
    /// A map proof ending at a node below which the label's lookup continues.
    #[error("the map proof stops at a node the label's lookup would descend into")]
    MapNotTerminal,
    /// A log entry whose version is not its label's next.
    #[error("entry {index} has version {actual}, but its label's next version is {expected}")]
    ReplayVersion {
        index: u64,
        expected: u64,
        actual: u64,
    },
    /// A binding whose authorisation does not check out.
    #[error("unauthorised binding: {0}")]
    Authority(AuthorityError),
    /// Replaying a log found a key holder's binding that no current key signed.
    #[error("entry {index}: {reason}")]
    ReplayAuthority { index: u64, reason: AuthorityError },
    /// Replaying a log found a map-root entry that is not the map of the bindings before it.
    #[error(
        "entry {index} says the map root is {signed}, but the bindings before it give {computed}"
    )]
    ReplayMapRoot {
        index: u64,
        signed: Hash,
        computed: Hash,
    },
    /// A tree that does not end with a map-root entry.
    #[error("entry {index}, the last of the tree, is not a map-root entry")]
    NoMapRoot { index: u64 },
    /// A lookup answer whose field disagrees with the entry or the request.
    #[error("lookup answer's {field} does not match its entry or the address asked for")]
    LookupMismatch { field: &'static str },
    /// Text that is not evidence of a fork.
    #[error("{0}")]
    Evidence(crate::evidence::EvidenceError),
}

/// Why a tile path was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TilePathError {
    #[error("does not start with tile/")]
    Prefix,
    #[error("level is not a decimal 0..=63")]
    Level,
    #[error("index segment is not x + 3 digits or a final 3 digits")]
    IndexSegment,
    #[error("index overflows uint64")]
    IndexOverflow,
    #[error("index is not in canonical (shortest) form")]
    NonCanonical,
    #[error("partial width is not a decimal 1..=255")]
    Width,
}

/// Why a key in text form was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("wrong number of + separated parts")]
    Parts,
    #[error("key name is empty or holds a space or a plus")]
    Name,
    #[error("key ID is not 8 lowercase hex digits")]
    KeyIdHex,
    #[error("key material is not standard base64")]
    Base64,
    #[error("unsupported key type 0x{alg:02x}")]
    UnsupportedType { alg: u8 },
    #[error("key material is {actual} bytes for its type")]
    Length { actual: usize },
    #[error("key ID {stated:08x} does not match the key (computed {computed:08x})")]
    KeyIdMismatch { stated: u32, computed: u32 },
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
}

/// Why a note was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("not valid UTF-8")]
    Utf8,
    #[error("no blank line between text and signatures")]
    NoSignatureBlock,
    #[error("text is empty, lacks a final newline, or holds a control character")]
    Text,
    #[error("signature line {line} is malformed")]
    SignatureLine { line: usize },
}

/// Why a checkpoint body was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("fewer than three lines")]
    Lines,
    #[error("empty origin line")]
    Origin,
    #[error("size is not a canonical decimal uint64")]
    Size,
    #[error("root is not base64 of 32 bytes")]
    Root,
    #[error("empty extension line")]
    Extension,
}

/// Why a tlog-proof bundle was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TlogProofError {
    #[error("first line is not c2sp.org/tlog-proof@v1")]
    Header,
    #[error("extra line is not base64")]
    Extra,
    #[error("index line is missing or not a canonical decimal")]
    Index,
    #[error("proof line {line} is not base64 of 32 bytes")]
    ProofHash { line: usize },
    #[error("no blank line before the checkpoint")]
    Separator,
}

/// Why a policy line was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("control character or other forbidden byte")]
    Character,
    #[error("unknown keyword {0:?}")]
    Keyword(String),
    #[error("wrong number of fields")]
    Fields,
    #[error("bad key: {0}")]
    Key(KeyError),
    #[error("duplicate key")]
    DuplicateKey,
    #[error("name {0:?} defined twice")]
    DuplicateName(String),
    #[error("name {0:?} not defined on an earlier line")]
    UndefinedName(String),
    #[error("member {0:?} listed twice")]
    DuplicateMember(String),
    #[error("threshold is not all, any, or 1..=n")]
    Threshold,
    #[error("more than one quorum line")]
    DuplicateQuorum,
    #[error("no quorum line")]
    NoQuorum,
    #[error("too many logs, witnesses or groups")]
    TooLarge,
}

/// Why an address was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("needs exactly one @ or ! between user and domain")]
    Separator,
    #[error("local part must be 1..=64 of a-z 0-9 . _ - + with no leading, trailing or double dot")]
    LocalPart,
    #[error("domain is not a valid IDNA host name")]
    Domain,
    #[error("address longer than 254 bytes")]
    TooLong,
}

/// Why a map proof encoding was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MapProofError {
    #[error("unknown map proof format 0x{0:02x}")]
    Format(u8),
    #[error("unknown terminal kind 0x{0:02x}")]
    TerminalKind(u8),
    #[error("truncated at byte {offset}")]
    Truncated { offset: usize },
    #[error("trailing bytes")]
    TrailingBytes,
    #[error("node prefix has bits set at or after its depth")]
    PrefixNotMasked,
    #[error("depths do not decrease from the terminal upward")]
    DepthOrder,
    #[error("an empty-tree terminal with a path")]
    EmptyWithPath,
}

/// Why bytes are not an entry of an ank log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("unknown entry type 0x{0:02x}")]
    Type(u8),
    #[error("binding entry ends early ({actual} bytes)")]
    Truncated { actual: usize },
    #[error("map-root entry is {actual} bytes, want 41")]
    MapRootLength { actual: usize },
    #[error("version is zero")]
    Version,
    #[error("unknown authority byte 0x{0:02x}")]
    Flags(u8),
    #[error("an enrollment binding must be version 1, and a key holder's cannot be")]
    AuthorityForVersion,
    #[error("trailing bytes after the entry's last field")]
    TrailingBytes,
    #[error("a map-root entry where a binding entry was expected")]
    NotBinding,
    #[error("a binding entry where a map-root entry was expected")]
    NotMapRoot,
}

/// Why a key holder's binding is not authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityError {
    #[error("its signer is not a device of the label's previous key set")]
    SignerNotCurrent,
    #[error("its signature does not verify over the publish message")]
    Signature,
}

/// Why a key set was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeySetError {
    #[error("unknown key-set format 0x{0:02x}")]
    Format(u8),
    #[error("more than 16 devices")]
    TooManyDevices,
    #[error("truncated at byte {offset}")]
    Truncated { offset: usize },
    #[error("trailing bytes after the last device")]
    TrailingBytes,
    #[error("device name must be 1..=64 of A-Z a-z 0-9 . _ -")]
    DeviceName,
    #[error("devices not in strictly increasing name order")]
    Order,
    #[error("not a valid Ed25519 public key")]
    SigningKey,
    /// An Ed25519 key of small order: signatures under it prove nothing.
    #[error("the Ed25519 public key has small order")]
    WeakSigningKey,
    /// An X25519 key of low order: every shared secret with it is predictable.
    #[error("the X25519 public key has low order")]
    WeakEncryptionKey,
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Error::Key(e)
    }
}
