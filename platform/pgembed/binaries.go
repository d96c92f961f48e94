package pgembed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ErrNoBinaries is returned (wrapped) when no PostgreSQL server binaries can
// be found, so callers can tell "install PostgreSQL" apart from other failures.
var ErrNoBinaries = errors.New("pgembed: PostgreSQL server binaries (initdb, pg_ctl, postgres) not found")

// searchGlobs are the well-known install locations tried after pg_config and
// PATH; a variable so tests can point the search at an empty folder.
var searchGlobs = []string{
	"/usr/lib/postgresql/*/bin",          // Debian, Ubuntu
	"/usr/pgsql-*/bin",                   // RHEL, Fedora (PGDG)
	"/usr/local/pgsql/bin",               // source builds
	"/opt/homebrew/opt/postgresql@*/bin", // Homebrew on Apple silicon
	"/usr/local/opt/postgresql@*/bin",    // Homebrew on Intel
}

// requiredBinaries must all be present in a bindir for it to be usable.
var requiredBinaries = []string{"initdb", "pg_ctl", "postgres"}

// FindBinaries returns the folder holding initdb, pg_ctl and postgres, so the
// app can run a private cluster without any database configured.
//
// It tries `pg_config --bindir`, then initdb on PATH, then the usual install
// locations (highest version first).
func FindBinaries() (string, error) {
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(pgConfig, "--bindir").Output(); err == nil {
			if dir := strings.TrimSpace(string(out)); hasBinaries(dir) {
				return dir, nil
			}
		}
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		// PATH often holds symlinks (/usr/local/bin/initdb -> .../15/bin/initdb);
		// the real folder is the one that also has pg_ctl and postgres.
		if real, err := filepath.EvalSymlinks(initdb); err == nil && hasBinaries(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if dir := filepath.Dir(initdb); hasBinaries(dir) {
			return dir, nil
		}
	}
	var best string
	var bestVer []int
	for _, g := range searchGlobs {
		matches, _ := filepath.Glob(g)
		for _, m := range matches {
			if !hasBinaries(m) {
				continue
			}
			v := dirVersion(m)
			if best == "" || compareVersions(v, bestVer) > 0 {
				best, bestVer = m, v
			}
		}
	}
	if best != "" {
		return best, nil
	}
	return "", fmt.Errorf("%w: install them (e.g. `apt-get install postgresql`) "+
		"or set database.url to an existing PostgreSQL server", ErrNoBinaries)
}

// hasBinaries reports whether dir holds every executable we need.
func hasBinaries(dir string) bool {
	if dir == "" {
		return false
	}
	for _, name := range requiredBinaries {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

var versionRE = regexp.MustCompile(`\d+(?:\.\d+)*`)

// dirVersion extracts the version from ".../15/bin", ".../pgsql-16/bin" or
// ".../postgresql@17/bin"; nil when there is none.
func dirVersion(bindir string) []int {
	m := versionRE.FindString(filepath.Base(filepath.Dir(bindir)))
	if m == "" {
		return nil
	}
	var v []int
	for _, p := range strings.Split(m, ".") {
		n, _ := strconv.Atoi(p)
		v = append(v, n)
	}
	return v
}

// compareVersions orders dotted versions numerically (so 10 > 9.6).
func compareVersions(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x > y {
				return 1
			}
			return -1
		}
	}
	return 0
}
