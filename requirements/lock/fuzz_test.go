package lock

import (
	"bytes"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// encodes to a document that parses again to the same encoding.
func FuzzParse(f *testing.F) {
	f.Add([]byte(pep751Example))
	f.Add([]byte(sampleGolden))
	f.Add([]byte("lock-version = '1.0'\ncreated-by = 'x'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			return
		}
		out, err := Marshal(l)
		if err != nil {
			return // e.g. a tool table the encoder cannot write
		}
		l2, err := Parse(out)
		if err != nil {
			t.Fatalf("own output does not parse: %v\n%s", err, out)
		}
		out2, err := Marshal(l2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not a fixed point: %v\n%s\n---\n%s", err, out, out2)
		}
	})
}
