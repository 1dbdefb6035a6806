package dist

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func writeTarGz(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	tw.Close()
	gz.Close()
	f.Close()
}

func TestReadSdistMetadata(t *testing.T) {
	dir := t.TempDir()
	pkgInfo := "Metadata-Version: 2.2\nName: demo\nVersion: 1.0\nRequires-Dist: idna\nDynamic: Classifier\n"
	tgz := filepath.Join(dir, "demo-1.0.tar.gz")
	writeTarGz(t, tgz, map[string]string{"demo-1.0/setup.py": "", "demo-1.0/src/PKG-INFO": "junk", "demo-1.0/PKG-INFO": pkgInfo})
	m, err := ReadSdistMetadata(context.Background(), tgz)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "demo" || len(m.RequiresDist) != 1 || !m.StaticDependencies() {
		t.Errorf("tar.gz metadata %+v static=%v", m, m.StaticDependencies())
	}

	zp := filepath.Join(dir, "demo-1.0.zip")
	f, _ := os.Create(zp)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("demo-1.0/PKG-INFO")
	w.Write([]byte("Metadata-Version: 2.2\nName: demo\nVersion: 1.0\nDynamic: Requires-Dist\n"))
	zw.Close()
	f.Close()
	m, err = ReadSdistMetadata(context.Background(), zp)
	if err != nil {
		t.Fatal(err)
	}
	if m.StaticDependencies() {
		t.Error("Requires-Dist is dynamic")
	}

	old := filepath.Join(dir, "old-1.0.tar.gz")
	writeTarGz(t, old, map[string]string{"old-1.0/PKG-INFO": "Metadata-Version: 1.1\nName: old\nVersion: 1.0\n"})
	if m, err := ReadSdistMetadata(context.Background(), old); err != nil || m.StaticDependencies() {
		t.Errorf("metadata 1.1 cannot be static: %v %v", m, err)
	}

	none := filepath.Join(dir, "none-1.0.tar.gz")
	writeTarGz(t, none, map[string]string{"none-1.0/setup.py": ""})
	if _, err := ReadSdistMetadata(context.Background(), none); !errors.Is(err, ErrNoMetadata) {
		t.Errorf("no PKG-INFO: %v", err)
	}
}
