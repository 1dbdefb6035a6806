package requirements

import "testing"

var specifierTokenCases = []string{
	"===", "=== foo bar", "===x;y", "===a)b", "==", "== 1", "==1.0.*", "==1.*.1", "==v1.0", "==v", "==1!2.0", "==1!",
	"==1.0a", "==1.0alpha1", "==1.0preview", "==1.0pre.2", "==1.0.rc.1", "==1.0c", "==1.0-1", "==1.0-r", "==1.0.post",
	"==1.0.dev", "==1.0-dev5", "==1.0a-1", "==1.0a.", "==1.0+abc", "==1.0+abc-", "==1.0+a.b_c-d", "==1.0+", "==1.0+ABC",
	"!=2.0.*", "~=1", "~=1.0", "~= 1.0.0b1.post2.dev3", "~=1.0+local", "<=1", "<=x", "<=", "<1.0", "< 1.0", ">1", ">=v2",
	">=1.0 ,<2", "=1", "~1", ">=\u00a01.0", ">=\u20281", "==1.0\u00e9", "==1.0AlPhA", "==1.0ß", "==1.0ſ", "==1.0.K",
	">=1.0.0.0.0rc1.post1.dev1", "==1.0post1", "==1.0-post1", "==1.0_rev", "== 1.0.dev.5", "===\t", ">=1.0a1-1",
}

func TestScanSpecifierMatchesTheRegexp(t *testing.T) {
	for _, s := range specifierTokenCases {
		checkScanSpecifier(t, s)
	}
}

func checkScanSpecifier(t *testing.T, s string) {
	t.Helper()
	if got, want := scanSpecifier(s), len(specifierRe.FindString(s)); got != want {
		t.Errorf("scanSpecifier(%q) = %d (%q), regexp matches %d (%q)", s, got, s[:got], want, s[:want])
	}
}

func FuzzScanSpecifier(f *testing.F) {
	for _, s := range specifierTokenCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkScanSpecifier(t, s) })
}
