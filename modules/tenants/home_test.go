package tenants

import (
	"context"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/platform/tenancy"
)

// The home counts every visible client, lists the busy ones first (most
// critical, then most warnings) and the quiet ones by name, one page at a
// time, on both servers.
func TestHomeOrdersAndPages(t *testing.T) {
	s, _ := openTwoServers(t)
	ctx := context.Background()
	type seed struct {
		name, cell        string
		critical, warning int
	}
	seeds := []seed{
		{"Zulu", "", 0, 0}, {"Alpha", farCell, 0, 0}, {"Mike", "", 0, 3},
		{"Bravo", farCell, 2, 0}, {"Kilo", "", 1, 5}, {"Echo", farCell, 0, 0},
	}
	bySeed := map[string]Tenant{}
	var ids []int64
	for _, sd := range seeds {
		tn, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("home"), Name: sd.name, Cell: sd.cell})
		if err != nil {
			t.Fatal(err)
		}
		if err := tenancy.Do(ctx, s.Scope(tn), func(tx *gorm.DB) error {
			return tx.Exec(`SELECT control_api.rollup_set('open_critical', ?), control_api.rollup_set('open_warning', ?)`, sd.critical, sd.warning).Error
		}); err != nil {
			t.Fatal(err)
		}
		bySeed[sd.name] = tn
		ids = append(ids, tn.ID)
	}
	names := func(list []Summary) (out []string) {
		for _, x := range list {
			out = append(out, x.Name)
		}
		return out
	}
	want := []string{"Bravo", "Kilo", "Mike", "Alpha", "Echo", "Zulu"}
	cases := []struct {
		name       string
		from, size int
		want       []string
	}{
		{"everything", 0, 10, want},
		{"first page, busy only", 0, 2, want[:2]},
		{"busy and quiet", 2, 2, want[2:4]},
		{"quiet only", 4, 2, want[4:]},
		{"past the end", 6, 2, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := s.Home(ctx, ids, tc.from, tc.size, 2)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(h.Page); len(got) != len(tc.want) || (len(got) > 0 && !equal(got, tc.want)) {
				t.Fatalf("page %v, want %v", got, tc.want)
			}
			if h.Total != 6 || h.ByStatus["active"] != 6 || h.Critical != 3 || h.Warning != 8 {
				t.Fatalf("counts: total %d, %v, critical %d, warning %d", h.Total, h.ByStatus, h.Critical, h.Warning)
			}
			if got := names(h.Urgent); !equal(got, []string{"Bravo", "Kilo"}) {
				t.Fatalf("urgent %v", got)
			}
		})
	}
	if _, err := s.Suspend(ctx, bySeed["Bravo"].Slug); err != nil {
		t.Fatal(err)
	}
	h, err := s.Home(ctx, ids, 0, 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	if h.ByStatus["suspended"] != 1 || h.Critical != 1 || names(h.Urgent)[0] != "Kilo" {
		t.Fatalf("a suspended client's alerts still count: %v critical %d urgent %v", h.ByStatus, h.Critical, names(h.Urgent))
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// IDsCreatedBefore lists a client only from the moment it was created: the
// monthly report mailing asks it which clients existed in the last month.
func TestIDsCreatedBefore(t *testing.T) {
	s, _ := openTwoServers(t)
	ctx := context.Background()
	tn, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("since"), Name: "Since"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		before time.Time
		listed bool
	}{
		{"a moment after its creation", tn.CreatedAt.Add(time.Second), true},
		{"at its creation", tn.CreatedAt, false},
		{"a day before", tn.CreatedAt.Add(-24 * time.Hour), false},
	} {
		ids, err := s.IDsCreatedBefore(ctx, tc.before)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(ids, tn.ID); got != tc.listed {
			t.Errorf("%s: listed %v, want %v", tc.name, got, tc.listed)
		}
	}
}
