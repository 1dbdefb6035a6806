package backup

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// Post-data: the indexes and constraints built once the rows are in.
//
// pg_restore --jobs runs the ready items largest first by the size of
// their table's data in the same archive. The schema a deploykit archive
// carries has no data, so every item weighs the same and pg_restore takes
// them in dump order: on scripts/bench/backup.sh's database the primary
// key of the largest table (7M rows) started third, and the restore ended
// waiting on it alone. And each build, run with parallel workers beside
// another job's, put up to six processes on two CPUs.
//
// So a restore schedules the builds itself where the archive's catalog
// names each table's indexes and constraints (Table.Indexes,
// Table.Constraints): the tables are dealt, largest first by the bytes
// loaded into them, to as many bins as the restore has jobs, each bin
// going to the one holding the fewest bytes so far (longest processing
// time first); each bin is one pg_restore --single-transaction of its
// tables' items, largest table first, and the bins run side by side, each
// build in one process (max_parallel_maintenance_workers = 0: the bins
// already keep every CPU busy). A foreign key between two tables of one
// bin ends that bin (it needs both tables' indexes; Table.ForeignKeys), so
// its check runs beside the other bins' builds. Everything else in
// post-data — foreign keys across bins, triggers, rules, policies,
// partition index attachments, materialized view data, and any item the
// catalog does not name — follows in one pg_restore --jobs run, as before.

// postDataItem is one line of pg_restore's table of contents that a bin
// builds.
type postDataItem struct {
	table int
	line  string
}

// planPostData splits the post-data lines of list (pg_restore --list
// output) into bins of per-table items and the rest. ok is false when the
// catalog names no indexes or constraints (an archive from before they
// were recorded).
func planPostData(list []string, cat *Catalog, bytes []int64, jobs int) (bins [][]string, rest []string, ok bool) {
	index := map[string]int{}      // schema + "\x00" + index name -> table
	constraint := map[string]int{} // schema + "\x00" + table + " " + constraint name -> table
	fkey := map[string][2]int{}    // schema + "\x00" + table + " " + foreign key name -> table, referenced table
	for i, t := range cat.Tables {
		for _, n := range t.Indexes {
			index[t.Schema+"\x00"+n] = i
		}
		for _, n := range t.Constraints {
			constraint[t.Schema+"\x00"+t.Name+" "+n] = i
		}
		for _, fk := range t.ForeignKeys {
			fkey[t.Schema+"\x00"+t.Name+" "+fk.Name] = [2]int{i, fk.References}
		}
	}
	if len(index) == 0 && len(constraint) == 0 {
		return nil, list, false
	}
	var items []postDataItem
	type fkItem struct {
		tables [2]int
		line   string
	}
	var fks []fkItem
	for _, line := range list {
		if t, found := postDataTable(line, index, constraint); found {
			items = append(items, postDataItem{table: t, line: line})
		} else if k, found := postDataForeignKey(line, fkey); found {
			fks = append(fks, fkItem{k, line})
		} else {
			rest = append(rest, line)
		}
	}
	if len(items) == 0 {
		for _, fk := range fks {
			rest = append(rest, fk.line)
		}
		return nil, rest, true
	}
	// The tables with items, largest first (ties by catalog order).
	var tables []int
	seen := map[int]bool{}
	for _, it := range items {
		if !seen[it.table] {
			seen[it.table] = true
			tables = append(tables, it.table)
		}
	}
	slices.SortStableFunc(tables, func(a, b int) int {
		switch {
		case bytes[a] > bytes[b]:
			return -1
		case bytes[a] < bytes[b]:
			return 1
		}
		return a - b
	})
	n := min(max(jobs, 1), len(tables))
	weights := make([]int64, len(tables))
	for i, t := range tables {
		weights[i] = bytes[t]
	}
	// Dealt as backups deal tables to lanes (lanes.go).
	dealt, _ := assignLanes(weights, n)
	binOf := map[int]int{}
	for i, t := range tables {
		binOf[t] = dealt[i]
	}
	bins = make([][]string, n)
	for _, t := range tables {
		for _, it := range items {
			if it.table == t {
				bins[binOf[t]] = append(bins[binOf[t]], it.line)
			}
		}
	}
	for _, fk := range fks {
		a, aok := binOf[fk.tables[0]]
		b, bok := binOf[fk.tables[1]]
		if aok && bok && a == b {
			bins[a] = append(bins[a], fk.line)
		} else {
			rest = append(rest, fk.line)
		}
	}
	return bins, rest, true
}

// postDataForeignKey finds the tables of an FK CONSTRAINT line of
// pg_restore --list, whose TAG is its table's name, a space and its own.
func postDataForeignKey(line string, fkey map[string][2]int) ([2]int, bool) {
	desc, schema, tag, ok := tocEntry(line)
	if !ok || desc != "FK CONSTRAINT" {
		return [2]int{}, false
	}
	k, ok := fkey[schema+"\x00"+tag]
	return k, ok
}

// postDataTable finds the catalog table an INDEX or CONSTRAINT line of
// pg_restore --list belongs to: the TAG of an index is its name, that of
// a constraint its table's name, a space and its own. Names with spaces,
// or anything else, are not found, and go with the rest.
func postDataTable(line string, index, constraint map[string]int) (int, bool) {
	desc, schema, tag, ok := tocEntry(line)
	var t int
	switch {
	case ok && desc == "INDEX":
		t, ok = index[schema+"\x00"+tag]
	case ok && desc == "CONSTRAINT":
		t, ok = constraint[schema+"\x00"+tag]
	default:
		ok = false
	}
	return t, ok
}

// tocEntry splits a line of pg_restore --list,
//
//	ID; CATALOG-OID OID DESC SCHEMA TAG OWNER
//
// where DESC is one word, or two for the descriptions post-data items
// use ("FK CONSTRAINT", "INDEX ATTACH"). Comments and other lines are not
// ok.
func tocEntry(line string) (desc, schema, tag string, ok bool) {
	if strings.HasPrefix(line, ";") {
		return "", "", "", false
	}
	_, entry, found := strings.Cut(line, "; ")
	if !found {
		return "", "", "", false
	}
	f := strings.Fields(entry)
	if len(f) < 6 {
		return "", "", "", false
	}
	desc, rest := f[2], f[3:]
	if two := desc + " " + f[3]; two == "FK CONSTRAINT" || two == "INDEX ATTACH" {
		desc, rest = two, f[4:]
	}
	if len(rest) < 3 {
		return "", "", "", false
	}
	return desc, rest[0], strings.Join(rest[1:len(rest)-1], " "), true
}

// postData restores the post-data section: the catalog's per-table items
// in bins side by side, then the rest (see above).
func (l *dbLoader) postData(ctx context.Context) error {
	list, err := readLines(l.list)
	if err != nil {
		return l.fail(err)
	}
	bins, rest, ok := planPostData(list, l.catalog, l.bytes, l.jobs)
	if !ok {
		return l.pgRestore(ctx, "post-data", l.list, l.jobs, "")
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, bin := range bins {
		var paths []string
		for k, batch := range batches(bin, postDataBatch) {
			path := fmt.Sprintf("%s.bin%d.%d", l.list, i, k)
			if err := os.WriteFile(path, []byte(strings.Join(batch, "\n")+"\n"), 0o600); err != nil {
				return l.fail(err)
			}
			paths = append(paths, path)
		}
		g.Go(func() error {
			start := time.Now()
			for _, path := range paths {
				if err := l.pgRestore(gctx, "post-data", path, 1, "-c max_parallel_maintenance_workers=0"); err != nil {
					return err
				}
			}
			l.log.Debug("backup: bin built", "bin", i, "items", len(bin), "elapsed", time.Since(start))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	l.log.Debug("backup: indexes built", "bins", len(bins))
	path := l.list + ".rest"
	if err := os.WriteFile(path, []byte(strings.Join(rest, "\n")+"\n"), 0o600); err != nil {
		return l.fail(err)
	}
	return l.pgRestore(ctx, "post-data", path, l.jobs, "")
}

// postDataBatch bounds the items one bin restores in one transaction:
// each holds its table's lock until the commit, and the server's lock
// table is sized by max_locks_per_transaction (64 by default) per
// connection, so a bin of thousands of tables in one transaction would
// run out of shared memory.
const postDataBatch = 64

// batches splits lines into runs of at most n, in order.
func batches(lines []string, n int) [][]string {
	var out [][]string
	for len(lines) > n {
		out = append(out, lines[:n])
		lines = lines[n:]
	}
	if len(lines) > 0 {
		out = append(out, lines)
	}
	return out
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}
