package venv

import (
	"fmt"
	"strings"

	"github.com/deploykit/deploykit/internal/lazyregexp"
)

// launcherTemplate is the console/gui script pip writes (its vendored
// distlib ScriptMaker's SCRIPT_TEMPLATE).
const launcherTemplate = `# -*- coding: utf-8 -*-
import re
import sys
from %s import %s
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\.pyw|\.exe)?$', '', sys.argv[0])
    sys.exit(%s())
`

// shebang is distlib's: "#!EXE" when the interpreter path has no space
// and the line fits the kernel's 127-byte limit, else the /bin/sh
// re-exec trick (the quoted path is run by sh; Python sees a string).
func shebang(exe string) string {
	if strings.Contains(exe, " ") {
		exe = `"` + exe + `"`
	}
	if !strings.Contains(exe, " ") && len(exe)+3 <= 127 {
		return "#!" + exe + "\n"
	}
	return "#!/bin/sh\n'''exec' " + exe + ` "$0" "$@"` + "\n' '''\n"
}

// launcher returns the script text for an entry point value.
func launcher(exe, value string) ([]byte, error) {
	spec, err := parseScriptSpec(value)
	if err != nil {
		return nil, err
	}
	importName, _, _ := strings.Cut(spec.Attr, ".")
	return []byte(shebang(exe) + fmt.Sprintf(launcherTemplate, spec.Module, importName, spec.Attr)), nil
}

var (
	pipVersioned         = lazyregexp.New(`^pip(\d(\.\d)?)?$`)
	easyInstallVersioned = lazyregexp.New(`^easy_install(-\d\.\d)?$`)
)

// consoleScripts applies pip's special case for pip and easy_install:
// their versioned entry points baked in at build time are replaced by
// pip, pipX, pipX.Y (easy_install, easy_install-X.Y) for the target
// interpreter. The result is name -> value.
func consoleScripts(eps []entryPoint, major, minor int) [][2]string {
	console := map[string]string{}
	var order []string
	for _, ep := range eps {
		if ep.Group != "console_scripts" {
			continue
		}
		if _, ok := console[ep.Name]; !ok {
			order = append(order, ep.Name)
		}
		console[ep.Name] = ep.Value
	}
	var out [][2]string
	mm := fmt.Sprintf("%d.%d", major, minor)
	drop := map[string]bool{}
	if v, ok := console["pip"]; ok {
		out = append(out, [2]string{"pip", v}, [2]string{fmt.Sprintf("pip%d", major), v}, [2]string{"pip" + mm, v})
		for _, k := range order {
			if pipVersioned.MatchString(k) {
				drop[k] = true
			}
		}
	}
	if v, ok := console["easy_install"]; ok {
		out = append(out, [2]string{"easy_install", v}, [2]string{"easy_install-" + mm, v})
		for _, k := range order {
			if easyInstallVersioned.MatchString(k) {
				drop[k] = true
			}
		}
	}
	for _, k := range order {
		if !drop[k] {
			out = append(out, [2]string{k, console[k]})
		}
	}
	return out
}
