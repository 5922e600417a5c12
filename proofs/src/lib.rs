//! # ank-proofs
//!
//! Everything a verifier of ank needs, and nothing else: no I/O, no async,
//! no global state. Every byte format below is specified here or in the
//! module that implements it; every failure is a variant of [`Error`].
//!
//! | module | format | spec |
//! |---|---|---|
//! | [`hash`] | leaf `SHA-256(0x00 ‖ entry)`, node `SHA-256(0x01 ‖ left ‖ right)`, empty tree `SHA-256("")` | RFC 9162 §2.1.1 |
//! | [`tree`] | stored-hash layout, [`HashReader`], inclusion and consistency proofs | RFC 9162 §2.1.3–2.1.4 |
//! | [`tile`] | tile paths, tile inventory, hash tiles, entry bundles | C2SP tlog-tiles |
//! | [`note`] | vkeys, skeys, key IDs, signed notes, cosignature/v1 | C2SP signed-note, tlog-cosignature |
//! | [`checkpoint`] | checkpoint bodies, [`VerifiedCheckpoint`] | C2SP tlog-checkpoint |
//! | [`tlog_proof`] | offline inclusion proof bundles | C2SP tlog-proof |
//! | [`policy`] | `log` / `witness` / `group` / `quorum` policies | C2SP tlog-policy |
//! | [`map`] | the verifiable map (compressed prefix tree), lookup proofs | ank (this crate) |
//! | [`binding`] | the binding and map-root entries, the publish message, the key-set encoding | ank (this crate) |
//! | [`address`] | canonical addresses and their labels | ank (this crate) |
//! | [`api`] | JSON wire format, lookup verification | ank (this crate) |
//! | [`evidence`] | `ank-evidence/v1`: proof that a log signed two histories | ank (this crate) |
//!
//! All base64 is standard, padded base64 (RFC 4648 §4); decoders reject
//! anything else. Parsers of outside bytes reject trailing data and never
//! panic.
//!
//! ## Verified types
//!
//! [`VerifiedCheckpoint`] and [`note::VerifiedNote`] have no public
//! constructor: they only come out of signature verification, so code that
//! holds one knows what it holds.
//!
//! ## Errors
//!
//! | variant | when |
//! |---|---|
//! | `HashLength`, `Base64` | a hash is not 32 bytes / not base64 |
//! | `IndexOutOfRange` | inclusion index ≥ tree size |
//! | `SizeOrder`, `ConsistencyFromEmptyTree` | consistency size1 > size2, or size1 = 0 |
//! | `ProofLength` | a proof has the wrong number of hashes for its index and sizes |
//! | `LeafOrder` | a several-leaf inclusion proof's leaves are none or not strictly increasing |
//! | `RootMismatch`, `OldRootMismatch` | a proof leads to another (new / old) root |
//! | `SizeTooLarge`, `MissingHash`, `HashReaderCount` | tree beyond 2^62 leaves; storage lacks a hash |
//! | `TilePath`, `TileLength`, `TileMismatch` | bad tile path; tile of wrong length; tile contents differ from the entries |
//! | `BundleTruncated`, `BundleEntryCount`, `EntryTooLong` | bad entry bundle |
//! | `Key` | bad vkey/skey text (parts, name, ID hex, base64, type, length, ID mismatch) |
//! | `Note`, `TooManySignatures` | malformed note; over 100 signature lines |
//! | `AmbiguousKey`, `InvalidSignature`, `NoVerifiedSignature`, `CosignatureLength`, `KeyRole` | note verification |
//! | `Checkpoint`, `OriginMismatch`, `MissingLogSignature` | checkpoint form and log signature |
//! | `TlogProof` | malformed tlog-proof bundle |
//! | `Policy`, `UnknownLog`, `QuorumNotMet` | policy parse and evaluation |
//! | `Address`, `Entry`, `KeySet` | ank formats |
//! | `MapProof`, `MapRootMismatch`, `MapPathMismatch`, `MapNotTerminal` | map proofs |
//! | `ReplayVersion` | replaying a log finds a version that is not its label's next |
//! | `Authority`, `ReplayAuthority` | a key holder's binding whose signer is not a device of the previous key set, or whose signature fails |
//! | `ReplayMapRoot`, `NoMapRoot` | a map-root entry that is not the map of the bindings before it; a tree that does not end with one |
//! | `LookupMismatch` | a lookup answer's fields disagree with its entry or the address |
//! | `Evidence` | text that is not evidence of a fork ([`evidence`]) |

pub mod address;
pub mod api;
pub mod binding;
pub mod checkpoint;
pub mod error;
pub mod evidence;
pub mod hash;
pub mod map;
pub mod note;
pub mod policy;
pub mod tile;
pub mod tlog_proof;
pub mod tree;

pub use address::Address;
pub use binding::{Authority, Authorization, Device, Entry, KeySet, LogEntry, MapRootEntry};
pub use checkpoint::{
    Checkpoint, Cosignature, VerifiedCheckpoint, verify_checkpoint, verify_checkpoint_for_origin,
};
pub use error::Error;
pub use hash::{Hash, empty_root, leaf_hash, node_hash};
pub use note::{Note, SignerKey, VerifierKey};
pub use policy::Policy;
pub use tile::Tile;
pub use tlog_proof::TlogProof;
pub use tree::{
    HashReader, TreeBuilder, prove_consistency, prove_inclusion, tree_hash, verify_consistency,
    verify_inclusion,
};
