package resolve

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/index"
	"github.com/deploykit/deploykit/requirements/lock"
)

// Request is everything `deploykit lock` needs, in one value.
type Request struct {
	// Python is the target interpreter (its environment and wheel tags
	// are probed); Target, when its Environment is set, is used instead.
	Python string
	Target Target

	Roots       []requirements.Requirement
	Constraints []requirements.Requirement
	Pre         bool
	// PreferBinary is pip's --prefer-binary (Options.PreferBinary).
	PreferBinary bool
	Hashes       map[string][]string // --hash, by normalized name
	Format       FormatControl       // --no-binary / --only-binary
	Editable     map[string]bool
	Sources      index.Options // -i, --extra-index-url, -f, --no-index, cache, builder…

	// Previous is an existing lock whose versions are kept when possible;
	// Upgrade / UpgradePackages release them.
	Previous        *lock.Lock
	Upgrade         bool
	UpgradePackages []string

	// LockOptions shape the output (BaseDir for relative paths…).
	LockOptions LockOptions
	Logger      *slog.Logger
}

// Lock resolves a Request and returns the lock and the resolution. A
// *NoSolutionError explains an impossible request; nothing is written
// anywhere (use lock.WriteFile, which is atomic).
func Lock(ctx context.Context, req Request) (*lock.Lock, *Resolution, error) {
	tg := req.Target
	if tg.Environment == nil {
		if req.Python == "" {
			return nil, nil, fmt.Errorf("resolve: Request needs Python or Target")
		}
		var err error
		if tg, err = ProbeTarget(ctx, req.Python); err != nil {
			return nil, nil, err
		}
	}
	f, err := index.New(req.Sources)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	p := &IndexProvider{Finder: f, Tags: tg.Tags, Python: tg.Python, Hashes: req.Hashes, Format: req.Format}
	res, err := Resolve(ctx, p, req.Roots, Options{
		Environment:     tg.Environment,
		Constraints:     req.Constraints,
		Pre:             req.Pre,
		PreferBinary:    req.PreferBinary,
		Preferences:     LockPreferences(req.Previous),
		Upgrade:         req.Upgrade,
		UpgradePackages: req.UpgradePackages,
		Logger:          req.Logger,
	})
	if err != nil {
		return nil, nil, err
	}
	lo := req.LockOptions
	if lo.Environments == nil {
		lo.Environments = []string{tg.Marker()}
	}
	if lo.Editable == nil {
		lo.Editable = req.Editable
	}
	l, err := res.Lock(ctx, f, lo)
	if err != nil {
		return nil, nil, err
	}
	return l, res, nil
}
