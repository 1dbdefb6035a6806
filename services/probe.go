package services

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Probe runs one readiness check of r from this process: for ReadyTCP a
// connect to r.Address, otherwise a GET of http://r.Address + r.Path
// (default "/") that must answer below 500. dialTimeout bounds each
// connect, requestTimeout the whole request (0: only ctx bounds them).
// The HTTP check goes through no proxy and keeps no connection open
// after it: a probe must reach the component itself and leave nothing
// behind in the controller. The supervisor and the systemd controller
// both probe through it.
func Probe(ctx context.Context, r Readiness, dialTimeout, requestTimeout time.Duration) error {
	d := net.Dialer{Timeout: dialTimeout}
	if r.Kind == ReadyTCP {
		conn, err := d.DialContext(ctx, "tcp", r.Address)
		if err == nil {
			conn.Close()
		}
		return err
	}
	path := r.Path
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+r.Address+path, nil)
	if err != nil {
		return err
	}
	cl := http.Client{Timeout: requestTimeout, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
