// Command switchboard is the whole platform: the web server, the operator
// CLI and the endpoint agent, in one binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	os.Exit(exitStatus(err))
}

// exitStatus prints err as one line and maps it to the process status:
// 0 success, 2 bad input (usage, validation, unknown names), 1 anything else.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var silent silentError
	if errors.As(err, &silent) {
		return silent.status
	}
	fmt.Fprintln(os.Stderr, "switchboard:", err)
	if isUserError(err) {
		return 2
	}
	return 1
}

// silentError carries an exit status for a command that already reported
// its outcome (e.g. a migration summary listing failures).
type silentError struct{ status int }

func (e silentError) Error() string { return fmt.Sprintf("exit status %d", e.status) }
