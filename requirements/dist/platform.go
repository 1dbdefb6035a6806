package dist

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// TagFactsScript is the Python program ProbeTagFacts runs: it prints the
// TagFacts of the interpreter running it as JSON. It uses the standard
// library only and runs on CPython 3.6 to 3.13 and PyPy, so another
// package that already runs an interpreter once (venv.Inspect) can run it
// in the same process or embed its output.
//
//go:embed pyscripts/tagfacts.py
var TagFactsScript string

// ELFHeader is what the interpreter's own executable says about itself;
// packaging uses it to tell armhf and i686 builds apart and to find the
// dynamic loader (musl detection).
type ELFHeader struct {
	Class       int    `json:"class"`   // 1: 32-bit, 2: 64-bit
	Data        int    `json:"data"`    // 1: little endian
	Machine     int    `json:"machine"` // e_machine: 3 i386, 40 ARM, 62 x86-64…
	Flags       uint32 `json:"flags"`
	Interpreter string `json:"interpreter"` // PT_INTERP, the dynamic loader
}

// TagFacts are the inputs of wheel tag computation, read once from an
// interpreter (TagFactsScript prints them). The JSON names are part of the
// API: other packages fill TagFacts from their own probe.
type TagFacts struct {
	Implementation string     `json:"implementation"`   // sys.implementation.name: "cpython", "pypy"
	VersionMajor   int        `json:"version_major"`    // sys.version_info[0]
	VersionMinor   int        `json:"version_minor"`    // sys.version_info[1]
	PyVersionNodot string     `json:"py_version_nodot"` // sysconfig "py_version_nodot": "311"
	Platform       string     `json:"platform"`         // sysconfig.get_platform(): "linux-x86_64"
	System         string     `json:"system"`           // platform.system(): "Linux", "Darwin", "Windows"
	Is32Bit        bool       `json:"is_32bit"`         // sys.maxsize <= 2**32
	PyDebug        *bool      `json:"py_debug"`         // sysconfig "Py_DEBUG"; nil when unset
	HasRefcount    bool       `json:"has_refcount"`     // hasattr(sys, "gettotalrefcount")
	DebugExtension bool       `json:"debug_extension"`  // "_d.pyd" in EXTENSION_SUFFIXES
	WithPymalloc   *bool      `json:"with_pymalloc"`    // sysconfig "WITH_PYMALLOC"; nil when unset
	GILDisabled    bool       `json:"gil_disabled"`     // sysconfig "Py_GIL_DISABLED" (free-threaded build)
	ExtSuffix      string     `json:"ext_suffix"`       // sysconfig "EXT_SUFFIX"
	SOABI          string     `json:"soabi"`            // sysconfig "SOABI"
	Glibc          string     `json:"glibc"`            // "2.36"; "" when not linked with glibc
	Musl           string     `json:"musl"`             // "1.2"; "" when not linked with musl
	ELF            *ELFHeader `json:"elf"`              // of sys.executable; nil when not ELF
	// ManylinuxVetoed lists "MAJOR_MINOR_ARCH" that the interpreter's
	// _manylinux module (PEP 600) declares incompatible.
	ManylinuxVetoed []string `json:"manylinux_vetoed"`
	MacVersion      string   `json:"mac_version"` // platform.mac_ver()[0]
	MacArch         string   `json:"mac_arch"`    // platform.mac_ver()[2]
}

// ProbeError is an interpreter that could not report its tag facts.
type ProbeError struct {
	Python string
	Err    error
	Stderr string
}

func (e *ProbeError) Error() string {
	msg := fmt.Sprintf("probing wheel tag facts of %s: %v", e.Python, e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *ProbeError) Unwrap() error { return e.Err }

// ProbeTagFacts runs python once with TagFactsScript and decodes its
// answer.
func ProbeTagFacts(ctx context.Context, python string) (TagFacts, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, "-I", "-c", TagFactsScript)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return TagFacts{}, &ProbeError{Python: python, Err: err, Stderr: stderr.String()}
	}
	var f TagFacts
	if err := json.Unmarshal(stdout.Bytes(), &f); err != nil {
		return TagFacts{}, &ProbeError{Python: python, Err: fmt.Errorf("decoding its answer: %w", err), Stderr: stderr.String()}
	}
	return f, nil
}

var interpreterShortNames = map[string]string{
	"python":     "py",
	"cpython":    "cp",
	"pypy":       "pp",
	"ironpython": "ip",
	"jython":     "jy",
}

// InterpreterName is packaging.tags.interpreter_name: "cp" for CPython.
func (f *TagFacts) InterpreterName() string {
	if s, ok := interpreterShortNames[f.Implementation]; ok {
		return s
	}
	return f.Implementation
}

func (f *TagFacts) versionNodot() string {
	return strconv.Itoa(f.VersionMajor) + strconv.Itoa(f.VersionMinor)
}

// interpreterVersion is packaging.tags.interpreter_version.
func (f *TagFacts) interpreterVersion() string {
	if f.PyVersionNodot != "" {
		return f.PyVersionNodot
	}
	return f.versionNodot()
}

func (f *TagFacts) atLeast(major, minor int) bool {
	return f.VersionMajor > major || (f.VersionMajor == major && f.VersionMinor >= minor)
}

// cpythonABIs is packaging.tags._cpython_abis.
func (f *TagFacts) cpythonABIs() []string {
	var threading, debug, pymalloc string
	if (f.PyDebug != nil && *f.PyDebug) || (f.PyDebug == nil && (f.HasRefcount || f.DebugExtension)) {
		debug = "d"
	}
	if f.atLeast(3, 13) && f.GILDisabled {
		threading = "t"
	}
	if !f.atLeast(3, 8) && (f.WithPymalloc == nil || *f.WithPymalloc) {
		pymalloc = "m"
	}
	v := f.versionNodot()
	abis := []string{"cp" + v + threading + debug + pymalloc}
	if f.atLeast(3, 8) && debug != "" {
		abis = append(abis, "cp"+v+threading)
	}
	return abis
}

func normalizePlatform(s string) string {
	return strings.NewReplacer(".", "_", "-", "_", " ", "_").Replace(s)
}

// genericABI is packaging.tags._generic_abi (from EXT_SUFFIX).
func (f *TagFacts) genericABI() []string {
	parts := strings.Split(f.ExtSuffix, ".")
	if !strings.HasPrefix(f.ExtSuffix, ".") {
		return nil
	}
	if len(parts) < 3 {
		return f.cpythonABIs()
	}
	soabi := parts[1]
	var abi string
	switch {
	case strings.HasPrefix(soabi, "cpython"):
		cp := strings.Split(soabi, "-")
		if len(cp) < 2 || cp[1] == "" {
			return nil
		}
		abi = "cp" + cp[1]
	case strings.HasPrefix(soabi, "cp"):
		abi = strings.Split(soabi, "-")[0]
	case strings.HasPrefix(soabi, "pypy"):
		abi = strings.Join(firstN(strings.Split(soabi, "-"), 2), "-")
	case strings.HasPrefix(soabi, "graalpy"):
		abi = strings.Join(firstN(strings.Split(soabi, "-"), 3), "-")
	case soabi != "":
		abi = soabi
	default:
		return nil
	}
	return []string{normalizePlatform(abi)}
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// glibcMajorMinor parses "2.36" like packaging's _parse_glibc_version.
func parseMajorMinor(s string) (int, int, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i >= len(s) || s[i] != '.' {
		return 0, 0, false
	}
	j := i + 1
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i+1 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(s[:i])
	minor, err2 := strconv.Atoi(s[i+1 : j])
	return major, minor, err1 == nil && err2 == nil
}

var manylinuxArchs = []string{"x86_64", "aarch64", "ppc64", "ppc64le", "s390x", "loongarch64", "riscv64"}

var legacyManylinux = map[[2]int]string{{2, 17}: "manylinux2014", {2, 12}: "manylinux2010", {2, 5}: "manylinux1"}

func (f *TagFacts) haveCompatibleABI(archs []string) bool {
	e := f.ELF
	if slices.Contains(archs, "armv7l") {
		const abiMask, abiVer5, floatHard = 0xFF000000, 0x05000000, 0x00000400
		return e != nil && e.Class == 1 && e.Data == 1 && e.Machine == 40 &&
			e.Flags&abiMask == abiVer5 && e.Flags&floatHard == floatHard
	}
	if slices.Contains(archs, "i686") {
		return e != nil && e.Class == 1 && e.Data == 1 && e.Machine == 3
	}
	for _, a := range archs {
		if slices.Contains(manylinuxArchs, a) {
			return true
		}
	}
	return false
}

// manylinuxTags is packaging._manylinux.platform_tags.
func (f *TagFacts) manylinuxTags(archs []string) []string {
	if !f.haveCompatibleABI(archs) {
		return nil
	}
	major, minor, ok := parseMajorMinor(f.Glibc)
	if !ok {
		major, minor = -1, -1
	}
	tooOld := [2]int{2, 16}
	if slices.Contains(archs, "x86_64") || slices.Contains(archs, "i686") {
		tooOld = [2]int{2, 4}
	}
	maxList := [][2]int{{major, minor}}
	for m := major - 1; m > 1; m-- {
		maxList = append(maxList, [2]int{m, 50})
	}
	compatible := func(arch string, v [2]int) bool {
		if major < v[0] || (major == v[0] && minor < v[1]) {
			return false
		}
		return !slices.Contains(f.ManylinuxVetoed, fmt.Sprintf("%d_%d_%s", v[0], v[1], arch))
	}
	var out []string
	for _, arch := range archs {
		for _, mx := range maxList {
			minMinor := -1
			if mx[0] == tooOld[0] {
				minMinor = tooOld[1]
			}
			for mn := mx[1]; mn > minMinor; mn-- {
				v := [2]int{mx[0], mn}
				if !compatible(arch, v) {
					continue
				}
				out = append(out, fmt.Sprintf("manylinux_%d_%d_%s", v[0], v[1], arch))
				if legacy, ok := legacyManylinux[v]; ok {
					out = append(out, legacy+"_"+arch)
				}
			}
		}
	}
	return out
}

// musllinuxTags is packaging._musllinux.platform_tags.
func (f *TagFacts) musllinuxTags(archs []string) []string {
	major, minor, ok := parseMajorMinor(f.Musl)
	if !ok {
		return nil
	}
	var out []string
	for _, arch := range archs {
		for mn := minor; mn >= 0; mn-- {
			out = append(out, fmt.Sprintf("musllinux_%d_%d_%s", major, mn, arch))
		}
	}
	return out
}

// PlatformTags returns the platform tags the interpreter accepts, best
// first (packaging.tags.platform_tags). On Linux that is manylinux
// (PEP 600, with the manylinux1/2010/2014 aliases next to glibc 2.5, 2.12,
// 2.17), then musllinux (PEP 656), then the native linux_ARCH tag — the
// order of pip's vendored packaging (packaging 26.3 moved linux_ARCH
// first; pip has not).
func (f *TagFacts) PlatformTags() []string { return f.platformTags(TagOptions{}) }

func (f *TagFacts) platformTags(o TagOptions) []string {
	switch f.System {
	case "Darwin":
		return f.macPlatforms()
	case "Linux":
		return f.linuxPlatforms(o.NativeLinuxFirst)
	}
	return []string{normalizePlatform(f.Platform)}
}

func (f *TagFacts) linuxPlatforms(nativeFirst bool) []string {
	linux := normalizePlatform(f.Platform)
	if !strings.HasPrefix(linux, "linux_") {
		return []string{linux}
	}
	if f.Is32Bit {
		switch linux {
		case "linux_x86_64":
			linux = "linux_i686"
		case "linux_aarch64":
			linux = "linux_armv8l"
		}
	}
	arch := strings.SplitN(linux, "_", 2)[1]
	archs := []string{arch}
	if arch == "armv8l" {
		archs = []string{"armv8l", "armv7l"}
	}
	var native []string
	for _, a := range archs {
		native = append(native, "linux_"+a)
	}
	var out []string
	if nativeFirst {
		out = append(out, native...)
	}
	out = append(out, f.manylinuxTags(archs)...)
	out = append(out, f.musllinuxTags(archs)...)
	if !nativeFirst {
		out = append(out, native...)
	}
	return out
}

func macBinaryFormats(major, minor int, arch string) []string {
	less := func(a, b int) bool { return major < a || (major == a && minor < b) }
	formats := []string{arch}
	switch arch {
	case "x86_64":
		if less(10, 4) {
			return nil
		}
		formats = append(formats, "intel", "fat64", "fat3")
	case "i386":
		if less(10, 4) {
			return nil
		}
		formats = append(formats, "intel", "fat3", "fat")
	case "ppc64":
		if !less(10, 6) || less(10, 4) {
			return nil
		}
		formats = append(formats, "fat64")
	case "ppc":
		if !less(10, 7) {
			return nil
		}
		formats = append(formats, "fat3", "fat")
	}
	if arch == "arm64" || arch == "x86_64" {
		formats = append(formats, "universal2")
	}
	switch arch {
	case "x86_64", "i386", "ppc64", "ppc", "intel":
		formats = append(formats, "universal")
	}
	return formats
}

// macPlatforms is packaging.tags.mac_platforms.
func (f *TagFacts) macPlatforms() []string {
	major, minor, ok := parseMajorMinor(f.MacVersion + ".0")
	if !ok {
		return []string{normalizePlatform(f.Platform)}
	}
	arch := f.MacArch
	if f.Is32Bit {
		if strings.HasPrefix(arch, "ppc") {
			arch = "ppc"
		} else {
			arch = "i386"
		}
	}
	var out []string
	emit := func(ma, mi int, formats []string) {
		for _, bf := range formats {
			out = append(out, fmt.Sprintf("macosx_%d_%d_%s", ma, mi, bf))
		}
	}
	if major == 10 {
		for m := minor; m >= 0; m-- {
			emit(10, m, macBinaryFormats(10, m, arch))
		}
	}
	if major >= 11 {
		for ma := major; ma > 10; ma-- {
			emit(ma, 0, macBinaryFormats(ma, 0, arch))
		}
		for m := 16; m > 3; m-- {
			if arch == "x86_64" {
				emit(10, m, macBinaryFormats(10, m, arch))
			} else {
				emit(10, m, []string{"universal2"})
			}
		}
	}
	return out
}

// TagOptions selects between the orders of packaging releases. The zero
// value is the behaviour of the packaging pip vendors today (22.0 to 26.2).
type TagOptions struct {
	// NoInterpreterAny leaves out cp3X-none-any, as packaging before 22.0
	// (vendored by pip up to 23.x) did.
	NoInterpreterAny bool
	// NativeLinuxFirst puts linux_ARCH before the manylinux and musllinux
	// tags, as packaging 26.3 does.
	NativeLinuxFirst bool
}

// SupportedTags returns every tag the interpreter accepts, best first,
// exactly as packaging.tags.sys_tags() orders them: for CPython
// cp3X-<abi>-<platform>, cp3X-abi3-<platform>, cp3X-none-<platform>, older
// cp3Y-abi3 tags; for others <interp>-<abi>-<platform>; then
// py3X-none-<platform> down to py30, cp3X-none-any and py*-none-any.
func SupportedTags(f TagFacts) []Tag { return SupportedTagsWith(f, TagOptions{}) }

// SupportedTagsWith is SupportedTags in the order of another packaging
// release.
func SupportedTagsWith(f TagFacts, o TagOptions) []Tag {
	plats := f.platformTags(o)
	var out []Tag
	emit := func(in, abi string, ps []string) {
		for _, p := range ps {
			out = append(out, Tag{in, abi, p})
		}
	}
	name := f.InterpreterName()
	var interp string
	if name == "cp" {
		self := "cp" + f.versionNodot()
		abis := slices.DeleteFunc(f.cpythonABIs(), func(a string) bool { return a == "abi3" || a == "none" })
		threading := strings.Contains(strings.TrimLeft(strings.TrimPrefix(abis[0], "cp"), "0123456789"), "t")
		for _, abi := range abis {
			emit(self, abi, plats)
		}
		abi3 := f.atLeast(3, 2) && !threading
		abi3t := f.atLeast(3, 2) && threading
		if abi3 {
			emit(self, "abi3", plats)
		}
		if abi3t {
			emit(self, "abi3t", plats)
		}
		emit(self, "none", plats)
		if abi3 || abi3t {
			for m := f.VersionMinor - 1; m > 1; m-- {
				in := "cp" + strconv.Itoa(f.VersionMajor) + strconv.Itoa(m)
				for _, p := range plats {
					if abi3 {
						out = append(out, Tag{in, "abi3", p})
					}
					if abi3t {
						out = append(out, Tag{in, "abi3t", p})
					}
				}
			}
		}
		interp = "cp" + f.interpreterVersion()
	} else {
		in := name + f.interpreterVersion()
		abis := f.genericABI()
		if !slices.Contains(abis, "none") {
			abis = append(abis, "none")
		}
		for _, abi := range abis {
			emit(in, abi, plats)
		}
		if name == "pp" {
			interp = "pp3"
		}
	}
	// compatible_tags
	pys := []string{"py" + f.versionNodot(), "py" + strconv.Itoa(f.VersionMajor)}
	for m := f.VersionMinor - 1; m >= 0; m-- {
		pys = append(pys, "py"+strconv.Itoa(f.VersionMajor)+strconv.Itoa(m))
	}
	for _, py := range pys {
		emit(py, "none", plats)
	}
	if name == "cp" && o.NoInterpreterAny {
		interp = ""
	}
	if interp != "" {
		out = append(out, Tag{interp, "none", "any"})
	}
	for _, py := range pys {
		out = append(out, Tag{py, "none", "any"})
	}
	return out
}
