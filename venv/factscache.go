package venv

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/deploykit/deploykit/internal/atomicfile"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/dist"
)

// UserCacheDir is the per-user directory the deploykit CLI keeps
// interpreter facts in when it runs as an ordinary user:
// $XDG_CACHE_HOME/deploykit, else ~/.cache/deploykit. (As root the CLI
// uses its root's cache, ROOT/cache, as instance operations do.)
func UserCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("venv: user cache directory: %w", err)
	}
	return filepath.Join(d, "deploykit"), nil
}

// factsVersion changes whenever facts.py or the Interpreter fields change,
// so stale cache files are never read back. Computed on first use, not at
// program start: every deploykit process pays for package initialisation.
var factsVersion = sync.OnceValue(func() string {
	h := sha256.Sum256([]byte(factsScript + dist.TagFactsScript + requirements.EnvironmentScript))
	return hex.EncodeToString(h[:8])
})

// factsKey names the cached facts of the interpreter abs (real once
// symlinks are resolved). It changes whenever what the facts describe may
// have changed:
//   - the executable: path, device, inode, size, modification and change
//     time (ctime moves on every write, rename, chmod or link and cannot be
//     set back, so an interpreter replaced by `cp -p` with an equal size
//     and mtime — pyenv's 3.9, 3.10 and 3.11 launchers are all 17,584
//     bytes — still gets a new key);
//   - the kernel (platform_release and platform_version are markers);
//   - the dynamic linker's cache, which ldconfig rewrites whenever a
//     library such as the C library is installed or upgraded (the glibc
//     version decides the manylinux tags);
//   - facts.py and the scripts it runs (factsVersion).
func factsKey(abs, real string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(real, &st); err != nil {
		return "", &os.PathError{Op: "stat", Path: real, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR || st.Mode&0o111 == 0 {
		return "", ErrNotExecutable
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	var ld unix.Stat_t
	_ = unix.Stat("/etc/ld.so.cache", &ld)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d:%d:%d\x00%d.%d\x00%d.%d\x00%s\x00%s\x00%d:%d.%d\x00%s",
		abs, real, st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec,
		bytes.TrimRight(uts.Release[:], "\x00"), bytes.TrimRight(uts.Version[:], "\x00"),
		ld.Ino, ld.Mtim.Sec, ld.Mtim.Nsec, factsVersion())
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// factsFile is the on-disk form of cached facts: the facts' JSON and its
// sha256, so that a file damaged in any way (truncated by a crash, a
// flipped bit, a hand edit) is never taken for facts.
type factsFile struct {
	SHA256 string          `json:"sha256"`
	Facts  json.RawMessage `json:"facts"`
}

func factsPath(cacheDir, key string) string {
	return filepath.Join(cacheDir, "interpreters", key+".json")
}

// readFacts returns the cached facts of the interpreter abs under key, or
// an error when there are none that can be trusted.
func readFacts(cacheDir, key, abs string) (*Interpreter, error) {
	b, err := os.ReadFile(factsPath(cacheDir, key))
	if err != nil {
		return nil, err
	}
	var f factsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(f.Facts)
	if hex.EncodeToString(sum[:]) != f.SHA256 {
		return nil, errors.New("checksum mismatch")
	}
	var py Interpreter
	if err := json.Unmarshal(f.Facts, &py); err != nil {
		return nil, err
	}
	if py.Stamp != key || py.Path != abs {
		return nil, errors.New("facts of another interpreter")
	}
	return &py, nil
}

// writeFacts stores py under key. A cache that cannot be written only
// costs the next process a run of the interpreter, so failures are
// returned for logging, never to fail the caller.
func writeFacts(cacheDir, key string, py *Interpreter) error {
	facts, err := json.Marshal(py)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(facts)
	b, err := json.Marshal(factsFile{SHA256: hex.EncodeToString(sum[:]), Facts: facts})
	if err != nil {
		return err
	}
	p := factsPath(cacheDir, key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, b, 0o644)
}
