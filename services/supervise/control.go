package supervise

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/services"
)

// Request is one control request: a JSON object on one line, answered by
// one Response line, then the connection is closed.
//
//	{"op":"status"}
//	{"op":"start","components":["web"]}
//	{"op":"restart"}          (all components)
//	{"op":"shutdown"}         (stop everything and exit)
//
// Ops: status, start, stop, restart, reload, update (re-read the spec
// file), shutdown.
type Request struct {
	Op         string   `json:"op"`
	Components []string `json:"components,omitempty"`
}

// Response answers a Request.
type Response struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// NotFound marks an unknown component.
	NotFound bool `json:"not_found,omitempty"`
	// ShuttingDown: the supervisor is exiting and takes no more work;
	// the caller waits for it to exit and starts a new one.
	ShuttingDown bool              `json:"shutting_down,omitempty"`
	PID          int               `json:"pid"`
	Status       []services.Status `json:"status,omitempty"`
}

func (s *Supervisor) serveControl() error {
	path := s.socketPath()
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return err
	}
	s.ctl = ln
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.handle(conn)
		}
	}()
	return nil
}

func (s *Supervisor) handle(conn net.Conn) {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var req Request
	if err := json.NewDecoder(conn).Decode(&req); err != nil {
		json.NewEncoder(conn).Encode(Response{Error: "bad request: " + err.Error()})
		return
	}
	conn.SetReadDeadline(time.Time{})
	ctx := context.Background()
	var err error
	select {
	case <-s.quit:
		if req.Op != "status" && req.Op != "shutdown" {
			json.NewEncoder(conn).Encode(Response{Error: "supervisor is shutting down", ShuttingDown: true, PID: os.Getpid(), Status: s.status()})
			return
		}
	default:
	}
	switch req.Op {
	case "status":
	case "start":
		err = s.startAll(ctx, req.Components)
	case "stop":
		err = s.stopAll(req.Components)
	case "restart":
		err = s.restartAll(ctx, req.Components)
	case "reload":
		err = s.signalAll(req.Components)
	case "update":
		err = s.update()
	case "shutdown":
		// Quit before answering: a request that arrives after the caller
		// has its answer must already see a supervisor that is shutting
		// down (and be refused), not one that takes work it will drop.
		s.shutdown()
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	resp := Response{OK: err == nil, PID: os.Getpid(), Status: s.status()}
	if err != nil {
		resp.Error = err.Error()
		resp.NotFound = errors.Is(err, services.ErrNotFound)
	}
	json.NewEncoder(conn).Encode(resp)
}

// call sends one request to the supervisor listening on sock.
func call(ctx context.Context, sock string, req Request) (*Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotRunning, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return nil, hungUp(sock, err)
	}
	var resp Response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return nil, hungUp(sock, err)
	}
	return &resp, nil
}

// hungUp wraps an error on an open control connection. A supervisor that
// closes it without an answer (EOF, reset, broken pipe) is exiting: that
// is ErrNotRunning, so callers wait it out as they do a missing socket.
func hungUp(sock string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%w: supervisor at %s hung up: %v", ErrNotRunning, sock, err)
	}
	return fmt.Errorf("supervisor at %s: %w", sock, err)
}
