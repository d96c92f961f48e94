//go:build !unix

package pgembed

import (
	"os"
	"os/exec"
)

// runAs is unused off Unix: there is no root to step down from.
type runAs struct{ name string }

// serverUser returns nil: the server runs as the current user.
func serverUser() (*runAs, error) { return nil, nil }

// apply does nothing off Unix.
func (r *runAs) apply(*exec.Cmd) {}

// processAlive reports whether pid exists.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}

// pidExists is processAlive: there are no zombies to tell apart here.
func pidExists(pid int) bool { return processAlive(pid) }

// tryLock always succeeds off Unix: there is no flock, so starts are not
// serialized across processes and Stop relies on pg_stat_activity alone.
func tryLock(*os.File, bool) (bool, error) { return true, nil }

// chownTree does nothing off Unix.
func chownTree(string, *runAs) error { return nil }

// checkTraversable does nothing off Unix.
func checkTraversable(string, *runAs) error { return nil }
