// Command benchcmd drives package backup for scripts/bench/backup.sh: it
// backs a database up into an archive file, or restores one into a
// database, so the script can time it (and its peak memory) beside
// pg_dump and pg_restore on the same input. It is not part of deploykit's
// interface.
//
//	benchcmd backup  -url URL -db NAME -o FILE [-jobs N]
//	benchcmd restore -url URL -db NAME -owner ROLE -i FILE [-jobs N] [-precheck]
//	benchcmd check   -i FILE [-deep -url URL]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/deploykit/deploykit/backup"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchcmd backup|restore|check [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	url := fs.String("url", "", "admin connection URL")
	db := fs.String("db", "", "database")
	owner := fs.String("owner", "", "role owning the restored database")
	out := fs.String("o", "", "archive to write")
	in := fs.String("i", "", "archive to read")
	jobs := fs.Int("jobs", 0, "parallel connections (0: max(2, CPUs))")
	precheck := fs.Bool("precheck", false, "restore: verify the whole archive before restoring (RestoreFile)")
	deep := fs.Bool("deep", false, "check: restore into a scratch database and count rows")
	verbose := fs.Bool("v", false, "print progress events with elapsed times to stderr")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the client to this file")
	mwm := fs.String("mwm", "", "restore: maintenance_work_mem of the index builds (default backup.DefaultMaintenanceWorkMem)")
	fs.Parse(os.Args[2:])
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchcmd:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	start := time.Now()
	var onEvent func(backup.Event)
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		onEvent = func(e backup.Event) {
			fmt.Fprintf(os.Stderr, "%7.2fs %s %s rows=%d\n", time.Since(start).Seconds(), e.Kind, e.Path, e.Rows)
		}
	}
	var err error
	switch os.Args[1] {
	case "backup":
		var res *backup.Result
		res, err = backup.CreateFile(ctx, *out, backup.Options{Instance: "bench", Jobs: *jobs, OnEvent: onEvent,
			Database: &backup.Database{ConnString: *url, Name: *db}})
		if err == nil {
			fmt.Printf("tables=%d rows=%d bytes=%d\n", res.Tables, res.Rows, res.Bytes)
		}
	case "restore":
		opts := backup.RestoreOptions{Instance: "bench", Force: true, SkipDirs: true, Jobs: *jobs, OnEvent: onEvent, MaintenanceWorkMem: *mwm, Logger: log,
			Database: &backup.Database{ConnString: *url, Name: *db, Owner: *owner}}
		if *precheck {
			_, err = backup.RestoreFile(ctx, *in, opts)
		} else {
			var f *os.File
			if f, err = os.Open(*in); err == nil {
				_, err = backup.Restore(ctx, f, opts)
				f.Close()
			}
		}
	case "check":
		opts := backup.CheckOptions{}
		if *deep {
			opts.Deep = &backup.Database{ConnString: *url}
		}
		var s *backup.Summary
		if s, err = backup.CheckFile(ctx, *in, opts); err == nil {
			fmt.Printf("members=%d tables=%d rows=%d\n", s.Members, s.Tables, s.Rows)
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcmd:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "benchcmd %s: %.2fs\n", os.Args[1], time.Since(start).Seconds())
}
