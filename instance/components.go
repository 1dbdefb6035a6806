package instance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/deploykit/deploykit/services"
	"github.com/deploykit/deploykit/services/systemd"
)

// vars returns the placeholder values of instance st for release id and,
// for a listening service, its port.
func (m *Manager) vars(st *State, spec *Spec, id, svc string) Vars {
	v := Vars{
		Instance: st.Name,
		Home:     m.layout.InstanceDir(st.Name),
		Venv:     m.layout.ReleaseVenv(st.Name, id),
		Run:      m.layout.RunDir(st.Name),
		Data:     m.layout.DataDir(st.Name),
	}
	if p, ok := st.Ports[svc]; ok {
		v.Port = p
	} else if l := spec.ListeningServices(); len(l) > 0 {
		v.Port = st.Ports[l[0]]
	}
	return v
}

// environment is what every component and hook of the instance sees:
// the spec's [env], PORT, DEPLOYKIT_INSTANCE and PATH with the release's
// venv first. DATABASE_URL holds a password, so it is not here but in the
// instance's secrets/env file (EnvFile).
func (m *Manager) environment(st *State, spec *Spec, id, svc string) (map[string]string, error) {
	v := m.vars(st, spec, id, svc)
	env := map[string]string{
		"DEPLOYKIT_INSTANCE": st.Name,
		"HOME":               m.layout.InstanceDir(st.Name),
		"PATH":               filepath.Join(v.Venv, "bin") + ":/usr/local/bin:/usr/bin:/bin",
		"VIRTUAL_ENV":        v.Venv,
		"PYTHONUNBUFFERED":   "1",
	}
	if v.Port > 0 {
		env["PORT"] = strconv.Itoa(v.Port)
	}
	add := func(from map[string]string) error {
		for k, val := range from {
			x, err := v.Expand(val)
			if err != nil {
				return fmt.Errorf("env %s: %w", k, err)
			}
			env[k] = x
		}
		return nil
	}
	if err := add(spec.Env); err != nil {
		return nil, err
	}
	if s, ok := spec.Services[svc]; ok {
		if err := add(s.Env); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// EnvFile is the instance's secret environment (DATABASE_URL), 0600 in
// secrets/, read by the service controller and by Run.
func (l Layout) EnvFile(name string) string { return filepath.Join(l.SecretsDir(name), "env") }

// resolveProgram finds argv[0]: absolute as is, else in the venv's bin/,
// else on PATH.
func resolveProgram(venvDir, prog string) (string, error) {
	if filepath.IsAbs(prog) {
		return prog, nil
	}
	if !strings.Contains(prog, "/") {
		p := filepath.Join(venvDir, "bin", prog)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if _, err := os.Stat(venvDir); errors.Is(err, os.ErrNotExist) {
			// Rendering units of a release not built yet: a bare name
			// means the venv's program.
			return p, nil
		}
	}
	p, err := exec.LookPath(prog)
	if err != nil {
		return "", fmt.Errorf("program %q is neither in the release's venv nor on PATH", prog)
	}
	return filepath.Abs(p)
}

// components translates the spec's services for release id into the
// services model.
func (m *Manager) components(st *State, spec *Spec, id string) ([]services.Component, error) {
	var out []services.Component
	for _, name := range sortedKeys(spec.Services) {
		svc := spec.Services[name]
		v := m.vars(st, spec, id, name)
		argv, err := v.ExpandAll(svc.Command)
		if err != nil {
			return nil, fmt.Errorf("services.%s.command: %w", name, err)
		}
		if argv[0], err = resolveProgram(v.Venv, argv[0]); err != nil {
			return nil, fmt.Errorf("services.%s.command: %w", name, err)
		}
		env, err := m.environment(st, spec, id, name)
		if err != nil {
			return nil, fmt.Errorf("services.%s: %w", name, err)
		}
		c := services.Component{
			Name:        name,
			Instance:    st.Name,
			Command:     argv,
			Env:         env,
			WorkingDir:  m.layout.InstanceDir(st.Name),
			User:        st.User,
			Group:       st.User,
			UID:         st.UID,
			GID:         st.GID,
			StopTimeout: time.Duration(svc.StopTimeout) * time.Second,
			After:       append(m.clusterRefs(st), m.brokerRefs(st)...),
			Relax: services.Relaxations{
				AllowWriteExecute: svc.AllowWriteExecute,
				AllowHome:         svc.AllowHome,
				AddressFamilies:   svc.AddressFamilies,
				SystemCalls:       svc.SystemCalls,
			},
		}
		if _, err := os.Stat(m.layout.EnvFile(st.Name)); err == nil {
			c.EnvironmentFile = m.layout.EnvFile(st.Name)
		}
		for _, p := range svc.ReadWritePaths {
			x, err := v.Expand(p)
			if err != nil {
				return nil, fmt.Errorf("services.%s.read_write_paths: %w", name, err)
			}
			c.Relax.WritablePaths = append(c.Relax.WritablePaths, x)
		}
		c.Relax.WritablePaths = append(c.Relax.WritablePaths, m.layout.DataDir(st.Name), m.layout.RunDir(st.Name), m.layout.LogDir(st.Name))
		switch svc.Restart {
		case RestartAlways:
			c.Restart.When = services.RestartAlways
		case RestartNo:
			c.Restart.When = services.RestartNever
		}
		if svc.Listen {
			addr := net.JoinHostPort(boundAddress(st), strconv.Itoa(v.Port))
			if svc.Socket == SocketSelf {
				c.SelfBound = []string{addr}
			} else {
				c.Listen = []services.Listen{{Network: "tcp", Address: addr}}
			}
			c.Ready = services.Readiness{Kind: services.ReadyHTTP, Path: svc.Health, Timeout: m.opts.HealthTimeout}
			switch svc.Ready {
			case "tcp":
				c.Ready.Kind = services.ReadyTCP
			case "none":
				c.Ready.Kind = services.ReadyNone
			case "notify":
				c.Ready.Kind = services.ReadyNotify
			}
			if c.Ready.Path == "" {
				c.Ready.Path = "/"
			}
		} else if svc.Ready == "notify" {
			c.Ready.Kind = services.ReadyNotify
		}
		out = append(out, c)
	}
	if err := services.ValidateAll(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ServicesMode reports which controller the manager uses: "systemd" or
// "supervise".
func (m *Manager) ServicesMode() string { return ServicesMode(m.opts.Services) }

// ServicesMode resolves an Options.Services value: "systemd" or
// "supervise" as given, and anything else ("auto", "") to "systemd" when
// PID 1 is systemd, else "supervise".
func ServicesMode(services string) string {
	switch services {
	case "systemd", "supervise":
		return services
	}
	if comm, err := os.ReadFile("/proc/1/comm"); err == nil && strings.TrimSpace(string(comm)) == "systemd" {
		return "systemd"
	}
	return "supervise"
}

// healthCheck waits until every listening service answers its health
// path with a status below 500, or the health timeout passes.
func (m *Manager) healthCheck(ctx context.Context, st *State, spec *Spec) error {
	ctx, cancel := context.WithTimeout(ctx, m.opts.HealthTimeout)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	for _, name := range spec.ListeningServices() {
		svc := spec.Services[name]
		addr := dialAddress(boundAddress(st), st.Ports[name])
		var last error
		for {
			if svc.Ready == "none" || svc.Ready == "tcp" || svc.Ready == "notify" {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err == nil {
					c.Close()
					break
				}
				last = err
			} else {
				path := svc.Health
				if path == "" {
					path = "/"
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
				resp, err := client.Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode < 500 {
						break
					}
					err = fmt.Errorf("GET %s: %s", path, resp.Status)
				}
				last = err
			}
			// A component that has given up (crash loop, exit at once)
			// will not come up: fail now rather than at the timeout, so a
			// bad upgrade is rolled back in seconds.
			if err := m.componentFailed(ctx, st.Name, name); err != nil {
				return fmt.Errorf("health check of %s on %s failed: %w", name, addr, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("health check of %s on %s failed: %v", name, addr, last)
			case <-time.After(150 * time.Millisecond):
			}
		}
	}
	return nil
}

// componentFailed returns an error when the service controller reports the
// instance's component as failed.
func (m *Manager) componentFailed(ctx context.Context, instance, component string) error {
	ctrl, err := m.controller()
	if err != nil {
		return nil
	}
	sts, err := ctrl.Status(ctx, instance)
	if err != nil {
		return nil // the probe's own error is the one to report
	}
	for _, c := range sts {
		if c.Component == component && c.State == services.StateFailed {
			msg := c.Error
			if msg == "" {
				msg = c.Sub
			}
			return fmt.Errorf("the component failed (%s)", msg)
		}
	}
	return nil
}

// unitsFor renders the systemd units of an instance (for `deploykit
// units`, also before it exists).
func unitsFor(name string, comps []services.Component) ([]systemd.Unit, error) {
	return systemd.Render(name, comps)
}
