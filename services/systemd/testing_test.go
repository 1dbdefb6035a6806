package systemd

import (
	"time"

	"github.com/deploykit/deploykit/services"
)

// sampleComponents is an instance with every kind of component the
// renderer handles.
func sampleComponents(instance, user string) []services.Component {
	return []services.Component{
		{
			Name: "web", Instance: instance,
			Command: []string{"/usr/bin/python3", "/opt/dk/web.py", "--greeting", "hello $USER 100%"},
			Env:     map[string]string{"DEPLOYKIT_INSTANCE": instance, "QUOTE": `a "b" \c`},
			User:    user, Group: user,
			Listen:  []services.Listen{{Network: "tcp", Address: "127.0.0.1:8080"}},
			Restart: services.RestartPolicy{When: services.RestartAlways, Delay: 200 * time.Millisecond},
			Ready:   services.Readiness{Kind: services.ReadyHTTP, Path: "/health"},
			Limits:  services.Limits{MemoryMax: 256 << 20, TasksMax: 64, LimitNOFILE: 4096},
			Relax:   services.Relaxations{WritablePaths: []string{"/srv/dk/" + instance + "/data"}},
		},
		{
			Name: "worker", Instance: instance,
			Command: []string{"/bin/sh", "-c", "while :; do sleep 1; done"},
			User:    user, Group: user,
			StopTimeout: 3 * time.Second,
			Relax:       services.Relaxations{AllowWriteExecute: true, SystemCalls: []string{"@resources"}},
		},
		{
			Name: "api", Instance: instance,
			Command: []string{"/usr/bin/python3", "/opt/dk/web.py"},
			User:    user, Group: user,
			Listen: []services.Listen{
				{Network: "unix", Address: "/run/dk-" + instance + "-api.sock", Mode: 0o660},
				{Name: "admin", Network: "tcp4", Address: "127.0.0.1:8081"},
			},
			Ready: services.Readiness{Kind: services.ReadyNotify, Timeout: 10 * time.Second},
		},
	}
}
