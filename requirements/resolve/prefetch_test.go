package resolve

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// costly is a memIndex whose project "x" has metadata that only a build
// gives; it records who asked for what.
type costly struct {
	*memIndex
	xPage     chan struct{} // closed when x's candidates are asked for
	xMetadata atomic.Int64
}

func (c *costly) Versions(ctx context.Context, name string) ([]Candidate, error) {
	if name == "x" {
		close(c.xPage)
	}
	return c.memIndex.Versions(ctx, name)
}

func (c *costly) Metadata(ctx context.Context, cd Candidate) (*Metadata, error) {
	switch cd.Name {
	case "x":
		c.xMetadata.Add(1)
	case "slow":
		// Keep the solver busy until the prefetcher has met x, and a
		// little longer, so that what it does next is seen.
		select {
		case <-c.xPage:
			time.Sleep(200 * time.Millisecond)
		case <-time.After(10 * time.Second):
		}
	}
	return c.memIndex.Metadata(ctx, cd)
}

func (c *costly) CheapMetadata(cd Candidate) bool { return cd.Name != "x" }

// TestPrefetchLeavesCostlyMetadataToTheSolver: the prefetcher follows a
// 2.0 (which the solver never chooses: the roots want b<2) to x, reads
// x's page, and stops there, since x's metadata would take a build. The
// solver never needs x, so nothing asks for its metadata.
func TestPrefetchLeavesCostlyMetadataToTheSolver(t *testing.T) {
	m := newMem()
	m.add("a", "1.0", "b")
	m.add("b", "1.0")
	m.add("b", "2.0", "x>=5")
	m.add("x", "5.0")
	m.add("slow", "1.0")
	p := &costly{memIndex: m, xPage: make(chan struct{})}
	res, err := Resolve(context.Background(), p, reqs(t, "a", "b<2", "slow"), Options{Environment: testEnv()})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, res, "a==1.0 b==1.0 slow==1.0")
	select {
	case <-p.xPage:
	default:
		t.Error("the prefetcher never followed b 2.0's requirement on x")
	}
	if n := p.xMetadata.Load(); n != 0 {
		t.Errorf("x's costly metadata was fetched %d times ahead of need", n)
	}
}
