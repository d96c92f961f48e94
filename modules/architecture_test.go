package modules_test

// The architecture test: DESIGN.md's tenancy contract says module code never
// holds the root *gorm.DB, and its layout table says which folder may import
// which. Both are checked here by parsing every Go file of the module.
//
// Which files are checked: production files only (not *_test.go). Tests
// must set up what production code may not touch — migrate the control
// plane, provision tenants through a Cluster, inspect pg_catalog — and they
// are not linked into the binary, so they cannot hand the root handle to a
// request. Test files are still parsed (a syntax error fails this test), but
// no rule applies to them.

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// controlPlaneOwners are the modules that may reach the control plane and
// the root handle (DESIGN.md, "The tenancy contract").
// audit and policies are here because they own control-plane tables (the
// platform audit log, the global policy baselines); DESIGN's list predates them.
var controlPlaneOwners = map[string]bool{"tenants": true, "identity": true, "dashboard": true, "audit": true, "policies": true}

// forbiddenImports are import paths (or path prefixes ending in "/") that
// give a module its own way into the database, around tenancy.Do. The
// module's own name is substituted for "switchboard".
var forbiddenImports = []struct{ path, why string }{
	{"database/sql", "a raw SQL handle"},
	{"database/sql/", "a raw SQL handle"},
	{"gorm.io/driver/", "a GORM driver opens a root connection"},
	{"github.com/jackc/pgx", "pgx opens connections of its own"},
	{"github.com/jackc/pgx/", "pgx opens connections of its own"},
	{"github.com/jackc/pgconn", "pgx opens connections of its own"},
	{"github.com/lib/pq", "a PostgreSQL driver opens connections of its own"},
	{"switchboard/platform/pgembed", "the embedded cluster's superuser"},
	{"switchboard/db", "migrations are control-plane work"},
}

// tenancyControlAPI are the tenancy identifiers that are control-plane
// tools: the Cluster owns the root pool (Open creates one, Bind makes any
// tenant id usable), and the schema helpers work on a root transaction.
var tenancyControlAPI = map[string]string{
	"Cluster":         "the Cluster owns the root pool",
	"Open":            "Open creates a Cluster with its own root pool",
	"CreateSchema":    "schema DDL is control-plane work",
	"DropSchema":      "schema DDL is control-plane work",
	"Enter":           "Enter re-scopes a root transaction to any tenant",
	"Leave":           "Leave returns a transaction to the application role",
	"Seal":            "Seal hands a tenant role to a cell's login role",
	"Upgrade":         "Upgrade enters a tenant without Do's statement filter",
	"MoveMembership":  "MoveMembership hands a tenant between cells",
	"EnsureLoginRole": "login roles are control-plane work",
}

// escapeSelectors are field or method names that lead from a scoped *gorm.DB
// (or anything else) back to the root pool.
var escapeSelectors = map[string]string{
	"ControlDB": "ControlDB is the root *gorm.DB",
	"ConnPool":  "ConnPool is GORM's connection pool: the way around the scoped transaction",
	"Admin":     "Admin is a cell server's root *gorm.DB",
}

// roleSwitchSQL matches SQL that changes the role or search_path of the
// current transaction. Inside tenancy.Do that would leave the tenant's scope
// (Do's commit guard catches it only at commit, after reads were made).
var roleSwitchSQL = regexp.MustCompile(`(?i)(^|;)\s*(SET\s+(SESSION\s+|LOCAL\s+)?(ROLE|SEARCH_PATH|SESSION\s+AUTHORIZATION)\b|RESET\s+(ROLE|SEARCH_PATH|ALL|SESSION\s+AUTHORIZATION)\b)` +
	`|set_config\s*\(\s*'(role|search_path)'`)

// topLevel are DESIGN.md's fixed top-level folders that hold Go code.
var topLevel = map[string]bool{"app": true, "modules": true, "platform": true, "db": true, "config": true, "templates": true, "static": true}

// checkFile returns the rule violations in one parsed production file. rel
// is the file's slash-separated path relative to the module root (e.g.
// "modules/alerts/service.go"); module is the module path from go.mod.
func checkFile(module, rel string, fset *token.FileSet, f *ast.File) []string {
	var out []string
	report := func(n ast.Node, format string, args ...any) {
		pos := fset.Position(n.Pos())
		out = append(out, fmt.Sprintf("%s:%d: %s", rel, pos.Line, fmt.Sprintf(format, args...)))
	}

	parts := strings.Split(path.Dir(rel), "/")
	top := parts[0]
	if path.Dir(rel) == "." {
		top = ""
	}
	modName := ""
	if top == "modules" && len(parts) > 1 {
		modName = parts[1]
	}
	restricted := top == "modules" && !controlPlaneOwners[modName]
	internal := func(p string) (string, bool) { // path inside the module, without the module prefix
		if p == module {
			return "", true
		}
		rest, ok := strings.CutPrefix(p, module+"/")
		return rest, ok
	}
	under := func(p, folder string) bool { return p == folder || strings.HasPrefix(p, folder+"/") }

	if !topLevel[top] {
		report(f.Name, "Go code outside DESIGN.md's fixed top-level folders (%s)", strings.Join(sortedKeys(topLevel), ", "))
	}

	tenancyName := "" // local name of the tenancy import in this file
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			report(imp, "unreadable import %s", imp.Path.Value)
			continue
		}

		// Layering (DESIGN.md's layout table).
		if in, ok := internal(p); ok {
			switch top {
			case "platform":
				if !under(in, "platform") {
					report(imp, "platform code imports %q; platform may import only the standard library, third-party packages and other platform packages", p)
				}
			case "db":
				// db's own packages (the test fixtures in db/dbtest) may use the migrator.
				if !under(in, "platform") && !under(in, "db") {
					report(imp, "db imports %q; db may import only %s/platform/...", p, module)
				}
			case "modules":
				switch {
				case under(in, "platform"), under(in, "modules"):
				case in == "db" && controlPlaneOwners[modName]:
				case in == "db":
					// reported below as a root-handle rule, with its reason
				default:
					report(imp, "module %q imports %q; modules may import only %s/platform/..., other modules and (control-plane owners) %s/db", modName, p, module, module)
				}
			case "config", "templates", "static":
				report(imp, "%s imports %q; it must not depend on the rest of the module", top, p)
			}
		}

		if !restricted {
			continue
		}
		// The root-handle rules, for modules other than the control-plane owners.
		for _, fi := range forbiddenImports {
			fp := strings.Replace(fi.path, "switchboard", module, 1)
			if p == fp || (strings.HasSuffix(fp, "/") && strings.HasPrefix(p, fp)) {
				report(imp, "module %q imports %q: %s; only %s may", modName, p, fi.why, ownerList())
			}
		}
		if p == module+"/platform/tenancy" {
			switch {
			case imp.Name == nil:
				tenancyName = "tenancy"
			case imp.Name.Name == ".":
				report(imp, "module %q dot-imports tenancy, which hides its control-plane API from this check; import it by name", modName)
			default:
				tenancyName = imp.Name.Name
			}
		}
	}
	if !restricted {
		return out
	}

	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && tenancyName != "" && id.Name == tenancyName {
				if why, bad := tenancyControlAPI[n.Sel.Name]; bad {
					report(n, "module %q uses tenancy.%s: %s; only %s may", modName, n.Sel.Name, why, ownerList())
				}
			}
			if why, bad := escapeSelectors[n.Sel.Name]; bad {
				report(n, "module %q uses .%s: %s; only %s may", modName, n.Sel.Name, why, ownerList())
			}
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "DB" {
				report(n, "module %q calls .DB(): that returns the *sql.DB behind GORM, around the scoped transaction", modName)
			}
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				if s, err := strconv.Unquote(n.Value); err == nil && roleSwitchSQL.MatchString(s) {
					report(n, "module %q has SQL that switches role or search_path (%q): tenancy.Do alone sets the scope", modName, s)
				}
			}
		}
		return true
	})
	return out
}

func ownerList() string {
	return "the control-plane owners (" + strings.Join(sortedKeys(controlPlaneOwners), ", ") + ")"
}

func sortedKeys(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// moduleRoot returns the folder holding go.mod and the module path it declares.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatalf("modules/ is expected directly under the module root: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return dir, strings.Trim(strings.TrimSpace(m), `"`)
		}
	}
	t.Fatal("go.mod declares no module")
	return "", ""
}

func TestArchitecture(t *testing.T) {
	root, module := moduleRoot(t)
	fset := token.NewFileSet()
	var violations []string
	checked := map[string]int{} // production files per top-level folder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			if rel != "." && fileExists(filepath.Join(p, "go.mod")) {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			violations = append(violations, fmt.Sprintf("%s: %v", rel, err))
			return nil
		}
		if strings.HasSuffix(rel, "_test.go") {
			return nil // see the file comment: tests are exempt
		}
		checked[strings.Split(rel, "/")[0]]++
		violations = append(violations, checkFile(module, rel, fset, f)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A walk that saw nothing would pass vacuously.
	for _, folder := range []string{"app", "modules", "platform", "db"} {
		if checked[folder] == 0 {
			t.Errorf("found no production Go files under %s/; is the walk rooted at the module (%s)?", folder, root)
		}
	}
	for _, v := range violations {
		t.Error(v)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestArchitectureRules proves the checker flags what it must and lets
// through what it must, with the same function TestArchitecture uses.
func TestArchitectureRules(t *testing.T) {
	cases := []struct {
		name string
		rel  string // where the snippet pretends to live
		src  string
		want []string // fragments, each of which some violation must contain; empty: must pass
	}{
		// Root-handle rules: non-owner modules.
		{"sql import", "modules/alerts/service.go", `package alerts; import _ "database/sql"`, []string{`imports "database/sql"`}},
		{"sql driver import", "modules/alerts/service.go", `package alerts; import _ "database/sql/driver"`, []string{`imports "database/sql/driver"`}},
		{"gorm postgres driver", "modules/alerts/service.go", `package alerts; import _ "gorm.io/driver/postgres"`, []string{`imports "gorm.io/driver/postgres"`}},
		{"pgx", "modules/alerts/service.go", `package alerts; import _ "github.com/jackc/pgx/v5"`, []string{`"github.com/jackc/pgx/v5"`}},
		{"pgconn", "modules/alerts/service.go", `package alerts; import _ "github.com/jackc/pgx/v5/pgconn"`, []string{`"github.com/jackc/pgx/v5/pgconn"`}},
		{"pgxpool", "modules/slas/timers.go", `package slas; import _ "github.com/jackc/pgx/v5/pgxpool"`, []string{`pgxpool`}},
		{"pgembed", "modules/alerts/service.go", `package alerts; import _ "switchboard/platform/pgembed"`, []string{`pgembed`}},
		{"db migrations", "modules/agents/service.go", `package agents; import _ "switchboard/db"`, []string{`imports "switchboard/db": migrations are control-plane work`}},
		{"cluster parameter", "modules/alerts/service.go", `package alerts
			import "switchboard/platform/tenancy"
			type Service struct{ c *tenancy.Cluster }`, []string{"tenancy.Cluster"}},
		{"embedded cluster", "modules/alerts/service.go", `package alerts
			import "switchboard/platform/tenancy"
			type Service struct{ *tenancy.Cluster }`, []string{"tenancy.Cluster"}},
		{"aliased tenancy", "modules/alerts/service.go", `package alerts
			import tn "switchboard/platform/tenancy"
			func New(c *tn.Cluster) {}`, []string{"tenancy.Cluster"}},
		{"dot-imported tenancy", "modules/alerts/service.go", `package alerts
			import . "switchboard/platform/tenancy"
			func New(c *Cluster) {}`, []string{"dot-imports tenancy"}},
		{"tenancy.Open", "modules/agents/service.go", `package agents
			import ("context"; "switchboard/platform/tenancy")
			func open(ctx context.Context, url string) { c, _ := tenancy.Open(ctx, url, tenancy.Options{Pool: tenancy.PoolOptions{}}); _ = c }`, []string{"tenancy.Open"}},
		{"tenancy.Enter inside Do", "modules/agents/service.go", `package agents
			import ("context"; "gorm.io/gorm"; "switchboard/platform/tenancy")
			func peek(ctx context.Context, t tenancy.Tenant) error {
				return tenancy.Do(ctx, t, func(tx *gorm.DB) error { return tenancy.Enter(tx, 7) })
			}`, []string{"tenancy.Enter"}},
		{"ControlDB call", "modules/alerts/service.go", `package alerts
			func count(s interface{ ControlDB() any }) { _ = s.ControlDB() }`, []string{".ControlDB"}},
		{"ControlDB method value", "modules/alerts/service.go", `package alerts
			func keep(s interface{ ControlDB() any }) func() any { return s.ControlDB }`, []string{".ControlDB"}},
		{"ConnPool of a statement", "modules/alerts/service.go", `package alerts
			import "gorm.io/gorm"
			func escape(tx *gorm.DB) any { return tx.Statement.ConnPool }`, []string{".ConnPool"}},
		{"ConnPool of the config", "modules/alerts/service.go", `package alerts
			import "gorm.io/gorm"
			func escape(tx *gorm.DB) any { return tx.Config.ConnPool }`, []string{".ConnPool"}},
		{"DB() escape hatch", "modules/alerts/service.go", `package alerts
			import "gorm.io/gorm"
			func escape(tx *gorm.DB) { sqlDB, _ := tx.DB(); _ = sqlDB }`, []string{"calls .DB()"}},
		{"SET ROLE", "modules/alerts/service.go", `package alerts
			import "gorm.io/gorm"
			func peek(tx *gorm.DB) error { return tx.Exec("SET LOCAL ROLE tenant_7").Error }`, []string{"switches role"}},
		{"set_config role", "modules/alerts/service.go", "package alerts\nconst q = `SELECT set_config('role', 'tenant_7', true)`", []string{"switches role"}},
		{"set search_path after another statement", "modules/alerts/service.go", `package alerts; const q = "SELECT 1; set search_path = tenant_7"`, []string{"switches role"}},
		{"RESET ROLE", "modules/alerts/service.go", `package alerts; const q = "RESET ROLE"`, []string{"switches role"}},
		{"nested folder of a non-owner", "modules/alerts/webhook/prometheus.go", `package webhook; import _ "database/sql"`, []string{`module "alerts" imports "database/sql"`}},
		{"several violations in one file", "modules/alerts/service.go", `package alerts
			import ("database/sql"; "switchboard/platform/tenancy")
			var _ *sql.DB
			var _ *tenancy.Cluster`, []string{`"database/sql"`, "tenancy.Cluster"}},

		// Layering.
		{"module imports app", "modules/alerts/http.go", `package alerts; import _ "switchboard/app"`, []string{`imports "switchboard/app"`}},
		{"owner imports app", "modules/tenants/http.go", `package tenants; import _ "switchboard/app"`, []string{`imports "switchboard/app"`}},
		{"module imports config", "modules/alerts/http.go", `package alerts; import _ "switchboard/config"`, []string{`imports "switchboard/config"`}},
		{"module imports templates", "modules/alerts/http.go", `package alerts; import _ "switchboard/templates"`, []string{`imports "switchboard/templates"`}},
		{"platform imports a module", "platform/web/render.go", `package web; import _ "switchboard/modules/tenants"`, []string{`platform code imports "switchboard/modules/tenants"`}},
		{"platform imports app", "platform/jobs/jobs.go", `package jobs; import _ "switchboard/app"`, []string{`platform code imports "switchboard/app"`}},
		{"platform imports db", "platform/tenancy/do.go", `package tenancy; import _ "switchboard/db"`, []string{`platform code imports "switchboard/db"`}},
		{"db imports a module", "db/migrator.go", `package db; import _ "switchboard/modules/tenants"`, []string{`db imports "switchboard/modules/tenants"`}},
		{"db imports config", "db/migrator.go", `package db; import _ "switchboard/config"`, []string{`db imports "switchboard/config"`}},
		{"config imports platform", "config/config.go", `package config; import _ "switchboard/platform/web"`, []string{`config imports "switchboard/platform/web"`}},
		{"go code outside the layout", "internal/helpers/helpers.go", `package helpers`, []string{"outside DESIGN.md's fixed top-level folders"}},

		// Must pass.
		{"non-owner through tenancy.Do", "modules/alerts/service.go", `package alerts
			import ("context"; "gorm.io/gorm"; "switchboard/platform/tenancy")
			type Service struct{ tenants interface{ Scope(int64) tenancy.Tenant } }
			func (s *Service) List(ctx context.Context, t tenancy.Tenant) (n int64, err error) {
				err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
					return tx.Table("alerts").Where("state = ?", "open").Count(&n).Error
				})
				t2, _ := tenancy.FromContext(ctx)
				_ = tenancy.SchemaName(t2.ID)
				return n, err
			}`, nil},
		{"non-owner uses another module's service", "modules/alerts/service.go", `package alerts
			import "switchboard/modules/tenants"
			type Service struct{ tenants *tenants.Service }`, nil},
		{"non-owner uses platform packages", "modules/branding/http.go", `package branding
			import (_ "switchboard/platform/web"; _ "switchboard/platform/authz"; _ "gorm.io/gorm"; _ "github.com/labstack/echo/v4")`, nil},
		{"column named role", "modules/identity2/service.go", `package identity2; const q = "UPDATE client_users SET role = ? WHERE id = ?"`, nil},
		{"names that only look alike", "modules/alerts/service.go", `package alerts
			type cfg struct{ ConnPoolSize int; DBName string }
			func (c cfg) DBs() []string { return nil }
			func use(c cfg) { _ = c.ConnPoolSize; _ = c.DBName; _ = c.DBs() }`, nil},
		{"a local Cluster type is not tenancy's", "modules/agents/model.go", `package agents
			type Cluster struct{ Name string }
			var _ = Cluster{}`, nil},
		{"owner tenants reaches the root", "modules/tenants/service.go", `package tenants
			import ("switchboard/db"; "switchboard/platform/tenancy"; "github.com/jackc/pgx/v5/pgconn")
			type Service struct{ cluster *tenancy.Cluster; set db.Set }
			var _ *pgconn.PgError
			func (s *Service) root() any { return s.cluster.ControlDB() }
			const q = "SELECT set_config('role', 'none', true)"`, nil},
		{"owner identity holds a cluster", "modules/identity/service.go", `package identity
			import ("database/sql"; "switchboard/platform/tenancy")
			type Service struct{ c *tenancy.Cluster; db *sql.DB }`, nil},
		{"owner dashboard in a nested folder", "modules/dashboard/rollups/rollups.go", `package rollups
			import "switchboard/platform/tenancy"
			func New(c *tenancy.Cluster) any { return c.ControlDB() }`, nil},
		{"platform uses platform", "platform/web/web.go", `package web; import _ "switchboard/platform/tenancy"; import _ "database/sql"`, nil},
		{"db uses platform", "db/migrator.go", `package db; import _ "switchboard/platform/tenancy"; import _ "gorm.io/gorm"`, nil},
		{"db's test fixtures use the migrator", "db/dbtest/dbtest.go", `package dbtest; import _ "switchboard/db"; import _ "switchboard/platform/pgtest"`, nil},
		{"app uses everything", "app/env.go", `package main
			import (_ "switchboard/config"; _ "switchboard/db"; _ "switchboard/modules/tenants"; _ "switchboard/platform/pgembed"; _ "switchboard/templates")`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, tc.rel, tc.src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatalf("snippet does not parse: %v", err)
			}
			got := checkFile("switchboard", tc.rel, fset, f)
			if len(tc.want) == 0 {
				for _, v := range got {
					t.Errorf("unexpected violation: %s", v)
				}
				return
			}
			if len(got) == 0 {
				t.Fatalf("not flagged; want violations containing %q", tc.want)
			}
			for _, w := range tc.want {
				found := false
				for _, v := range got {
					found = found || strings.Contains(v, w)
				}
				if !found {
					t.Errorf("no violation contains %q; got:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}
