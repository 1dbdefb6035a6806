package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/deploykit/deploykit/instance"
)

// progress turns the library's events into output on stderr: a progress
// bar per step when stderr is a terminal, one line per step otherwise (so
// logs of a CI run or a cron job stay readable), nothing with --json
// except information messages.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	quiet bool
	bar   *progressbar.ProgressBar
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet}
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		p.tty = true
	}
	return p
}

func (p *progress) event(e instance.Event) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Kind {
	case instance.EventInfo:
		p.clearBar()
		fmt.Fprintf(p.w, "%s: %s\n", e.Instance, e.Message)
	case instance.EventStep:
		if p.quiet {
			return
		}
		p.clearBar()
		if p.tty {
			p.bar = progressbar.NewOptions64(-1,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription(fmt.Sprintf("%s %s: %s", e.Op, e.Instance, e.Step)),
				progressbar.OptionSpinnerType(14),
				progressbar.OptionClearOnFinish(),
				progressbar.OptionThrottle(100*time.Millisecond),
			)
			return
		}
		fmt.Fprintf(p.w, "%s %s: %s …\n", e.Op, e.Instance, e.Step)
	case instance.EventProgress:
		if p.quiet || !p.tty || p.bar == nil {
			return
		}
		if e.Total > 0 && p.bar.GetMax64() != e.Total {
			p.bar.ChangeMax64(e.Total)
		}
		_ = p.bar.Set64(e.Current)
		if e.Message != "" {
			p.bar.Describe(fmt.Sprintf("%s %s: %s %s", e.Op, e.Instance, e.Step, e.Message))
		}
	case instance.EventStepDone:
		if p.quiet {
			return
		}
		p.clearBar()
		status := "done"
		if e.Err != nil {
			status = "FAILED"
		}
		fmt.Fprintf(p.w, "%s %s: %s %s (%s)\n", e.Op, e.Instance, e.Step, status, e.Elapsed.Round(time.Millisecond))
	}
}

func (p *progress) clearBar() {
	if p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
		p.bar = nil
	}
}

func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearBar()
}
