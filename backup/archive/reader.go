package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// ReaderOptions say what the reader is for.
type ReaderOptions struct {
	// Instance, when set, is the instance the archive is meant for: a
	// manifest naming another one is ErrOtherInstance unless Force.
	Instance string
	Force    bool
	// ReadAhead decompresses in a goroutine of its own, a few MiB ahead:
	// decompressing and hashing then share two CPUs. It pays when nothing
	// else needs them (a check: about 1.4 s instead of 2.6 s for the bench
	// archive); during a restore the server does.
	ReadAhead bool
}

// Reader reads and verifies an archive as it streams. Next returns members
// in order; each member's content is checked against its hash when the
// member is fully read (or skipped by the next call to Next). Next returns
// io.EOF only after the seal verified and the stream ended cleanly.
type Reader struct {
	zr       *zstd.Decoder // nil when reading an uncompressed stream (tests)
	ahead    *readAhead    // with ReadAhead: it owns zr
	src      io.Reader     // the decompressed stream
	tr       *tar.Reader
	manifest Manifest
	seal     *Seal
	chain    *chain
	names    map[string]Type
	cur      *contentReader
	err      error // sticky
}

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// NewReader starts reading an archive from r and reads and checks its
// manifest. Close the Reader to release the decompressor.
func NewReader(r io.Reader, opts ReaderOptions) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil || !bytes.Equal(head, zstdMagic) {
		return nil, fmt.Errorf("%w (no zstd frame at the start)", ErrNotArchive)
	}
	// One synchronous decoder: on the bench archive (scripts/bench/backup.sh,
	// 1.3 GiB of members) concurrency 2 took 1.06 s and 1.29 CPU-s to
	// decode, concurrency 1 took 0.80 s and 0.79 CPU-s. A restore is
	// CPU-bound on the server's side, so the client's spare half CPU-second
	// is the server's.
	zr, err := zstd.NewReader(br, zstd.WithDecoderMaxWindow(MaxWindowSize), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("reading the archive: %w", err)
	}
	if opts.ReadAhead {
		ahead := newReadAhead(zr, zr.Close, 1<<20, 4)
		ar, err := newReader(ahead, opts)
		if err != nil {
			ahead.Close()
			return nil, err
		}
		ar.ahead = ahead
		return ar, nil
	}
	ar, err := newReader(zr, opts)
	if err != nil {
		zr.Close()
		return nil, err
	}
	ar.zr = zr
	return ar, nil
}

// newReader reads a decompressed archive (the tar stream) from src.
func newReader(src io.Reader, opts ReaderOptions) (*Reader, error) {
	ar := &Reader{src: src, tr: tar.NewReader(src), chain: newChain(), names: map[string]Type{}}
	m, err := ar.Next()
	if err == nil && m.Name != ManifestName {
		err = memberErr(m.Name, fmt.Errorf("%w: the first member must be %s", ErrManifest, ManifestName))
	}
	var data []byte
	if err == nil {
		if m.Size > MaxManifestSize {
			err = memberErr(m.Name, fmt.Errorf("%w: manifest of %d bytes", ErrLimit, m.Size))
		} else {
			data, err = io.ReadAll(ar)
		}
	}
	if err == nil {
		var probe struct {
			Format *int `json:"format"`
		}
		if jerr := json.Unmarshal(data, &probe); jerr != nil || probe.Format == nil {
			err = memberErr(ManifestName, fmt.Errorf("%w: %v", ErrManifest, jerr))
		} else if *probe.Format != FormatVersion && *probe.Format != FormatVersionBroker {
			err = memberErr(ManifestName, fmt.Errorf("%w: %d (this reader knows %d and %d)", ErrFormatVersion, *probe.Format, FormatVersion, FormatVersionBroker))
		} else if jerr := json.Unmarshal(data, &ar.manifest); jerr != nil {
			err = memberErr(ManifestName, fmt.Errorf("%w: %v", ErrManifest, jerr))
		} else if ar.manifest.Format != formatFor(&ar.manifest) {
			err = memberErr(ManifestName, fmt.Errorf("%w: format %d with broker %v", ErrManifest, ar.manifest.Format, ar.manifest.Broker != nil))
		}
	}
	if err == nil && opts.Instance != "" && ar.manifest.Instance != opts.Instance && !opts.Force {
		err = &OtherInstanceError{Archive: ar.manifest.Instance, Want: opts.Instance}
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: no manifest", ErrTruncated)
		}
		return nil, err
	}
	return ar, nil
}

// Manifest returns the archive's manifest.
func (r *Reader) Manifest() *Manifest { return &r.manifest }

// Seal returns the seal once Next has returned io.EOF, else nil.
func (r *Reader) Seal() *Seal { return r.seal }

// Close releases the decompressor. It does not close the source.
func (r *Reader) Close() error {
	if r.zr != nil {
		r.zr.Close()
	}
	if r.ahead != nil {
		r.ahead.Close()
		r.ahead = nil
	}
	return nil
}

// Read reads the current member's content. At its end the content is
// verified: a mismatch is returned instead of io.EOF.
func (r *Reader) Read(p []byte) (int, error) {
	if r.cur == nil {
		return 0, io.EOF
	}
	return r.cur.Read(p)
}

// Next advances to the next member, verifying the rest of the current one.
// It returns io.EOF after the seal, once the whole archive is verified.
func (r *Reader) Next() (*Member, error) {
	if r.err != nil {
		return nil, r.err
	}
	m, err := r.next()
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, zstd.ErrMagicMismatch) {
			err = fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		r.err = err
		return nil, err
	}
	return m, nil
}

func (r *Reader) next() (*Member, error) {
	if r.cur != nil {
		if _, err := io.Copy(io.Discard, r.cur); err != nil {
			return nil, err
		}
		r.cur = nil
	}
	if r.seal != nil {
		return nil, io.EOF
	}
	hdr, err := r.tr.Next()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: the stream ends before the seal", ErrTruncated)
	}
	if err != nil {
		if errors.Is(err, tar.ErrHeader) || errors.Is(err, tar.ErrInsecurePath) {
			return nil, fmt.Errorf("%w: %v", ErrNotArchive, err)
		}
		return nil, err // Next says what it means (ErrTruncated)
	}
	m, err := r.checkHeader(hdr)
	if err != nil {
		return nil, memberErr(strings.TrimSuffix(hdr.Name, "/"), err)
	}
	if m.Name == SealName {
		return nil, r.readSeal(m)
	}
	r.chain.add(m)
	if m.Type == TypeRegular {
		r.cur = &contentReader{name: m.Name, r: r.tr, left: m.Size, size: m.Size, want: m.SHA256, h: sha256.New()}
	}
	return m, nil
}

func (r *Reader) checkHeader(hdr *tar.Header) (*Member, error) {
	name := hdr.Name
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink:
		for k := range hdr.PAXRecords {
			if strings.HasPrefix(k, "GNU.sparse") {
				// A sparse map makes content out of nothing; refuse it.
				return nil, fmt.Errorf("%w: sparse file", ErrUnsupportedType)
			}
		}
	case tar.TypeLink:
		return nil, fmt.Errorf("%w (to %q)", ErrHardLink, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return nil, ErrDevice
	default:
		return nil, fmt.Errorf("%w: typeflag %q", ErrUnsupportedType, hdr.Typeflag)
	}
	if hdr.Typeflag == tar.TypeDir {
		name = strings.TrimSuffix(name, "/")
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	m := &Member{Name: name, Type: Type(hdr.Typeflag), Size: hdr.Size, ModTime: hdr.ModTime, Link: hdr.Linkname}
	if hdr.Mode&^0o777 != 0 || hdr.Mode < 0 {
		return nil, fmt.Errorf("%w: %o", ErrBadMode, hdr.Mode)
	}
	m.Mode = fs.FileMode(hdr.Mode)
	first := r.chain.n == 0
	if r.chain.n == 1 && r.manifest.Broker != nil && name != BrokerName {
		return nil, fmt.Errorf("%w: the manifest names a broker: its definitions (%s) come next", ErrUnsafePath, BrokerName)
	}
	switch {
	case first && name != ManifestName:
		return nil, fmt.Errorf("%w: the first member must be %s", ErrManifest, ManifestName)
	case name == ManifestName && !first:
		return nil, ErrDuplicate
	case name == ManifestName, name == SealName:
		if m.Type != TypeRegular {
			return nil, ErrUnsupportedType
		}
		if name == SealName && m.Size > MaxSealSize {
			return nil, fmt.Errorf("%w: seal of %d bytes", ErrLimit, m.Size)
		}
	case strings.HasPrefix(name, "broker/"):
		// Format 2: the one broker member, right after a manifest that
		// names a broker.
		if name != BrokerName || r.manifest.Broker == nil || r.chain.n != 1 {
			return nil, fmt.Errorf("%w: broker definitions come right after a manifest that names a broker", ErrUnsafePath)
		}
		if m.Type != TypeRegular {
			return nil, fmt.Errorf("%w: %s is a regular file", ErrUnsupportedType, BrokerName)
		}
		if m.Size > MaxManifestSize {
			return nil, fmt.Errorf("%w: broker definitions of %d bytes", ErrLimit, m.Size)
		}
	case strings.HasPrefix(name, "db/"):
		if m.Type != TypeRegular {
			return nil, fmt.Errorf("%w: db/ members are regular files", ErrUnsupportedType)
		}
	case strings.HasPrefix(name, "files/"):
		root := filesRoot(name)
		if root == name {
			if m.Type != TypeDir {
				return nil, fmt.Errorf("%w: %s must be a directory", ErrUnsupportedType, name)
			}
		} else if r.names[parentOf(name)] != TypeDir {
			return nil, ErrMissingParent
		}
	default:
		return nil, fmt.Errorf("%w: outside db/ and files/", ErrUnsafePath)
	}
	if _, dup := r.names[name]; dup {
		return nil, ErrDuplicate
	}
	if len(r.names) >= MaxMembers {
		return nil, fmt.Errorf("%w: more than %d members", ErrLimit, MaxMembers)
	}
	switch m.Type {
	case TypeRegular:
		if m.Size < 0 || m.Size > MaxMemberSize {
			return nil, fmt.Errorf("%w: size %d", ErrLimit, m.Size)
		}
		if hdr.Linkname != "" {
			return nil, fmt.Errorf("%w: a file with a link name", ErrUnsupportedType)
		}
		sum, ok := hdr.PAXRecords[PAXSHA256]
		b, err := hex.DecodeString(sum)
		if !ok || err != nil || len(b) != 32 || sum != strings.ToLower(sum) {
			return nil, fmt.Errorf("%w: missing or malformed %s record", ErrHashMismatch, PAXSHA256)
		}
		copy(m.SHA256[:], b)
	case TypeDir:
		if m.Size != 0 || hdr.Linkname != "" {
			return nil, fmt.Errorf("%w: directory with content", ErrUnsupportedType)
		}
	case TypeSymlink:
		if m.Size != 0 {
			return nil, fmt.Errorf("%w: link with content", ErrUnsupportedType)
		}
		if err := checkLink(name, hdr.Linkname); err != nil {
			return nil, err
		}
	}
	for k, v := range hdr.PAXRecords {
		if k == "GLOBAL" {
			return nil, ErrUnsupportedType
		}
		if rest, ok := strings.CutPrefix(k, PAXPrefix); ok && k != PAXSHA256 {
			if m.Extra == nil {
				m.Extra = map[string]string{}
			}
			m.Extra[rest] = v
		}
	}
	r.names[name] = m.Type
	return m, nil
}

func (r *Reader) readSeal(m *Member) error {
	cr := &contentReader{name: m.Name, r: r.tr, left: m.Size, size: m.Size, want: m.SHA256, h: sha256.New()}
	data, err := io.ReadAll(cr)
	if err != nil {
		return err
	}
	var s Seal
	if err := json.Unmarshal(data, &s); err != nil {
		return memberErr(SealName, fmt.Errorf("%w: %v", ErrSeal, err))
	}
	if s.Members != r.chain.n || s.Chain != r.chain.sum() {
		return memberErr(SealName, fmt.Errorf("%w: it lists %d members, the archive has %d, or the header chain differs", ErrSeal, s.Members, r.chain.n))
	}
	if hdr, err := r.tr.Next(); err != io.EOF {
		if err == nil {
			return memberErr(hdr.Name, fmt.Errorf("%w: a member after the seal", ErrSeal))
		}
		return fmt.Errorf("after the seal: %w", err)
	}
	// The tar end may be followed by padding zeros; anything else, or a
	// broken zstd frame, is an error.
	buf := make([]byte, 32<<10)
	for {
		n, err := r.src.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return fmt.Errorf("%w: data after the end of the tar stream", ErrSeal)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("after the seal: %w", err)
		}
	}
	r.seal = &s
	return io.EOF
}

// contentReader hashes a member's content and checks it at the end.
type contentReader struct {
	name       string
	r          io.Reader
	left, size int64
	want       [32]byte
	h          hash.Hash
	done       bool
}

func (c *contentReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.left <= 0 {
		c.done = true
		var got [32]byte
		c.h.Sum(got[:0])
		if got != c.want {
			return 0, memberErr(c.name, fmt.Errorf("%w: got %x", ErrHashMismatch, got))
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.left -= int64(n)
	if err == io.EOF {
		if c.left > 0 {
			return n, memberErr(c.name, fmt.Errorf("%w: %v", ErrTruncated, io.ErrUnexpectedEOF))
		}
		err = nil
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		return n, memberErr(c.name, err)
	}
	return n, nil
}
