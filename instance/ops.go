package instance

import (
	"context"
	"fmt"
)

// plan rebuilds an operation from its name and parameters: the same
// function plans a new operation and the recovery of an interrupted one,
// so both run exactly the same steps.
func (m *Manager) plan(ctx context.Context, name, op string, params map[string]string) (*operation, error) {
	if f, ok := m.planners()[op]; ok {
		return f(ctx, name, params)
	}
	return nil, fmt.Errorf("unknown operation %q in the journal", op)
}

type planner func(ctx context.Context, name string, params map[string]string) (*operation, error)

func (m *Manager) planners() map[string]planner {
	return map[string]planner{}
}
