package systemd

import (
	"testing"
	"time"

	"github.com/deploykit/deploykit/services"
)

const showSample = `Id=deploykit-t1-web.service
LoadState=loaded
ActiveState=active
SubState=running
MainPID=98
NRestarts=1
ExecMainCode=0
ExecMainStatus=0
StateChangeTimestamp=@1764126000
Result=success

Id=deploykit-t1-worker.service
LoadState=loaded
ActiveState=failed
SubState=failed
MainPID=0
NRestarts=5
ExecMainCode=2
ExecMainStatus=9
StateChangeTimestamp=
Result=signal
`

func TestParseShow(t *testing.T) {
	sts, err := ParseShow([]byte(showSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 {
		t.Fatalf("%d statuses", len(sts))
	}
	web, worker := sts[0], sts[1]
	if web.Unit != "deploykit-t1-web.service" || web.State != services.StateActive || web.Sub != "running" ||
		web.PID != 98 || web.Restarts != 1 || !web.Since.Equal(time.Unix(1764126000, 0)) || web.ExitCode != -1 {
		t.Errorf("web: %+v", web)
	}
	if worker.State != services.StateFailed || worker.ExitCode != 128+9 || worker.Error != "result: signal" || !worker.Since.IsZero() {
		t.Errorf("worker: %+v", worker)
	}
	if _, err := ParseShow([]byte("garbage")); err == nil {
		t.Error("garbage parsed")
	}
}

func FuzzParseShow(f *testing.F) {
	f.Add([]byte(showSample))
	f.Add([]byte("Id=x\n\n\nId=y\nMainPID=-1"))
	f.Add([]byte("Id=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sts, err := ParseShow(b)
		if err != nil {
			return
		}
		for _, s := range sts {
			if s.Unit == "" {
				t.Fatalf("status without unit: %+v", s)
			}
		}
	})
}
