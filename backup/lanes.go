package backup

import (
	"context"
	"sync"
)

// Lanes: how a backup lays out table data so that a restore can load each
// table through one connection, in one transaction.
//
// A restore loads a table fastest when the transaction that fills it also
// emptied it (TRUNCATE gives the table a new file): with wal_level =
// minimal PostgreSQL then writes no WAL for the rows and syncs the file
// once at commit, and COPY FREEZE stores the rows frozen and all-visible,
// so neither the index builds nor the first VACUUM go over every page
// again (dbrestore.go, loadLanes). That needs every chunk of a table to go
// through the same connection, and that connection must not sit idle
// while the stream is elsewhere.
//
// So a backup gives each table a lane (the catalog's "lane"; largest table
// first, to the lane holding the least data, so the lanes hold about equal
// shares) and writes the chunks of the lanes interleaved in proportion to
// their sizes: a restore with one connection per lane reads every lane at
// the same pace and keeps all of them busy with a few chunks of read-ahead
// each. A backup connection works through its own lane's parts first and
// then helps with the lane that has the most left (its chunks still belong
// to that lane), so one table much larger than the rest is still dumped by
// every connection.

// assignLanes gives each table (pages, largest first as tablesSQL orders
// them) the lane holding the fewest pages so far; it returns each
// table's lane and each lane's pages.
func assignLanes(pages []int64, lanes int) (lane []int, size []int64) {
	lane = make([]int, len(pages))
	size = make([]int64, lanes)
	for i, p := range pages {
		best := 0
		for l := 1; l < lanes; l++ {
			if size[l] < size[best] {
				best = l
			}
		}
		lane[i] = best
		size[best] += p
	}
	return lane, size
}

// partQueue hands the dump's parts to its connections: each takes its
// own lane's parts in order, then the last part of the lane with the
// most pages left.
type partQueue struct {
	mu    sync.Mutex
	lanes [][]part
}

func newPartQueue(parts []part, lanes int, laneOf []int) *partQueue {
	q := &partQueue{lanes: make([][]part, lanes)}
	for _, p := range parts {
		l := laneOf[p.table]
		q.lanes[l] = append(q.lanes[l], p)
	}
	return q
}

func (q *partQueue) next(worker int) (part, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if own := worker % len(q.lanes); len(q.lanes[own]) > 0 {
		p := q.lanes[own][0]
		q.lanes[own] = q.lanes[own][1:]
		return p, true
	}
	best, most := -1, int64(-1)
	for l, ps := range q.lanes {
		if len(ps) == 0 {
			continue
		}
		var left int64
		for _, p := range ps {
			left += p.estimation
		}
		if left > most {
			best, most = l, left
		}
	}
	if best < 0 {
		return part{}, false
	}
	ps := q.lanes[best]
	p := ps[len(ps)-1]
	q.lanes[best] = ps[:len(ps)-1]
	return p, true
}

// laneMerger orders the finished chunks of all lanes for the archive
// writer: next always takes the lane that is least far through its
// estimated size, waiting for that lane's producer when it has nothing
// ready, so the archive interleaves the lanes in proportion. A producer
// waits while its lane already has perLane chunks ready, which bounds the
// memory held to lanes × perLane chunks.
type laneMerger struct {
	mu      sync.Mutex
	cond    *sync.Cond
	perLane int
	ready   [][]chunk
	written []int64 // bytes taken per lane
	size    []int64 // estimated bytes per lane (at least 1)
	open    []int   // parts of the lane not finished yet
	err     error
}

func newLaneMerger(size []int64, open []int, perLane int) *laneMerger {
	m := &laneMerger{perLane: perLane, ready: make([][]chunk, len(size)), written: make([]int64, len(size)),
		size: make([]int64, len(size)), open: open}
	for l, s := range size {
		m.size[l] = max(s, 1)
	}
	m.cond = sync.NewCond(&m.mu)
	return m
}

// put hands over a chunk of lane l, waiting while the lane has perLane
// chunks ready; it fails once the merger is stopped.
func (m *laneMerger) put(l int, c chunk) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.err == nil && len(m.ready[l]) >= m.perLane {
		m.cond.Wait()
	}
	if m.err != nil {
		return m.err
	}
	m.ready[l] = append(m.ready[l], c)
	m.cond.Broadcast()
	return nil
}

// partDone says one part of lane l has put all its chunks.
func (m *laneMerger) partDone(l int) {
	m.mu.Lock()
	m.open[l]--
	m.cond.Broadcast()
	m.mu.Unlock()
}

// stop wakes everyone: put and next fail with err from now on.
func (m *laneMerger) stop(err error) {
	m.mu.Lock()
	if m.err == nil {
		m.err = err
	}
	m.cond.Broadcast()
	m.mu.Unlock()
}

// next returns the next chunk to write, or false when every lane is done.
func (m *laneMerger) next() (chunk, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if m.err != nil {
			return chunk{}, false, m.err
		}
		// The lane least far through its size, among those with
		// something ready or still to come.
		best := -1
		for l := range m.ready {
			if len(m.ready[l]) == 0 && m.open[l] == 0 {
				continue
			}
			if best < 0 || float64(m.written[l])/float64(m.size[l]) < float64(m.written[best])/float64(m.size[best]) {
				best = l
			}
		}
		if best < 0 {
			return chunk{}, false, nil
		}
		if len(m.ready[best]) > 0 {
			c := m.ready[best][0]
			m.ready[best] = m.ready[best][1:]
			m.written[best] += int64(c.data.Len())
			m.cond.Broadcast()
			return c, true, nil
		}
		m.cond.Wait()
	}
}

// watch stops the merger when ctx ends.
func (m *laneMerger) watch(ctx context.Context) (unwatch func()) {
	stop := context.AfterFunc(ctx, func() { m.stop(ctx.Err()) })
	return func() { stop() }
}
