package venv

import (
	"fmt"
	"strconv"
	"strings"
)

// supportedTags is the set of "python-abi-platform" wheel tags the
// interpreter accepts, computed as packaging.tags.sys_tags() does for
// CPython (cpython_tags + compatible_tags) and other implementations
// (generic_tags), with manylinux platforms from the glibc version.
func supportedTags(py *Interpreter) map[string]bool {
	tags := map[string]bool{}
	major, minor := py.Major(), py.Minor()
	nodot := fmt.Sprintf("%d%d", major, minor)
	plats := platformTags(py)
	interp := "cp"
	switch py.Implementation {
	case "cpython":
	case "pypy":
		interp = "pp"
	default:
		interp = py.Implementation
	}
	abis := []string{}
	if interp == "cp" {
		abi := "cp" + nodot
		if py.PyDebug {
			abi += "d"
		}
		if minor < 8 && py.WithPymalloc {
			abi += "m"
		}
		if py.GILDisabled {
			abi += "t"
		}
		abis = append(abis, abi)
	} else if py.SOABI != "" {
		// "pypy39-pp73-x86_64-linux-gnu" -> "pypy39_pp73"
		parts := strings.Split(py.SOABI, "-")
		if len(parts) >= 2 {
			abis = append(abis, strings.ReplaceAll(parts[0]+"_"+parts[1], ".", "_"))
		} else {
			abis = append(abis, strings.NewReplacer(".", "_", "-", "_").Replace(py.SOABI))
		}
	}
	self := interp + nodot
	for _, abi := range abis {
		for _, p := range plats {
			tags[self+"-"+abi+"-"+p] = true
		}
	}
	if interp == "cp" && !py.GILDisabled {
		for _, p := range plats {
			tags[self+"-abi3-"+p] = true
		}
		for m := minor - 1; m >= 2; m-- {
			for _, p := range plats {
				tags["cp"+strconv.Itoa(major)+strconv.Itoa(m)+"-abi3-"+p] = true
			}
		}
	}
	for _, p := range plats {
		tags[self+"-none-"+p] = true
	}
	// compatible_tags: py3X-none-plat, py3-none-plat, then any.
	var pys []string
	for m := minor; m >= 0; m-- {
		pys = append(pys, "py"+strconv.Itoa(major)+strconv.Itoa(m))
	}
	pys = append(pys, "py"+strconv.Itoa(major))
	for _, v := range pys {
		for _, p := range plats {
			tags[v+"-none-"+p] = true
		}
		tags[v+"-none-any"] = true
	}
	tags[self+"-none-any"] = true
	return tags
}

// platformTags: the interpreter's own platform, then manylinux_2_N
// (with the legacy aliases) for every glibc 2.N it can run, then
// musllinux is left out (no musl interpreter facts are collected).
func platformTags(py *Interpreter) []string {
	plat := strings.NewReplacer("-", "_", ".", "_").Replace(py.Platform)
	if py.PointerBits == 32 && plat == "linux_x86_64" {
		plat = "linux_i686"
	}
	plats := []string{plat}
	arch, ok := strings.CutPrefix(plat, "linux_")
	if !ok {
		return plats
	}
	var glibcMinor int
	if v, ok := strings.CutPrefix(py.Libc, "glibc "); ok {
		parts := strings.Split(v, ".")
		if len(parts) >= 2 && parts[0] == "2" {
			glibcMinor, _ = strconv.Atoi(parts[1])
		}
	}
	for m := glibcMinor; m >= 5; m-- {
		plats = append(plats, fmt.Sprintf("manylinux_2_%d_%s", m, arch))
		switch m {
		case 17:
			plats = append(plats, "manylinux2014_"+arch)
		case 12:
			plats = append(plats, "manylinux2010_"+arch)
		case 5:
			plats = append(plats, "manylinux1_"+arch)
		}
	}
	return plats
}

// checkCompatible reports ErrIncompatible unless one of the wheel's tags
// is supported.
func checkCompatible(wn wheelName, supported map[string]bool) error {
	for _, t := range wn.Tags {
		if supported[t] {
			return nil
		}
	}
	return fmt.Errorf("%w (wheel tags %s)", ErrIncompatible, strings.Join(wn.Tags, ", "))
}
