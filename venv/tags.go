package venv

import (
	"fmt"
	"strings"

	"github.com/deploykit/deploykit/requirements/dist"
)

// supportedTags is the set of "python-abi-platform" wheel tags the
// interpreter accepts (dist.SupportedTags over its TagFacts, which equal
// packaging.tags.sys_tags()).
func supportedTags(py *Interpreter) map[string]bool {
	tags := map[string]bool{}
	for _, t := range dist.SupportedTags(py.TagFacts) {
		tags[t.String()] = true
	}
	return tags
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
