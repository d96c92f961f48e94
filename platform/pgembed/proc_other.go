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

// chownTree does nothing off Unix.
func chownTree(string, *runAs) error { return nil }

// checkTraversable does nothing off Unix.
func checkTraversable(string, *runAs) error { return nil }
