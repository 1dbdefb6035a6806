package venv

import (
	"strings"
	"testing"
)

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte("a/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\r\na-1.0.dist-info/RECORD,,\r\n"))
	f.Add([]byte("\"a,b.py\",sha256=x,1\n\"q\"\"uote\",,\n"))
	f.Add([]byte("../../../bin/tool,sha256=abc,12\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := parseRecord(data)
		if err != nil {
			return
		}
		// What pip-style formatting writes reads back the same.
		again, err := parseRecord(formatRecord(rows))
		if err != nil {
			t.Fatalf("formatted RECORD does not parse: %v", err)
		}
		var keep []recordRow
		for _, r := range rows {
			if strings.ContainsAny(r.Path+r.Hash+r.Size, "\r") {
				return // csv normalizes \r\n inside quotes
			}
			keep = append(keep, r)
		}
		if len(again) != len(keep) {
			t.Fatalf("round trip: %d rows, then %d", len(keep), len(again))
		}
		for i := range keep {
			if again[i] != keep[i] {
				t.Fatalf("round trip row %d: %+v != %+v", i, again[i], keep[i])
			}
		}
	})
}

func FuzzParseEntryPoints(f *testing.F) {
	f.Add([]byte("[console_scripts]\ndjango-admin = django.core.management:execute_from_command_line\n"))
	f.Add([]byte("; comment\n[gui_scripts]\n  app = pkg.mod:App.run [extra1, extra2]\n# c\n[x]\n"))
	f.Add([]byte("[broken\nname=value"))
	f.Fuzz(func(t *testing.T, data []byte) {
		eps, err := parseEntryPoints(data)
		if err != nil {
			return
		}
		for _, ep := range eps {
			if ep.Group == "" || strings.ContainsAny(ep.Name, "\n") {
				t.Fatalf("bad entry point %+v", ep)
			}
			if spec, err := parseScriptSpec(ep.Value); err == nil {
				if spec.Module == "" || spec.Attr == "" {
					t.Fatalf("empty module or attr from %q", ep.Value)
				}
				if _, err := launcher("/venv/bin/python", ep.Value); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

func FuzzParseWheelMeta(f *testing.F) {
	f.Add([]byte("Wheel-Version: 1.0\nGenerator: bdist_wheel (0.38.4)\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
	f.Add([]byte("Wheel-Version: 1.9\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\nTag: cp311-cp311-manylinux_2_17_x86_64\n\nbody"))
	f.Add([]byte("Wheel-Version: 2.0\n"))
	f.Add([]byte(" continuation\nKey"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseWheelMeta(data)
		if err == nil && m.Version[0] != 1 {
			t.Fatalf("accepted Wheel-Version %v", m.Version)
		}
	})
}

func FuzzParseWheelName(f *testing.F) {
	f.Add("Django-3.2.25-py3-none-any.whl")
	f.Add("cryptography-38.0.4-cp311-abi3-linux_x86_64.whl")
	f.Add("pkg-1.0-1build-py2.py3-none-any.whl")
	f.Fuzz(func(t *testing.T, s string) {
		w, err := parseWheelName(s)
		if err != nil {
			return
		}
		if w.Name == "" || w.Version == "" || len(w.Tags) == 0 {
			t.Fatalf("%q parsed to %+v", s, w)
		}
	})
}
