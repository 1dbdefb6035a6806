package testenv

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// HTTPLoad sends GET http://127.0.0.1:port/ from workers loops, each
// pausing between requests, until the returned stop is called; stop waits
// for the loops and returns how many requests got a 200 and how many did
// not. Failures are logged. Zero-downtime tests run it across upgrades and
// restarts.
func HTTPLoad(t testing.TB, port, workers int, pause time.Duration) (stop func() (ok, failed int64)) {
	t.Helper()
	var okN, failN atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				resp, err := client.Get(url)
				if err == nil && resp.StatusCode == 200 {
					okN.Add(1)
				} else {
					failN.Add(1)
					t.Logf("request failed: %v %v", err, resp)
				}
				if resp != nil {
					resp.Body.Close()
				}
				time.Sleep(pause)
			}
		}()
	}
	return func() (int64, int64) {
		close(done)
		wg.Wait()
		return okN.Load(), failN.Load()
	}
}
