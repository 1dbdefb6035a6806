package instance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const demoSpec = `name = "demo"
python = ">=3.9, <3.14"            # interpreter constraint (semver)
requirements = ["requirements.txt"] # pip requirements files, relative to this spec
packages = []                       # and/or inline PEP 508 requirements
[env]
DJANGO_SETTINGS_MODULE = "demo.settings"
[database]                          # omit for no database
migrations = "migrations"           # optional: versioned SQL files, applied in order
[hooks]
migrate = ["python", "-m", "django", "migrate", "--noinput"]
[services.web]
command = ["gunicorn", "demo.wsgi", "--bind", "127.0.0.1:{port}"]
listen = true                       # gets a port allocated per instance
[services.worker]
command = ["celery", "-A", "demo", "worker"]
`

func TestParseSpecDesignExample(t *testing.T) {
	s, err := ParseSpec([]byte(demoSpec), "app.toml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "demo" || s.Python != ">=3.9, <3.14" || len(s.Requirements) != 1 || s.Database == nil || s.Database.Migrations != "migrations" {
		t.Fatalf("decoded %+v", s)
	}
	if got := s.ListeningServices(); len(got) != 1 || got[0] != "web" {
		t.Fatalf("listening = %v", got)
	}
	if s.Env["DJANGO_SETTINGS_MODULE"] != "demo.settings" || len(s.Hooks.Migrate) != 5 {
		t.Fatalf("env/hooks %+v %+v", s.Env, s.Hooks)
	}
	// Round trip through Encode.
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := ParseSpec(b, "copy.toml")
	if err != nil {
		t.Fatalf("re-parse of encoded spec: %v\n%s", err, b)
	}
	if s2.Services["web"].Command[3] != "127.0.0.1:{port}" {
		t.Fatalf("round trip lost command: %+v", s2.Services["web"])
	}
}

func TestParseSpecErrorsNameKeyAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, src, key string
		line           int
		msg            string
	}{
		{"bad constraint", "name = \"a\"\npython = \"banana\"\n", "python", 2, "is not a version constraint"},
		{"missing name", "python = \">=3\"\n", "name", 0, "missing"},
		{"bad name", "\nname = \"Demo_App\"\n", "name", 2, "not a valid name"},
		{"unknown key", "name = \"a\"\nrequirement = [\"r.txt\"]\n", "requirement", 2, "unknown key"},
		{"unknown nested", "name = \"a\"\n[services.web]\ncommand = [\"x\"]\nlisten = true\nport = 3\n", "services.web.port", 5, "unknown key"},
		{"no command", "name = \"a\"\n\n[services.web]\nlisten = true\n", "services.web.command", 3, "missing"},
		{"bad placeholder", "name = \"a\"\n[services.web]\ncommand = [\"x\", \"{prot}\"]\n", "services.web.command", 3, "unknown placeholder {prot}"},
		{"port without listener", "name = \"a\"\n[services.w]\ncommand = [\"x\", \"{port}\"]\n", "services", 2, "no service has listen"},
		{"reserved env", "name = \"a\"\n[env]\nPORT = \"1\"\n", "env.PORT", 3, "set by deploykit"},
		{"bad restart", "name = \"a\"\n[services.w]\ncommand = [\"x\"]\nrestart = \"sometimes\"\n", "services.w.restart", 4, "not one of"},
		{"type error", "name = \"a\"\npackages = \"django\"\n", "packages", 2, ""},
		{"bad socket", "name = \"a\"\n[services.w]\ncommand = [\"x\"]\nlisten = true\nsocket = \"own\"\n", "services.w.socket", 5, "not one of passed"},
		{"socket without listen", "name = \"a\"\n[services.w]\ncommand = [\"x\"]\nsocket = \"self\"\n", "services.w.socket", 4, "only a listening service"},
		{"syntax", "name = \"a\"\n[services\n", "", 3, "expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tc.src), "app.toml")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("not ErrInvalidSpec: %v", err)
			}
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("not a *SpecError: %T %v", err, err)
			}
			if tc.key != "" && se.Key != tc.key {
				t.Errorf("key = %q, want %q (%v)", se.Key, tc.key, err)
			}
			if se.Line != tc.line {
				t.Errorf("line = %d, want %d (%v)", se.Line, tc.line, err)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "app.toml") {
				t.Errorf("error %q lacks %q or the file name", err, tc.msg)
			}
		})
	}
}

func TestLoadSpecChecksFilesAndResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.toml")
	os.WriteFile(p, []byte(demoSpec), 0o644)
	_, err := LoadSpec(p)
	var se *SpecError
	if !errors.As(err, &se) || se.Key != "requirements" || se.Line != 3 {
		t.Fatalf("missing requirements file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("django\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "migrations"), 0o755)
	s, err := LoadSpec(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir != dir || s.Path("requirements.txt") != filepath.Join(dir, "requirements.txt") {
		t.Fatalf("dir %q", s.Dir)
	}
}

func TestVarsExpand(t *testing.T) {
	v := Vars{Instance: "prod", Home: "/srv/i/prod", Venv: "/srv/i/prod/current/venv", Port: 20123, Run: "/r", Data: "/d"}
	got, err := v.ExpandAll([]string{"{venv}/bin/gunicorn", "--bind=127.0.0.1:{port}", "{{literal}}", "{data}/{instance}.db", "{run}", "{home}"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/srv/i/prod/current/venv/bin/gunicorn", "--bind=127.0.0.1:20123", "{literal}", "/d/prod.db", "/r", "/srv/i/prod"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %q, want %q", i, got[i], want[i])
		}
	}
	if _, err := v.Expand("{other}"); err == nil {
		t.Error("unknown placeholder expanded")
	}
	if _, err := (Vars{Instance: "x"}).Expand("{port}"); err == nil {
		t.Error("{port} without a port expanded")
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(demoSpec))
	f.Add([]byte("name = \"a\"\n[services.web]\ncommand = [\"x\", \"{port}\"]\nlisten = true\n"))
	f.Add([]byte("name = 'a'\nx = '''\nmulti\n= line\n'''\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec(data, "fuzz.toml")
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("error not ErrInvalidSpec: %v", err)
			}
			return
		}
		// A valid spec encodes and re-parses to a valid spec.
		b, err := s.Encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if _, err := ParseSpec(b, "re.toml"); err != nil {
			t.Fatalf("re-parse: %v\n%s", err, b)
		}
	})
}
