package keylock

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSameKeyTakesTurnsOtherKeysDoNot(t *testing.T) {
	var k Map
	var in atomic.Int32
	var overlap atomic.Bool
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := k.Lock("a")
			defer unlock()
			if in.Add(1) > 1 {
				overlap.Store(true)
			}
			time.Sleep(2 * time.Millisecond)
			in.Add(-1)
		}()
	}
	wg.Wait()
	if overlap.Load() {
		t.Fatal("two holders of one key at once")
	}
	unlockA := k.Lock("a")
	defer unlockA()
	done := make(chan struct{})
	go func() {
		k.Lock("b")()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("key b waited for key a")
	}
}
