//go:build unix

package pgembed

import (
	"bytes"
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

// processAlive reports whether pid runs (EPERM means it exists but is not
// ours). A zombie counts as dead: a killed postmaster stays one until init
// reaps it, and it must not pass for a running server.
func processAlive(pid int) bool {
	return pidExists(pid) && !isZombie(pid)
}

// pidExists reports whether pid is taken at all, zombies included; the
// server's own lock-file check sees it that way.
func pidExists(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// isZombie reads the process state from /proc (Linux; elsewhere false).
func isZombie(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": comm may itself hold ") ", so take the last one.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// tryLock takes an advisory flock on f without waiting; ok is false when
// another open file holds a conflicting one. Locks belong to the open file,
// so two handles in one process exclude each other too.
func tryLock(f *os.File, exclusive bool) (ok bool, err error) {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// chownTree hands dir and everything under it to r, so the server can write
// its data, socket and log.
func chownTree(dir string, r *runAs) error {
	if r == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			err = os.Lchown(p, int(r.uid), int(r.gid))
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a file the server (or its dying children) removed meanwhile
		}
		return err
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
