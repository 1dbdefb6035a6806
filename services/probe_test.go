package services

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	ctx := context.Background()
	var paths []string
	var closes []bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		closes = append(closes, r.Close)
		switch r.URL.Path {
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	// A closed port: take one, then free it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		r       Readiness
		wantErr string
	}{
		{Readiness{Kind: ReadyTCP, Address: addr}, ""},
		{Readiness{Kind: ReadyTCP, Address: closed}, "refused"},
		{Readiness{Kind: ReadyHTTP, Address: addr}, ""},
		{Readiness{Kind: ReadyHTTP, Address: addr, Path: "/missing"}, ""}, // below 500: up
		{Readiness{Kind: ReadyHTTP, Address: addr, Path: "/down"}, "HTTP 503"},
		{Readiness{Kind: ReadyHTTP, Address: closed}, "refused"},
	} {
		err := Probe(ctx, tc.r, time.Second, 2*time.Second)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("Probe(%+v) = %v, want error containing %q", tc.r, err, tc.wantErr)
		}
	}
	if want := []string{"/", "/missing", "/down"}; strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("paths requested %v, want %v (empty Path is /)", paths, want)
	}
	for i, c := range closes {
		if !c {
			t.Errorf("request %d (%s) asked to keep the connection open", i, paths[i])
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := Probe(cctx, Readiness{Kind: ReadyHTTP, Address: addr}, time.Second, 2*time.Second); err == nil {
		t.Error("Probe with a cancelled context succeeded")
	}
}
