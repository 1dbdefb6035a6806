package requirements

import "testing"

var benchRequirements = []string{
	"Django>=4.2,<5",
	`celery[redis,msgpack]==5.3.6; python_version >= "3.8"`,
	"requests (>=2.28, <3)",
	"pkg @ https://example.com/pkg-1.0-py3-none-any.whl",
	`importlib-metadata>=4.6; python_version < "3.10" and platform_python_implementation == "CPython"`,
}

func BenchmarkParseRequirement(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseRequirement(benchRequirements[i%len(benchRequirements)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarkerEvaluate(b *testing.B) {
	m := MustParseMarker(`(python_version >= "3.8" and sys_platform == "linux") or platform_machine in "aarch64 arm64" or extra == "dev"`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Evaluate(linux311); err != nil {
			b.Fatal(err)
		}
	}
}
