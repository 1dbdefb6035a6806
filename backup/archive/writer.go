package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// WriterOptions tune compression. The zero value is zstd's default level
// using every CPU.
type WriterOptions struct {
	// Level is the zstd level; 0 means zstd.SpeedDefault.
	Level zstd.EncoderLevel
	// Concurrency is the number of compressing goroutines; 0 means GOMAXPROCS.
	Concurrency int
}

// Writer writes an archive. It is not safe for concurrent use: producers
// that work in parallel hand it complete members one at a time.
type Writer struct {
	zw     *zstd.Encoder
	tw     *tar.Writer
	chain  *chain
	names  map[string]Type
	closed bool
	format int
	broker bool // the manifest names a broker: BrokerName may follow it
}

// NewWriter starts an archive on w and writes m as its manifest. m.Format
// is set to FormatVersion, or FormatVersionBroker when m names a broker
// (whose definitions must then be the next member, BrokerName).
func NewWriter(w io.Writer, m Manifest, opts WriterOptions) (*Writer, error) {
	level := opts.Level
	if level == 0 {
		level = zstd.SpeedDefault
	}
	conc := opts.Concurrency
	if conc <= 0 {
		conc = runtime.GOMAXPROCS(0)
	}
	// A 2 MiB window rather than 8: the decoder's matches then copy from
	// history that stays in cache while a restore's server processes run
	// beside it. On the bench archive (scripts/bench/backup.sh) the restore
	// client took 2.54 CPU-s instead of 2.84, for an archive 1% larger.
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(conc),
		zstd.WithEncoderCRC(true), zstd.WithWindowSize(2<<20))
	if err != nil {
		return nil, fmt.Errorf("writing the archive: %w", err)
	}
	aw := &Writer{zw: zw, tw: tar.NewWriter(zw), chain: newChain(), names: map[string]Type{}}
	m.Format = formatFor(&m)
	aw.format, aw.broker = m.Format, m.Broker != nil
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("archive manifest: %w", err)
	}
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("archive manifest: %w (%d bytes)", ErrLimit, len(data))
	}
	if err := aw.add(ManifestName, data, nil); err != nil {
		return nil, err
	}
	return aw, nil
}

func (w *Writer) check(name string, t Type) error {
	if w.closed {
		return fmt.Errorf("archive: write after Close")
	}
	if err := CheckName(name); err != nil {
		return memberErr(name, err)
	}
	if name == BrokerName {
		if !w.broker || w.chain.n != 1 || t != TypeRegular {
			return memberErr(name, fmt.Errorf("%w: broker definitions come right after a manifest that names a broker", ErrUnsafePath))
		}
	} else if w.broker && w.chain.n == 1 {
		return memberErr(name, fmt.Errorf("%w: the manifest names a broker: its definitions (%s) come first", ErrUnsafePath, BrokerName))
	} else if w.chain.n > 0 && !strings.HasPrefix(name, "db/") && !strings.HasPrefix(name, "files/") {
		return memberErr(name, fmt.Errorf("%w: outside db/ and files/", ErrUnsafePath))
	}
	if _, dup := w.names[name]; dup {
		return memberErr(name, ErrDuplicate)
	}
	if w.chain.n+1 >= MaxMembers {
		return memberErr(name, ErrLimit)
	}
	if root := filesRoot(name); root != "" && root != name {
		if pt := w.names[parentOf(name)]; pt != TypeDir {
			return memberErr(name, ErrMissingParent)
		}
	} else if root == name && t != TypeDir {
		return memberErr(name, fmt.Errorf("%w: a files/ root must be a directory", ErrUnsupportedType))
	} else if strings.HasPrefix(name, "db/") && t != TypeRegular {
		return memberErr(name, fmt.Errorf("%w: db/ members are regular files", ErrUnsupportedType))
	}
	w.names[name] = t
	return nil
}

func (w *Writer) add(name string, data []byte, extra map[string]string) error {
	return w.AddFile(name, 0o644, time.Time{}, int64(len(data)), sha256.Sum256(data), bytes.NewReader(data), extra)
}

// AddBytes adds a regular member holding data (mode 0644).
func (w *Writer) AddBytes(name string, data []byte, extra map[string]string) error {
	return w.add(name, data, extra)
}

// AddFile adds a regular member of size bytes read from r, whose SHA-256
// the caller has already computed (the header, written first, carries it).
// Extra pax records are given without the DEPLOYKIT. prefix. If r yields
// fewer bytes than size the archive is unusable and an error is returned.
func (w *Writer) AddFile(name string, mode fs.FileMode, mtime time.Time, size int64, sum [32]byte, r io.Reader, extra map[string]string) error {
	if err := w.check(name, TypeRegular); err != nil {
		return err
	}
	if size < 0 || size > MaxMemberSize {
		return memberErr(name, ErrLimit)
	}
	pax := map[string]string{PAXSHA256: hex.EncodeToString(sum[:])}
	for k, v := range extra {
		if k == "sha256" {
			return memberErr(name, fmt.Errorf("extra record %q is reserved", k))
		}
		pax[PAXPrefix+k] = v
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: int64(mode.Perm()),
		ModTime: mtime, PAXRecords: pax, Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return memberErr(name, err)
	}
	n, err := io.Copy(w.tw, io.LimitReader(r, size))
	if err != nil {
		return memberErr(name, err)
	}
	if n != size {
		return memberErr(name, fmt.Errorf("%w: got %d of %d bytes", ErrSizeMismatch, n, size))
	}
	w.chain.add(&Member{Name: name, Type: TypeRegular, Size: size, SHA256: sum, Mode: mode.Perm(), Extra: extra})
	return nil
}

// AddDir adds a directory member.
func (w *Writer) AddDir(name string, mode fs.FileMode, mtime time.Time) error {
	if err := w.check(name, TypeDir); err != nil {
		return err
	}
	hdr := &tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: int64(mode.Perm()), ModTime: mtime, Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return memberErr(name, err)
	}
	w.chain.add(&Member{Name: name, Type: TypeDir, Mode: mode.Perm()})
	return nil
}

// AddSymlink adds a symbolic link member; target must stay inside the
// link's files/NAME tree.
func (w *Writer) AddSymlink(name, target string, mtime time.Time) error {
	if err := checkLink(name, target); err != nil {
		return memberErr(name, err)
	}
	if err := w.check(name, TypeSymlink); err != nil {
		return err
	}
	hdr := &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: mtime, Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return memberErr(name, err)
	}
	w.chain.add(&Member{Name: name, Type: TypeSymlink, Mode: 0o777, Link: target})
	return nil
}

// Close writes the seal (with extra, e.g. totals), ends the tar and zstd
// streams, and flushes. It does not close the underlying writer.
func (w *Writer) Close(extra map[string]string) error {
	if w.closed {
		return nil
	}
	s := Seal{Format: w.format, Members: w.chain.n, Chain: w.chain.sum(), Completed: time.Now().UTC(), Extra: extra}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if len(data) > MaxSealSize {
		return fmt.Errorf("archive seal: %w", ErrLimit)
	}
	sum := sha256.Sum256(data)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: SealName, Size: int64(len(data)), Mode: 0o644,
		PAXRecords: map[string]string{PAXSHA256: hex.EncodeToString(sum[:])}, Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := w.tw.Write(data); err != nil {
		return err
	}
	w.closed = true
	if err := w.tw.Close(); err != nil {
		return err
	}
	return w.zw.Close()
}

// Members returns the number of members written so far (the manifest
// included, the seal not).
func (w *Writer) Members() int { return w.chain.n }

// Abort releases the compressor without writing a seal: what was written is
// an archive every reader rejects as truncated.
func (w *Writer) Abort() {
	if !w.closed {
		w.closed = true
		w.zw.Close()
	}
}

func parentOf(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return ""
	}
	return name[:i]
}
