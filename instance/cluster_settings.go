package instance

import (
	"context"
	"strings"

	"github.com/deploykit/deploykit/internal/pgcluster"
	"github.com/deploykit/deploykit/services"
)

// clusterReady waits for the running embedded cluster (Cluster.Ready) and
// gives it the settings deploykit.conf holds now (internal/pgcluster's
// tuning, written by Init). A reload applies most of them; the few that
// wait for a restart (shared_buffers, wal_level: a root made by a
// deploykit from before the tuning) get one restart, through the service
// controller when it runs the server (controlled), else through pg_ctl —
// a second or two, once, as for moving a server under its unit.
func (m *Manager) clusterReady(ctx context.Context, c *pgcluster.Cluster, ctrl services.Controller, controlled bool) error {
	if err := c.Ready(ctx); err != nil {
		return err
	}
	restart, err := c.Reconfigure(ctx)
	if err != nil || len(restart) == 0 {
		return err
	}
	m.emit(Event{Kind: EventInfo, Instance: "postgres", Message: "restarting the embedded PostgreSQL cluster once, for its new settings: " +
		strings.Join(restart, ", ")})
	if controlled {
		if err := ctrl.Restart(ctx, clusterInstance); err != nil {
			return err
		}
		return c.Ready(ctx)
	}
	if err := c.Stop(ctx); err != nil {
		return err
	}
	return c.Start(ctx)
}
