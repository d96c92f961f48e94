package db

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestEmbeddedSetsLoad(t *testing.T) {
	for _, s := range []Set{Control(), Tenant()} {
		if s.Latest() == 0 {
			t.Fatalf("%s: no migrations embedded", s.Plane)
		}
		for i, m := range s.Migrations {
			if m.Version != i+1 || strings.TrimSpace(m.SQL) == "" {
				t.Fatalf("%s: bad migration %+v", s.Plane, m)
			}
		}
	}
}

func TestLoadRejectsBadSets(t *testing.T) {
	cases := map[string]fstest.MapFS{
		"gap":       {"m/0001_a.sql": {Data: []byte("x")}, "m/0003_c.sql": {Data: []byte("x")}},
		"bad name":  {"m/1_a.sql": {Data: []byte("x")}},
		"uppercase": {"m/0001_A.sql": {Data: []byte("x")}},
		"not sql":   {"m/0001_a.txt": {Data: []byte("x")}},
		"duplicate": {"m/0001_a.sql": {Data: []byte("x")}, "m/0001_b.sql": {Data: []byte("x")}},
	}
	for name, fsys := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(fsys, "m", "test"); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	s, err := Load(fstest.MapFS{"m/0002_b.sql": {Data: []byte("b")}, "m/0001_a.sql": {Data: []byte("a")}}, "m", "test")
	if err != nil || s.Latest() != 2 || s.Migrations[0].Name != "a" {
		t.Fatalf("ordering: %+v %v", s, err)
	}
}

func TestPendingAndWith(t *testing.T) {
	s := Set{Plane: "t", Migrations: []Migration{{Version: 1, Name: "a"}, {Version: 2, Name: "b"}}}
	if got := len(s.Pending(0)); got != 2 {
		t.Fatalf("Pending(0) = %d", got)
	}
	if got := len(s.Pending(2)); got != 0 {
		t.Fatalf("Pending(2) = %d", got)
	}
	w := s.With(Migration{Name: "c"})
	if w.Latest() != 3 || w.Migrations[2].Version != 3 || s.Latest() != 2 {
		t.Fatalf("With: %+v (original %+v)", w, s)
	}
}
