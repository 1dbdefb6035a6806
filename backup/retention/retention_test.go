package retention

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func ids(bs []Backup) string {
	var s []string
	for _, b := range bs {
		s = append(s, b.ID)
	}
	return strings.Join(s, ",")
}

func TestZeroPolicyKeepsEverything(t *testing.T) {
	bs := []Backup{{ID: "a", Time: day("2026-01-01 00:00")}, {ID: "b", Time: day("2026-01-02 00:00")}}
	if got := (Policy{}).Prune(bs); len(got) != 0 {
		t.Fatalf("pruned %v", got)
	}
}

func TestLastDailyWeeklyMonthly(t *testing.T) {
	var bs []Backup
	// Two backups a day, 03:00 and 15:00, from 2026-09-01 to 2026-11-26.
	for d := day("2026-09-01 03:00"); d.Before(day("2026-11-27 00:00")); d = d.Add(12 * time.Hour) {
		bs = append(bs, Backup{ID: d.Format("01-02T15"), Time: d})
	}
	p := Policy{Last: 3, Daily: 4, Weekly: 3, Monthly: 3}
	var kept []string
	for _, d := range p.Apply(bs) {
		if d.Keep {
			kept = append(kept, d.Backup.ID)
		}
	}
	// last 3: 11-26T15 11-26T03 11-25T15; daily: newest of 26,25,24,23;
	// weekly (ISO weeks start Monday; 11-26 is a Thursday): W48 -> 11-26T15,
	// W47 -> 11-22T15 (Sunday), W46 -> 11-15T15; monthly: 11 -> 11-26T15,
	// 10 -> 10-31T15, 09 -> 09-30T15.
	want := "11-26T15,11-26T03,11-25T15,11-24T15,11-23T15,11-22T15,11-15T15,10-31T15,09-30T15"
	if strings.Join(kept, ",") != want {
		t.Fatalf("kept %v\nwant %v", strings.Join(kept, ","), want)
	}
	if n := len(p.Prune(bs)); n != len(bs)-9 {
		t.Fatalf("pruned %d of %d", n, len(bs))
	}
}

func TestNewestVerifiedIsNeverPruned(t *testing.T) {
	bs := []Backup{
		{ID: "new-unverified", Time: day("2026-11-26 03:00")},
		{ID: "older-unverified", Time: day("2026-11-25 03:00")},
		{ID: "verified", Time: day("2026-11-24 03:00"), Verified: true},
		{ID: "old-verified", Time: day("2026-11-23 03:00"), Verified: true},
	}
	got := Policy{Last: 1}.Prune(bs)
	if ids(got) != "older-unverified,old-verified" {
		t.Fatalf("pruned %s", ids(got))
	}
}

// Property: over random lists and policies, the newest verified backup and
// the newest Last backups always survive, and Apply partitions the input.
func TestPruneProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for iter := 0; iter < 500; iter++ {
		n := rng.Intn(40)
		bs := make([]Backup, n)
		for i := range bs {
			bs[i] = Backup{ID: fmt.Sprint(i), Time: day("2026-01-01 00:00").Add(time.Duration(rng.Intn(400*24)) * time.Hour), Verified: rng.Intn(5) == 0}
		}
		p := Policy{Last: rng.Intn(4), Daily: rng.Intn(5), Weekly: rng.Intn(4), Monthly: rng.Intn(4)}
		pruned := map[string]bool{}
		for _, b := range p.Prune(bs) {
			pruned[b.ID] = true
		}
		if len(p.Apply(bs)) != n {
			t.Fatal("Apply lost backups")
		}
		sorted := append([]Backup(nil), bs...)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.After(sorted[j].Time) })
		for _, b := range sorted {
			if b.Verified {
				if pruned[b.ID] {
					t.Fatalf("policy %+v pruned the newest verified backup %v", p, b)
				}
				break
			}
		}
		for i := 0; i < p.Last && i < n; i++ {
			if pruned[sorted[i].ID] {
				t.Fatalf("policy %+v pruned one of the last %d", p, p.Last)
			}
		}
		if p != (Policy{}) && n > 0 && len(pruned) == n {
			t.Fatalf("policy %+v pruned everything", p)
		}
	}
}

func ExamplePolicy_Prune() {
	backups := []Backup{
		{ID: "prod-20261126T0300.dkb", Time: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC), Verified: true},
		{ID: "prod-20261125T0300.dkb", Time: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC), Verified: true},
		{ID: "prod-20261124T0300.dkb", Time: time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC), Verified: true},
	}
	for _, b := range (Policy{Last: 1, Daily: 2}).Prune(backups) {
		fmt.Println("remove", b.ID)
	}
	// Output: remove prod-20261124T0300.dkb
}
