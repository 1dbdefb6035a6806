// Package keylock serializes work per key within a process: two
// goroutines locking the same key (a download's destination, a VCS
// mirror's path) take turns, different keys do not wait for each other.
// Across processes, internal/flock does the same with lock files.
//
// Keys are never forgotten: a Map is meant for the bounded set of files a
// Finder or a cache touches in its lifetime.
package keylock

import "sync"

// Map holds one mutex per key. The zero value is ready to use; a Map must
// not be copied after first use.
type Map struct {
	mu sync.Mutex
	m  map[string]*sync.Mutex
}

// Lock blocks until key is free and returns the function that frees it.
func (k *Map) Lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*sync.Mutex{}
	}
	m := k.m[key]
	if m == nil {
		m = &sync.Mutex{}
		k.m[key] = m
	}
	k.mu.Unlock()
	m.Lock()
	return m.Unlock
}
