//go:build unix

package pgembed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// runAs is the OS account the server runs as when we are root, because
// PostgreSQL refuses to run as root. nil means "the current user".
type runAs struct {
	name     string
	uid, gid uint32
}

// serverUser returns the account to run initdb, pg_ctl and postgres as.
func serverUser() (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgembed: running as root, and PostgreSQL refuses to run as root, "+
			"but there is no `postgres` OS user to run it as (%v); create one "+
			"(`apt-get install postgresql` does) or run as a non-root user", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgembed: unexpected uid/gid %q/%q for OS user postgres", u.Uid, u.Gid)
	}
	return &runAs{name: u.Username, uid: uint32(uid), gid: uint32(gid)}, nil
}

// apply makes cmd run as r, with no supplementary groups so root's groups
// do not leak into the server.
func (r *runAs) apply(cmd *exec.Cmd) {
	if r == nil {
		return
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: r.uid, Gid: r.gid, Groups: []uint32{}},
	}
}

// processAlive reports whether pid exists (EPERM means it exists but is not ours).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// chownTree hands dir and everything under it to r, so the server can write
// its data, socket and log.
func chownTree(dir string, r *runAs) error {
	if r == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(r.uid), int(r.gid))
	})
}

// checkTraversable makes sure r can reach dir: every folder from / down to
// dir needs the search (x) bit for r, else initdb and postgres fail with
// confusing messages.
func checkTraversable(dir string, r *runAs) error {
	if r == nil {
		return nil
	}
	for p := dir; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if ok {
			perm := st.Mode().Perm()
			var can bool
			switch {
			case sys.Uid == r.uid:
				can = perm&0o100 != 0
			case sys.Gid == r.gid:
				can = perm&0o010 != 0
			default:
				can = perm&0o001 != 0
			}
			if !can {
				return fmt.Errorf("pgembed: the %s OS user (which runs PostgreSQL because this process is root) "+
					"cannot enter folder %s (mode %v); make it traversable (chmod o+x %s) or choose another database folder",
					r.name, p, perm, p)
			}
		}
		if parent := filepath.Dir(p); parent == p {
			return nil
		}
	}
}
