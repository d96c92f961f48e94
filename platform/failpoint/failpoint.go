// Package failpoint lets fault tests cut the process off at a named point,
// like a power cut between a commit and what follows it. A point fires only
// in a process started with SWITCHBOARD_FAILPOINT=<name>: the first time it
// is reached the process kills itself with SIGKILL (no deferred function,
// no graceful shutdown runs). In every other process Hit is one comparison
// with an empty string.
package failpoint

import (
	"os"
	"syscall"
)

// Env is the environment variable that arms one point.
const Env = "SWITCHBOARD_FAILPOINT"

// The points the fault tests use, in the order an alert passes them.
const (
	IngestCommitted = "alerts.ingest-committed" // the alerts committed; the answer not yet written
	OutboxHandled   = "outbox.handled"          // handlers ran (jobs inserted); the events not yet deleted
	DeliverySent    = "notify.sent"             // the receiver answered 2xx; the delivery not yet recorded
)

// The points of provisioning a tenant, in order.
const (
	ProvisionReserved = "tenants.provision-reserved" // the control row written (provisioning); no schema yet
	ProvisionBuilt    = "tenants.provision-built"    // the schema built and handed to the cell; the row not yet active
)

// The points of moving a tenant to a cell on another server, in order. Each
// is reached just after what it names is committed (and, but for the
// restore, recorded as the move's step).
const (
	MoveStarted  = "tenants.move-started"  // status moving (HTTP writes refused), the move recorded
	MoveFenced   = "tenants.move-fenced"   // the tenant's role can no longer write its tables on the source
	MoveRestored = "tenants.move-restored" // the archive restored on the target; not yet handed to the target cell
	MoveCopied   = "tenants.move-copied"   // the copy and the server rows handed to the target cell
	MoveVerified = "tenants.move-verified" // counts and checksums equal on both servers
	MoveFlipped  = "tenants.move-flipped"  // the directory names the target cell; the old copy not yet removed
)

var armed = os.Getenv(Env)

// Hit kills the process if name is the armed point.
func Hit(name string) {
	if armed != "" && armed == name {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way; never run past the point
	}
}
