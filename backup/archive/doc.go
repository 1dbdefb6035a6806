// Package archive reads and writes deploykit backup archives (".dkb"): one
// file holding an instance's database dump, its data directories and the
// identity of what was running, checked by SHA-256 member by member while it
// streams. This comment is the format's specification; package backup
// builds archives from a live instance and restores them, package archive
// only knows the container.
//
// # Layout
//
// An archive is a single zstd stream (RFC 8878, frame checksums on) whose
// content is a POSIX tar stream (pax format):
//
//	deploykit/manifest.json     always the first member: identity (Manifest)
//	broker/definitions.json     format 2 only: a message broker's definitions (BrokerName)
//	db/...                      database members (see package backup)
//	files/NAME/...              the data directory captured under NAME
//	deploykit/seal.json         always the last member: count and hash chain (Seal)
//	<two zero blocks>           end of tar; nothing may follow but the end of the zstd stream
//
// # Why hashes sit in each member's own header
//
// A tar header must carry the member's size before its content, so a writer
// that streams to stdout cannot put a table of sizes and hashes at the front.
// deploykit's writer always holds a member's complete content before it
// writes the header (database streams are cut into bounded chunks, files are
// copied to a spool and verified first), so it knows the member's SHA-256 and
// records it in the member's own pax header (key DEPLOYKIT.sha256). A reader
// therefore verifies each member the moment its content ends, holding no
// table in memory, and a consumer (a restore) never acts on an unverified
// member. Completeness — no member dropped, reordered or appended, and no
// truncation at a member boundary — is proved by the trailing seal, which
// counts the members and carries a SHA-256 chain over all their headers. The
// leading manifest gives identity first, so a reader rejects an archive of
// another instance or an unknown format version before reading anything
// else.
//
// # Invariants (a reader rejects an archive that breaks any of them)
//
//   - The byte stream is a valid zstd stream; its decompressed content is a
//     tar stream; a decoder window above MaxWindowSize is refused.
//   - The first member is a regular file named ManifestName, at most
//     MaxManifestSize bytes, a JSON Manifest whose "format" is FormatVersion
//     (1) or FormatVersionBroker (2). Any other format number is
//     ErrFormatVersion. A manifest that names a broker ("broker") is format
//     2, one that does not is format 1 (else ErrManifest).
//   - In format 2 the second member is a regular file named BrokerName, at
//     most MaxManifestSize bytes; no other member is under "broker/", and
//     format 1 has none (ErrUnsafePath).
//   - When the reader is told which instance it restores into, a manifest
//     naming another instance is ErrOtherInstance unless the reader is told
//     to force.
//   - The last member is a regular file named SealName (at most MaxSealSize
//     bytes); after it the tar stream ends and so does the zstd stream. A
//     stream that ends anywhere before is ErrTruncated.
//   - Member names are valid UTF-8, at most MaxNameLength bytes, relative,
//     slash-separated, clean (path.Clean(name) == name; a directory's name may
//     carry one trailing slash), with no "." or ".." element and no NUL or
//     backslash. Otherwise ErrUnsafePath.
//   - Every member other than the manifest, the seal and the broker
//     definitions is under "db/" or "files/". Nothing else may use the
//     "deploykit/" prefix.
//   - No two members have the same name (ErrDuplicate).
//   - At most MaxMembers members.
//   - Member types are regular file, directory and symbolic link only. Hard
//     links are ErrHardLink, character and block devices ErrDevice, FIFOs and
//     everything else ErrUnsupportedType. Global pax headers are refused.
//   - Members under "db/" are regular files.
//   - Under "files/", "files/NAME" is a directory (NAME one element), and the
//     parent of every deeper member is a directory member that came earlier.
//     So extracting never writes through a symbolic link.
//   - A symbolic link's target is relative, clean (path.Clean(t) == t), at
//     most MaxNameLength bytes, and, joined to the link's directory, stays
//     inside its "files/NAME" tree (ErrSymlinkEscape). Because every parent is
//     a real directory and every link obeys the same rule, resolving any link
//     of a restored tree never leaves the tree.
//   - Modes carry permission bits only (no setuid, setgid, sticky or type
//     bits).
//   - A regular member has a pax record DEPLOYKIT.sha256: 64 lower-case hex
//     digits, the SHA-256 of its content. Its size is at most MaxMemberSize.
//     Content that does not hash to it is ErrHashMismatch.
//   - Directories and links have size 0 and no hash.
//   - The seal's "members" equals the number of members before it (the
//     manifest included), and its "chain" equals the chain computed by the
//     reader (ErrSeal): SHA-256 over, for each member in order, the line
//     name NUL typeflag NUL size NUL sha256-hex NUL mode-octal NUL linkname,
//     then NUL key=value for each DEPLOYKIT.* record but the hash (key
//     without the prefix, sorted by key), then LF. So the seal also covers
//     the extra records, which the content hash does not.
//
// # Format versions
//
// A new kind of member makes a new format number, and an archive is
// written in the oldest format that can hold it: format 2 added the
// broker definitions (deploykit's [broker], see instance/broker), and an
// archive without them is still written as format 1. So a reader of
// format 1 only still reads every archive without a broker, refuses the
// others with ErrFormatVersion (not with a misleading unsafe-member
// error), and a current reader reads archives of every format.
//
// # Other pax records
//
// Writers may add records under the DEPLOYKIT. prefix (e.g. DEPLOYKIT.rows
// on database chunks); readers expose them as Member.Extra and ignore the
// ones they do not know. Records outside that prefix other than the standard
// ones Go's archive/tar interprets are ignored.
package archive
