package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// validArchive writes a small archive with every member type.
func validArchive(t testing.TB, instance string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Manifest{Instance: instance, Created: time.Unix(1700000000, 0).UTC(), Dirs: []string{"data"}}, WriterOptions{Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.AddBytes("db/catalog.json", []byte(`{"tables":[]}`), nil))
	must(w.AddBytes("db/data/1/0", []byte("1\tone\n2\ttwo\n"), map[string]string{"rows": "2"}))
	must(w.AddDir("files/data", 0o755, time.Time{}))
	must(w.AddDir("files/data/sub", 0o700, time.Time{}))
	must(w.AddBytes("files/data/sub/a.txt", []byte("hello"), nil))
	must(w.AddSymlink("files/data/link", "sub/a.txt", time.Time{}))
	must(w.AddSymlink("files/data/sub/up", "../sub", time.Time{}))
	must(w.Close(map[string]string{"rows": "2"}))
	return buf.Bytes()
}

// readAll reads an archive to the end, returning the member names and the
// content of regular members.
func readAll(data []byte, opts ReaderOptions) (map[string]string, []string, error) {
	r, err := NewReader(bytes.NewReader(data), opts)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	content := map[string]string{}
	var names []string
	for {
		m, err := r.Next()
		if err == io.EOF {
			return content, names, nil
		}
		if err != nil {
			return content, names, err
		}
		names = append(names, m.Name)
		if m.Type == TypeRegular {
			b, err := io.ReadAll(r)
			if err != nil {
				return content, names, err
			}
			content[m.Name] = string(b)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	data := validArchive(t, "prod")
	content, names, err := readAll(data, ReaderOptions{Instance: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"db/catalog.json", "db/data/1/0", "files/data", "files/data/sub", "files/data/sub/a.txt", "files/data/link", "files/data/sub/up"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("members %v, want %v", names, want)
	}
	if content["files/data/sub/a.txt"] != "hello" || content["db/data/1/0"] != "1\tone\n2\ttwo\n" {
		t.Fatalf("content %q", content)
	}
	if ac, an, err := readAll(data, ReaderOptions{Instance: "prod", ReadAhead: true}); err != nil || fmt.Sprint(ac) != fmt.Sprint(content) || fmt.Sprint(an) != fmt.Sprint(names) {
		t.Fatalf("read ahead: %v, %v, %q", err, an, ac)
	}
	r, err := NewReader(bytes.NewReader(data), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := r.Manifest(); m.Instance != "prod" || m.Format != FormatVersion || m.Dirs[0] != "data" {
		t.Fatalf("manifest %+v", m)
	}
	var extra map[string]string
	for {
		m, err := r.Next() // members skipped unread are verified too
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Name == "db/data/1/0" {
			extra = m.Extra
		}
	}
	if extra["rows"] != "2" || r.Seal().Extra["rows"] != "2" || r.Seal().Members != 8 {
		t.Fatalf("extra %v, seal %+v", extra, r.Seal())
	}
}

// raw builds an archive member by member without the Writer's checks, so
// tests can make hostile archives. Each entry's SHA-256 record is computed
// unless the header already has one; a seal matching the members is added
// unless noSeal.
type raw struct {
	hdrs     []*tar.Header
	bodies   []string
	noSeal   bool
	badChain bool
	format   int
	instance string
	broker   bool // the manifest names a broker
}

func (a *raw) add(h *tar.Header, body string) *raw {
	a.hdrs = append(a.hdrs, h)
	a.bodies = append(a.bodies, body)
	return a
}

func (a *raw) file(name, body string) *raw {
	return a.add(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body)
}

func (a *raw) dir(name string) *raw {
	return a.add(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755}, "")
}

func (a *raw) bytes(t testing.TB) []byte {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	c := newChain()
	format := a.format
	if format == 0 {
		format = FormatVersion
	}
	inst := a.instance
	if inst == "" {
		inst = "prod"
	}
	mm := map[string]any{"format": format, "instance": inst}
	if a.broker {
		mm["broker"] = map[string]string{"kind": "rabbitmq", "vhost": "dk-" + inst}
	}
	man, _ := json.Marshal(mm)
	hdrs := append([]*tar.Header{{Typeflag: tar.TypeReg, Name: ManifestName, Mode: 0o644, Size: int64(len(man))}}, a.hdrs...)
	bodies := append([]string{string(man)}, a.bodies...)
	write := func(h *tar.Header, body string) {
		h.Format = tar.FormatPAX
		if h.Typeflag == tar.TypeReg {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			if _, ok := h.PAXRecords[PAXSHA256]; !ok {
				s := sha256.Sum256([]byte(body))
				h.PAXRecords[PAXSHA256] = hex.EncodeToString(s[:])
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
		m := &Member{Name: strings.TrimSuffix(h.Name, "/"), Type: Type(h.Typeflag), Size: h.Size, Link: h.Linkname}
		b, _ := hex.DecodeString(h.PAXRecords[PAXSHA256])
		copy(m.SHA256[:], b)
		m.Mode = fs.FileMode(h.Mode & 0o777)
		c.add(m)
	}
	for i, h := range hdrs {
		write(h, bodies[i])
	}
	if !a.noSeal {
		n, sum := c.n, c.sum()
		if a.badChain {
			n--
		}
		seal, _ := json.Marshal(Seal{Format: FormatVersion, Members: n, Chain: sum})
		s := sha256.Sum256(seal)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: SealName, Mode: 0o644, Size: int64(len(seal)),
			PAXRecords: map[string]string{PAXSHA256: hex.EncodeToString(s[:])}, Format: tar.FormatPAX})
		tw.Write(seal)
		tw.Close()
	} else {
		tw.Flush()
	}
	return compress(t, tarBuf.Bytes())
}

func compress(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	zw, err := zstd.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

func base() *raw { return (&raw{}).dir("files/data") }

func TestHostileArchivesAreRejected(t *testing.T) {
	cases := []struct {
		name string
		a    *raw
		want error
	}{
		{"traversal", base().file("files/data/../../etc/passwd", "x"), ErrUnsafePath},
		{"traversal-db", base().file("db/../../x", "x"), ErrUnsafePath},
		{"absolute", base().file("/etc/passwd", "x"), ErrUnsafePath},
		{"dot element", base().file("files/data/./x", "x"), ErrUnsafePath},
		{"outside roots", base().file("etc/passwd", "x"), ErrUnsafePath},
		{"reserved prefix", base().file("deploykit/other", "x"), ErrUnsafePath},
		{"symlink absolute", base().add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "files/data/l", Linkname: "/etc"}, ""), ErrSymlinkEscape},
		{"symlink escape", base().add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "files/data/l", Linkname: "../../etc"}, ""), ErrSymlinkEscape},
		{"symlink into other dir", base().dir("files/other").add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "files/data/l", Linkname: "../other"}, ""), ErrSymlinkEscape},
		{"symlink unclean", base().add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "files/data/l", Linkname: "x/../.."}, ""), ErrSymlinkEscape},
		{"write through symlink", base().add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "files/data/l", Linkname: "."}, "").file("files/data/l/x", "x"), ErrMissingParent},
		{"missing parent", base().file("files/data/a/b", "x"), ErrMissingParent},
		{"root not dir", (&raw{}).file("files/data", "x"), ErrUnsupportedType},
		{"char device", base().add(&tar.Header{Typeflag: tar.TypeChar, Name: "files/data/null", Devmajor: 1, Devminor: 3}, ""), ErrDevice},
		{"block device", base().add(&tar.Header{Typeflag: tar.TypeBlock, Name: "files/data/sda", Devmajor: 8}, ""), ErrDevice},
		{"fifo", base().add(&tar.Header{Typeflag: tar.TypeFifo, Name: "files/data/p"}, ""), ErrUnsupportedType},
		{"hard link out", base().add(&tar.Header{Typeflag: tar.TypeLink, Name: "files/data/h", Linkname: "../../etc/shadow"}, ""), ErrHardLink},
		{"hard link in", base().file("files/data/a", "x").add(&tar.Header{Typeflag: tar.TypeLink, Name: "files/data/h", Linkname: "files/data/a"}, ""), ErrHardLink},
		{"duplicate", base().file("files/data/a", "x").file("files/data/a", "y"), ErrDuplicate},
		{"duplicate dir", base().dir("files/data"), ErrDuplicate},
		{"second manifest", base().file(ManifestName, "{}"), ErrDuplicate},
		{"hash mismatch", base().add(&tar.Header{Typeflag: tar.TypeReg, Name: "files/data/a", Size: 5,
			PAXRecords: map[string]string{PAXSHA256: strings.Repeat("0", 64)}}, "hello"), ErrHashMismatch},
		{"missing hash", base().add(&tar.Header{Typeflag: tar.TypeReg, Name: "files/data/a", Size: 5,
			PAXRecords: map[string]string{PAXSHA256: ""}}, "hello"), ErrHashMismatch},
		{"setuid", base().add(&tar.Header{Typeflag: tar.TypeReg, Name: "files/data/a", Mode: 0o4755}, ""), ErrBadMode},
		{"db dir", base().dir("db/x"), ErrUnsupportedType},
		{"no seal", func() *raw { a := base().file("files/data/a", "x"); a.noSeal = true; return a }(), ErrTruncated},
		{"bad chain", func() *raw { a := base().file("files/data/a", "x"); a.badChain = true; return a }(), ErrSeal},
		{"unknown version", &raw{format: 3}, ErrFormatVersion},
		{"broker member in format 1", (&raw{}).file(BrokerName, "{}"), ErrUnsafePath},
		{"format 2 without a broker", &raw{format: 2}, ErrManifest},
		{"format 1 naming a broker", &raw{format: 1, broker: true}, ErrManifest},
		{"broker member not second", (&raw{format: 2, broker: true}).dir("files/data").file(BrokerName, "{}"), ErrUnsafePath},
		{"broker definitions missing", (&raw{format: 2, broker: true}).dir("files/data"), ErrUnsafePath},
		{"other broker member", (&raw{format: 2, broker: true}).file("broker/other.json", "{}"), ErrUnsafePath},
		{"broker member a dir", (&raw{format: 2, broker: true}).dir("broker/definitions.json"), ErrUnsupportedType},
		{"other instance", &raw{instance: "staging"}, ErrOtherInstance},
	}
	for _, c := range cases {
		for _, ahead := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/readahead=%v", c.name, ahead), func(t *testing.T) {
				_, _, err := readAll(c.a.bytes(t), ReaderOptions{Instance: "prod", ReadAhead: ahead})
				if !errors.Is(err, c.want) {
					t.Fatalf("got %v, want %v", err, c.want)
				}
			})
		}
	}
}

func TestOtherInstanceAcceptedWithForce(t *testing.T) {
	data := validArchive(t, "prod")
	if _, _, err := readAll(data, ReaderOptions{Instance: "staging"}); !errors.Is(err, ErrOtherInstance) {
		t.Fatalf("without force: %v", err)
	}
	if _, _, err := readAll(data, ReaderOptions{Instance: "staging", Force: true}); err != nil {
		t.Fatalf("with force: %v", err)
	}
}

func TestTruncatedStreamIsRejectedAtEveryLength(t *testing.T) {
	data := validArchive(t, "prod")
	for n := 0; n < len(data); n += 1 + n/16 {
		_, _, err := readAll(data[:n], ReaderOptions{})
		if _, _, aerr := readAll(data[:n], ReaderOptions{ReadAhead: true}); aerr == nil || fmt.Sprint(aerr) != fmt.Sprint(err) {
			t.Fatalf("truncated to %d of %d bytes: read ahead %v, without %v", n, len(data), aerr, err)
		}
		if err == nil {
			t.Fatalf("truncated to %d of %d bytes: accepted", n, len(data))
		}
		if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNotArchive) {
			t.Logf("truncated to %d: %v", n, err) // a broken zstd frame is also fine
		}
	}
}

func TestCorruptByteIsDetected(t *testing.T) {
	data := validArchive(t, "prod")
	orig, _, err := readAll(data, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 4; i < len(data); i += 7 {
		c := bytes.Clone(data)
		c[i] ^= 0x40
		// A flip in zstd's padding bits may decode to the same content,
		// which is harmless; any other change must be an error.
		for _, ahead := range []bool{false, true} {
			if got, _, err := readAll(c, ReaderOptions{ReadAhead: ahead}); err == nil && fmt.Sprint(got) != fmt.Sprint(orig) {
				t.Fatalf("flipping byte %d changed the content unnoticed (read ahead: %v)", i, ahead)
			}
		}
	}
}

func TestDataAfterSealIsRejected(t *testing.T) {
	data := validArchive(t, "prod")
	extra := compress(t, []byte("trailing garbage"))
	for _, ahead := range []bool{false, true} {
		if _, _, err := readAll(append(bytes.Clone(data), extra...), ReaderOptions{ReadAhead: ahead}); !errors.Is(err, ErrSeal) {
			t.Fatalf("read ahead %v: got %v", ahead, err)
		}
	}
}

func TestNotAnArchive(t *testing.T) {
	for _, in := range []string{"", "PK\x03\x04", strings.Repeat("x", 100)} {
		if _, err := NewReader(strings.NewReader(in), ReaderOptions{}); !errors.Is(err, ErrNotArchive) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestWriterRefusesWhatReadersReject(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Manifest{Instance: "x"}, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, err := range []error{
		w.AddBytes("../x", nil, nil),
		w.AddBytes("files/data/x", nil, nil), // no parent
		w.AddSymlink("files/data/l", "/etc", time.Time{}),
		w.AddBytes(SealName, nil, nil),
		w.AddBytes("etc/passwd", nil, nil),
	} {
		if err == nil {
			t.Error("accepted")
		}
	}
	if err := w.AddDir("files/data", 0o755, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddDir("files/data", 0o755, time.Time{}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate: %v", err)
	}
}

func TestMemberErrorNamesTheMember(t *testing.T) {
	_, _, err := readAll(base().file("files/data/../x", "x").bytes(t), ReaderOptions{})
	var me *MemberError
	if !errors.As(err, &me) || me.Name != "files/data/../x" {
		t.Fatalf("%v", err)
	}
	if !strings.Contains(err.Error(), `"files/data/../x"`) {
		t.Fatal(err)
	}
	_ = fmt.Sprint(me)
}

// An archive with broker definitions is format 2, the definitions right
// after the manifest; one without stays format 1, which older readers
// read; a reader reads both.
func TestBrokerDefinitionsMakeFormat2(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Manifest{Instance: "prod", Broker: &BrokerInfo{Kind: "rabbitmq", Vhost: "dk-prod"}, Dirs: []string{"data"}}, WriterOptions{Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddDir("files/data", 0o755, time.Time{}); err == nil {
		t.Fatal("a member before the broker definitions was accepted")
	}
	if err := w.AddBytes(BrokerName, []byte(`{"queues":[]}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := w.AddDir("files/data", 0o755, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(buf.Bytes()), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if m := r.Manifest(); m.Format != FormatVersionBroker || m.Broker == nil || m.Broker.Vhost != "dk-prod" {
		t.Fatalf("manifest %+v", m)
	}
	content, names, err := readAll(buf.Bytes(), ReaderOptions{})
	if err != nil || content[BrokerName] != `{"queues":[]}` || names[0] != BrokerName {
		t.Fatalf("%v %v %v", names, content, err)
	}
	if m, _ := NewReader(bytes.NewReader(validArchive(t, "prod")), ReaderOptions{}); m.Manifest().Format != FormatVersion {
		t.Fatal("an archive without a broker is not format 1")
	}
	var plain bytes.Buffer
	w2, _ := NewWriter(&plain, Manifest{Instance: "prod"}, WriterOptions{Concurrency: 1})
	if err := w2.AddBytes(BrokerName, []byte("{}"), nil); err == nil {
		t.Fatal("broker definitions in an archive whose manifest names no broker")
	}
}
