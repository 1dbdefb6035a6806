package requirements

import (
	"fmt"
	"sort"
	"strings"
)

// pip parses the options part of each requirements-file line with optparse
// and a fixed option table (pip/_internal/req/req_file.py, build_parser).
// This file reproduces that: long options may be abbreviated to a unique
// prefix, "--opt=value" and "--opt value", clustered short options
// ("-ifoo"), "--" ends the options, and positional words are ignored.

type optKind int

const (
	optStore optKind = iota // takes a value
	optFlag                 // store_true
)

type optSpec struct {
	dest  string
	kind  optKind
	short string
	long  []string
}

var pipOptions = []optSpec{
	{"index_url", optStore, "-i", []string{"--index-url", "--pypi-url"}},
	{"extra_index_urls", optStore, "", []string{"--extra-index-url"}},
	{"no_index", optFlag, "", []string{"--no-index"}},
	{"constraints", optStore, "-c", []string{"--constraint"}},
	{"requirements", optStore, "-r", []string{"--requirement"}},
	{"editables", optStore, "-e", []string{"--editable"}},
	{"find_links", optStore, "-f", []string{"--find-links"}},
	{"no_binary", optStore, "", []string{"--no-binary"}},
	{"only_binary", optStore, "", []string{"--only-binary"}},
	{"prefer_binary", optFlag, "", []string{"--prefer-binary"}},
	{"require_hashes", optFlag, "", []string{"--require-hashes"}},
	{"pre", optFlag, "", []string{"--pre"}},
	{"trusted_hosts", optStore, "", []string{"--trusted-host"}},
	{"features_enabled", optStore, "", []string{"--use-feature"}},
	{"global_options", optStore, "", []string{"--global-option"}},
	{"hashes", optStore, "", []string{"--hash"}},
	{"config_settings", optStore, "-C", []string{"--config-settings"}},
}

var useFeatureChoices = []string{"fast-deps", "truststore", "no-binary-enable-wheel-cache"}

var strongHashes = []string{"sha256", "sha384", "sha512"}

// lineOpts is what one line's options set. Slices keep command-line order.
type lineOpts struct {
	indexURL       *string
	extraIndexURLs []string
	noIndex        bool
	constraints    []string
	requirements   []string
	editables      []string
	findLinks      []string
	prefer         bool
	requireHashes  bool
	pre            bool
	trustedHosts   []string
	globalOptions  []string
	hashes         []string // "algo:digest"
	configSettings map[string][]string
	configOrder    []string
}

// formatControl is pip's FormatControl: names (normalized) or ":all:".
type formatControl struct {
	noBinary, onlyBinary map[string]bool
}

func newFormatControl() *formatControl {
	return &formatControl{noBinary: map[string]bool{}, onlyBinary: map[string]bool{}}
}

// mutualExcludes is FormatControl.handle_mutual_excludes.
func (fc *formatControl) mutualExcludes(value string, target, other map[string]bool) error {
	if strings.HasPrefix(value, "-") {
		return fmt.Errorf("--no-binary / --only-binary option requires 1 argument")
	}
	names := strings.Split(value, ",")
	for {
		i := indexOf(names, ":all:")
		if i < 0 {
			break
		}
		clear(other)
		clear(target)
		target[":all:"] = true
		names = names[i+1:]
		if indexOf(names, ":none:") < 0 {
			return nil
		}
	}
	for _, n := range names {
		if n == ":none:" {
			clear(target)
			continue
		}
		n = NormalizeName(n)
		delete(other, n)
		target[n] = true
	}
	return nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// parseLineOptions runs the option table over args (already shlex-split).
// The format control is shared across the whole parse, as pip shares the
// finder's.
func parseLineOptions(args []string, fc *formatControl) (*lineOpts, error) {
	o := &lineOpts{}
	for len(args) > 0 {
		arg := args[0]
		switch {
		case arg == "--":
			return o, nil
		case strings.HasPrefix(arg, "--"):
			args = args[1:]
			name, value, explicit := strings.Cut(arg, "=")
			spec, err := matchLong(name)
			if err != nil {
				return nil, err
			}
			if spec.kind == optFlag {
				if explicit {
					return nil, fmt.Errorf("%s option does not take a value", spec.long[0])
				}
				o.setFlag(spec)
				continue
			}
			if !explicit {
				if len(args) == 0 {
					return nil, fmt.Errorf("%s option requires 1 argument", spec.long[0])
				}
				value, args = args[0], args[1:]
			}
			if err := o.store(spec, spec.long[0], value, fc); err != nil {
				return nil, err
			}
		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			args = args[1:]
			for i := 1; i < len(arg); i++ {
				opt := "-" + string(arg[i])
				spec := matchShort(opt)
				if spec == nil {
					return nil, fmt.Errorf("no such option: %s", opt)
				}
				if spec.kind == optFlag {
					o.setFlag(spec)
					continue
				}
				var value string
				if i+1 < len(arg) {
					value = arg[i+1:]
				} else {
					if len(args) == 0 {
						return nil, fmt.Errorf("%s option requires 1 argument", opt)
					}
					value, args = args[0], args[1:]
				}
				if err := o.store(spec, opt, value, fc); err != nil {
					return nil, err
				}
				break
			}
		default:
			// optparse collects interspersed positional arguments; pip
			// ignores them.
			args = args[1:]
		}
	}
	return o, nil
}

func matchLong(name string) (*optSpec, error) {
	var cands []*optSpec
	var candNames []string
	for i := range pipOptions {
		for _, l := range pipOptions[i].long {
			if l == name {
				return &pipOptions[i], nil
			}
			if strings.HasPrefix(l, name) {
				cands = append(cands, &pipOptions[i])
				candNames = append(candNames, l)
			}
		}
	}
	switch len(cands) {
	case 0:
		return nil, fmt.Errorf("no such option: %s", name)
	case 1:
		return cands[0], nil
	}
	return nil, fmt.Errorf("ambiguous option: %s (%s?)", name, strings.Join(candNames, ", "))
}

func matchShort(opt string) *optSpec {
	for i := range pipOptions {
		if pipOptions[i].short == opt {
			return &pipOptions[i]
		}
	}
	return nil
}

func (o *lineOpts) setFlag(spec *optSpec) {
	switch spec.dest {
	case "no_index":
		o.noIndex = true
	case "prefer_binary":
		o.prefer = true
	case "require_hashes":
		o.requireHashes = true
	case "pre":
		o.pre = true
	}
}

func (o *lineOpts) store(spec *optSpec, opt, value string, fc *formatControl) error {
	switch spec.dest {
	case "index_url":
		v := value
		o.indexURL = &v
	case "extra_index_urls":
		o.extraIndexURLs = append(o.extraIndexURLs, value)
	case "constraints":
		o.constraints = append(o.constraints, value)
	case "requirements":
		o.requirements = append(o.requirements, value)
	case "editables":
		o.editables = append(o.editables, value)
	case "find_links":
		o.findLinks = append(o.findLinks, value)
	case "no_binary":
		return fc.mutualExcludes(value, fc.noBinary, fc.onlyBinary)
	case "only_binary":
		return fc.mutualExcludes(value, fc.onlyBinary, fc.noBinary)
	case "trusted_hosts":
		o.trustedHosts = append(o.trustedHosts, value)
	case "features_enabled":
		if indexOf(useFeatureChoices, value) < 0 {
			return fmt.Errorf("option %s: invalid choice: %q (choose from %s)", opt, value, strings.Join(useFeatureChoices, ", "))
		}
	case "global_options":
		o.globalOptions = append(o.globalOptions, value)
	case "hashes":
		algo, digest, ok := strings.Cut(value, ":")
		if !ok {
			return fmt.Errorf("arguments to %s must be a hash name followed by a value, like --hash=sha256:abcde...", opt)
		}
		if indexOf(strongHashes, algo) < 0 {
			return fmt.Errorf("allowed hash algorithms for %s are %s", opt, strings.Join(strongHashes, ", "))
		}
		o.hashes = append(o.hashes, algo+":"+digest)
	case "config_settings":
		key, val, ok := strings.Cut(value, "=")
		if !ok {
			return fmt.Errorf("arguments to %s must be of the form KEY=VAL", opt)
		}
		if o.configSettings == nil {
			o.configSettings = map[string][]string{}
		}
		if _, seen := o.configSettings[key]; !seen {
			o.configOrder = append(o.configOrder, key)
		}
		o.configSettings[key] = append(o.configSettings[key], val)
	}
	return nil
}
