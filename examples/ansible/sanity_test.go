package ansible

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

// The checks ansible-test sanity makes of a collection, those that run
// offline here (ansible-test itself installs its checkers into virtual
// environments from PyPI): documentation and argument specs agree,
// ansible-doc renders every plugin and the role, the Python compiles on
// every interpreter the hosts may have, pycodestyle and pylint as
// ansible-test configures them, the playbooks pass --syntax-check, and the
// collection builds.

const collection = "ansible_collections/deploykit/fleet"

var modules = []string{"instance", "instance_info", "backup"}

// ansible runs an Ansible command with the collection on its path.
func ansible(t *testing.T, name string, args ...string) string {
	t.Helper()
	bin := testenv.Command(t, name)
	cmd := exec.Command(bin, args...)
	dir, _ := filepath.Abs(".")
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "ANSIBLE_COLLECTIONS_PATH="+dir, "ANSIBLE_HOME="+home, "ANSIBLE_LOCAL_TEMP="+home, "ANSIBLE_NOCOLOR=1", "ANSIBLE_CONFIG="+filepath.Join(home, "none.cfg"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestAnsibleDocShowsEveryModuleAndTheRole(t *testing.T) {
	for _, m := range modules {
		out := ansible(t, "ansible-doc", "deploykit.fleet."+m)
		for _, want := range []string{"OPTIONS", "EXAMPLES", "RETURN VALUES", "root", "listen_address", "database_url"} {
			if !strings.Contains(out, want) {
				t.Errorf("ansible-doc deploykit.fleet.%s lacks %q:\n%s", m, want, out)
			}
		}
	}
	out := ansible(t, "ansible-doc", "-t", "role", "deploykit.fleet.install")
	if !strings.Contains(out, "deploykit_binary") || !strings.Contains(out, "ENTRY POINT: main") {
		t.Errorf("ansible-doc -t role deploykit.fleet.install:\n%s", out)
	}
	if out := ansible(t, "ansible-doc", "-l", "deploykit.fleet"); strings.Count(out, "deploykit.fleet.") != len(modules) {
		t.Errorf("ansible-doc -l deploykit.fleet:\n%s", out)
	}
}

func TestModulesDocumentationMatchesArgumentSpec(t *testing.T) {
	testenv.Command(t, "ansible-doc")
	py := "/usr/bin/python3" // Debian's, which ansible-core is installed for
	dir, _ := filepath.Abs(".")
	cmd := exec.Command(py, append([]string{"testdata/argspec.py", dir}, modules...)...)
	cmd.Env = append(os.Environ(), "ANSIBLE_HOME="+t.TempDir(), "ANSIBLE_NOCOLOR=1", "PYTHONDONTWRITEBYTECODE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// pythonFiles are the collection's Python files.
func pythonFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.Walk(collection, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".py") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) < len(modules)+2 {
		t.Fatalf("python files: %v %v", files, err)
	}
	return files
}

// TestModulesCompileOnTheHostsPython compiles the plugins with every
// interpreter there is (the hosts run Debian's python3; older ones stand
// in for older hosts), as ansible-test's compile test does.
func TestModulesCompileOnTheHostsPython(t *testing.T) {
	files := pythonFiles(t)
	pys := []string{"/usr/bin/python3"}
	for _, p := range testenv.Pythons(t) {
		pys = append(pys, p.Path)
	}
	for _, py := range pys {
		// compile() only: nothing written beside the sources.
		script := "import sys\nfor f in sys.argv[1:]:\n    compile(open(f, 'rb').read(), f, 'exec', dont_inherit=True)\n"
		if out, err := exec.Command(py, append([]string{"-c", script}, files...)...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", py, err, out)
		}
	}
}

// TestModulesPassPycodestyleAndPylint runs Debian's pycodestyle and pylint
// with ansible-test's settings (160 columns; imports after the
// documentation strings are the modules' layout).
func TestModulesPassPycodestyleAndPylint(t *testing.T) {
	files := append(pythonFiles(t), "testdata/argspec.py")
	if out, err := exec.Command(testenv.Command(t, "pycodestyle"), append([]string{"--max-line-length=160", "--ignore=E402,W503,W504,E741"}, files...)...).CombinedOutput(); err != nil {
		t.Errorf("pycodestyle: %v\n%s", err, out)
	}
	dir, _ := filepath.Abs(".")
	cmd := exec.Command(testenv.Command(t, "pylint"), append([]string{"--disable=all", "--enable=E,W", "--score=n"}, files...)...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+dir, "PYLINTHOME="+t.TempDir(), "PYTHONDONTWRITEBYTECODE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("pylint: %v\n%s", err, out)
	}
}

func TestPlaybooksPassSyntaxCheckAndTheCollectionBuilds(t *testing.T) {
	for _, p := range []string{"site.yml", "rolling-upgrade.yml"} {
		ansible(t, "ansible-playbook", "--syntax-check", "-i", "localhost,", filepath.Join("playbooks", p))
	}
	out := ansible(t, "ansible-galaxy", "collection", "build", "--output-path", t.TempDir(), collection)
	if !strings.Contains(out, "deploykit-fleet-1.0.0.tar.gz") {
		t.Fatalf("ansible-galaxy collection build: %s", out)
	}
}
