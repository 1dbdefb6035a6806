package retention

import (
	"fmt"
	"sort"
	"time"
)

// Backup is one archive as the policy sees it.
type Backup struct {
	ID       string // e.g. the file name
	Time     time.Time
	Verified bool // the archive passed a verify
}

// Policy says how many backups of each kind to keep. The zero Policy keeps
// everything (nothing is pruned until a limit is set).
type Policy struct {
	Last    int // the newest Last backups
	Daily   int // the newest backup of each of the last Daily days that have one
	Weekly  int // likewise per ISO week
	Monthly int // likewise per calendar month
	// Location is the time zone days, weeks and months are counted in;
	// nil means UTC.
	Location *time.Location
}

// Decision says whether one backup is kept and why.
type Decision struct {
	Backup  Backup
	Keep    bool
	Reasons []string // "last", "daily 2026-11-26", "weekly 2026-W48", "monthly 2026-11", "newest verified", "policy keeps all"
}

// Apply decides, for every backup, whether the policy keeps it. The result
// is sorted newest first; backups with equal times keep their input order.
func (p Policy) Apply(backups []Backup) []Decision {
	ds := make([]Decision, len(backups))
	for i, b := range backups {
		ds[i] = Decision{Backup: b}
	}
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].Backup.Time.After(ds[j].Backup.Time) })
	if p == (Policy{Location: p.Location}) {
		for i := range ds {
			ds[i].Keep, ds[i].Reasons = true, []string{"policy keeps all"}
		}
		return ds
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	keep := func(i int, why string) {
		ds[i].Keep = true
		ds[i].Reasons = append(ds[i].Reasons, why)
	}
	for i := 0; i < len(ds) && i < p.Last; i++ {
		keep(i, "last")
	}
	bucket := func(n int, kind string, key func(time.Time) string) {
		seen := map[string]bool{}
		for i := range ds {
			if len(seen) >= n {
				return
			}
			k := key(ds[i].Backup.Time.In(loc))
			if !seen[k] {
				seen[k] = true
				keep(i, kind+" "+k)
			}
		}
	}
	bucket(p.Daily, "daily", func(t time.Time) string { return t.Format("2006-01-02") })
	bucket(p.Weekly, "weekly", func(t time.Time) string {
		y, w := t.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	})
	bucket(p.Monthly, "monthly", func(t time.Time) string { return t.Format("2006-01") })
	for i := range ds {
		if ds[i].Backup.Verified {
			keep(i, "newest verified")
			break
		}
	}
	return ds
}

// Prune returns the backups the policy does not keep, newest first.
func (p Policy) Prune(backups []Backup) []Backup {
	var out []Backup
	for _, d := range p.Apply(backups) {
		if !d.Keep {
			out = append(out, d.Backup)
		}
	}
	return out
}
