package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Format constants and limits. Readers enforce every limit; writers never
// produce an archive that exceeds one.
const (
	// FormatVersion is the format of archives without broker
	// definitions: they are still written as format 1, so that readers
	// older than the broker/ member read them.
	FormatVersion = 1
	// FormatVersionBroker is the format of archives whose manifest names a
	// broker and which hold its definitions (BrokerName). Readers accept
	// both formats.
	FormatVersionBroker = 2

	ManifestName = "deploykit/manifest.json"
	SealName     = "deploykit/seal.json"
	// BrokerName holds a message broker's definitions (format 2).
	BrokerName = "broker/definitions.json"

	MaxManifestSize = 16 << 20
	MaxSealSize     = 1 << 20
	MaxNameLength   = 1024
	MaxMembers      = 1 << 22
	MaxMemberSize   = 1 << 40
	MaxWindowSize   = 64 << 20

	// PAXPrefix starts every pax record deploykit defines.
	PAXPrefix = "DEPLOYKIT."
	// PAXSHA256 holds a regular member's SHA-256, hex.
	PAXSHA256 = PAXPrefix + "sha256"
)

// Sentinel errors, one per rule of the format; test with errors.Is.
var (
	ErrNotArchive      = errors.New("not a deploykit backup archive")
	ErrFormatVersion   = errors.New("unknown archive format version")
	ErrManifest        = errors.New("invalid manifest")
	ErrOtherInstance   = errors.New("archive belongs to another instance")
	ErrUnsafePath      = errors.New("unsafe member name")
	ErrDuplicate       = errors.New("duplicate member")
	ErrHardLink        = errors.New("hard links are not allowed")
	ErrDevice          = errors.New("device nodes are not allowed")
	ErrUnsupportedType = errors.New("unsupported member type")
	ErrSymlinkEscape   = errors.New("symbolic link points out of its tree")
	ErrMissingParent   = errors.New("parent directory is not an earlier member")
	ErrBadMode         = errors.New("mode has bits other than permissions")
	ErrHashMismatch    = errors.New("content does not match its SHA-256")
	ErrSizeMismatch    = errors.New("content does not match its size")
	ErrTruncated       = errors.New("archive is truncated")
	ErrSeal            = errors.New("seal does not match the archive")
	ErrLimit           = errors.New("archive exceeds a format limit")
)

// MemberError reports which member broke a rule.
type MemberError struct {
	Name string
	Err  error
}

func (e *MemberError) Error() string {
	return fmt.Sprintf("member %q: %v", e.Name, e.Err)
}

func (e *MemberError) Unwrap() error { return e.Err }

// OtherInstanceError is an archive whose manifest names another instance
// than the reader was told (ReaderOptions.Instance). It matches
// ErrOtherInstance.
type OtherInstanceError struct {
	Archive string // the instance the archive was made from
	Want    string // the instance it was read for
}

func (e *OtherInstanceError) Error() string {
	return fmt.Sprintf("the archive is a backup of instance %q", e.Archive)
}

func (e *OtherInstanceError) Is(target error) bool { return target == ErrOtherInstance }

func memberErr(name string, err error) error { return &MemberError{Name: name, Err: err} }

// Manifest is the archive's identity, its first member. Spec and Lock are the
// text of the instance's application spec and lock file at backup time.
type Manifest struct {
	Format   int               `json:"format"`
	Instance string            `json:"instance"`
	Created  time.Time         `json:"created"`
	Host     string            `json:"host,omitempty"`
	Release  string            `json:"release,omitempty"`
	Spec     string            `json:"spec,omitempty"`
	Lock     string            `json:"lock,omitempty"`
	Database *DatabaseInfo     `json:"database,omitempty"`
	Broker   *BrokerInfo       `json:"broker,omitempty"`
	Dirs     []string          `json:"dirs,omitempty"`
	Meta     map[string]string `json:"meta,omitempty"`
}

// DatabaseInfo describes the dumped database.
type DatabaseInfo struct {
	Name          string `json:"name"`
	ServerVersion string `json:"server_version"`
	Encoding      string `json:"encoding,omitempty"`
}

// BrokerInfo describes the message broker whose definitions the archive
// holds (member BrokerName; format 2 only).
type BrokerInfo struct {
	Kind  string `json:"kind"`  // "rabbitmq"
	Vhost string `json:"vhost"` // the vhost they were exported from
}

// formatFor is the format an archive with manifest m is written in: the
// oldest that can hold it.
func formatFor(m *Manifest) int {
	if m.Broker != nil {
		return FormatVersionBroker
	}
	return FormatVersion
}

// Seal is the archive's last member.
type Seal struct {
	Format    int               `json:"format"`
	Members   int               `json:"members"`
	Chain     string            `json:"chain"`
	Completed time.Time         `json:"completed"`
	Extra     map[string]string `json:"extra,omitempty"`
}

// Type is a member's kind.
type Type byte

const (
	TypeRegular Type = '0'
	TypeDir     Type = '5'
	TypeSymlink Type = '2'
)

func (t Type) String() string {
	switch t {
	case TypeRegular:
		return "file"
	case TypeDir:
		return "dir"
	case TypeSymlink:
		return "symlink"
	}
	return "type " + strconv.Quote(string(t))
}

// Member is one entry of an archive.
type Member struct {
	Name    string // without a trailing slash
	Type    Type
	Mode    fs.FileMode // permission bits only
	Size    int64
	ModTime time.Time
	Link    string            // symbolic link target
	SHA256  [32]byte          // regular members
	Extra   map[string]string // DEPLOYKIT.* pax records but the hash, key without prefix
}

// CheckName reports whether name is an acceptable member name (see the
// package documentation), returning an error wrapping ErrUnsafePath.
func CheckName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrUnsafePath, why) }
	switch {
	case name == "":
		return bad("empty")
	case len(name) > MaxNameLength:
		return bad("too long")
	case !utf8.ValidString(name):
		return bad("not UTF-8")
	case strings.ContainsAny(name, "\x00\\"):
		return bad("NUL or backslash")
	case strings.HasPrefix(name, "/"):
		return bad("absolute")
	case path.Clean(name) != name:
		return bad("not clean")
	}
	for _, el := range strings.Split(name, "/") {
		if el == "." || el == ".." {
			return bad("has a . or .. element")
		}
	}
	return nil
}

// filesRoot returns "files/NAME" for a name under files/, or "".
func filesRoot(name string) string {
	rest, ok := strings.CutPrefix(name, "files/")
	if !ok {
		return ""
	}
	first, _, _ := strings.Cut(rest, "/")
	return "files/" + first
}

// checkLink checks a symbolic link target for the link named name.
func checkLink(name, target string) error {
	root := filesRoot(name)
	switch {
	case root == "" || root == name:
		return ErrUnsupportedType
	case target == "" || len(target) > MaxNameLength || strings.ContainsRune(target, 0):
		return fmt.Errorf("%w: target %q", ErrSymlinkEscape, target)
	case strings.HasPrefix(target, "/"):
		return fmt.Errorf("%w: absolute target %q", ErrSymlinkEscape, target)
	case path.Clean(target) != target:
		return fmt.Errorf("%w: target %q is not clean", ErrSymlinkEscape, target)
	}
	resolved := path.Join(path.Dir(name), target)
	if resolved != root && !strings.HasPrefix(resolved, root+"/") {
		return fmt.Errorf("%w: %q resolves to %q", ErrSymlinkEscape, target, resolved)
	}
	return nil
}

// chain accumulates the seal's hash chain.
type chain struct {
	h hash.Hash
	n int
}

func newChain() *chain { return &chain{h: sha256.New()} }

func (c *chain) add(m *Member) {
	sum := ""
	if m.Type == TypeRegular {
		sum = hex.EncodeToString(m.SHA256[:])
	}
	fmt.Fprintf(c.h, "%s\x00%c\x00%d\x00%s\x00%o\x00%s", m.Name, byte(m.Type), m.Size, sum, uint32(m.Mode.Perm()), m.Link)
	keys := make([]string, 0, len(m.Extra))
	for k := range m.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(c.h, "\x00%s=%s", k, m.Extra[k])
	}
	c.h.Write([]byte{'\n'})
	c.n++
}

func (c *chain) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }
