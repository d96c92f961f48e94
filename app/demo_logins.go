package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"switchboard/modules/identity"
	"switchboard/platform/tenancy"
)

// login is one working sign-in the demo hands out.
type login struct {
	role, email, password, note string
}

// clientLogins are one demo client's portal and users.
type clientLogins struct {
	name, slug, portal string
	users              []login
}

// loginBook is every demo login of a run, with where to use it.
type loginBook struct {
	console string
	staff   []login
	clients []clientLogins
}

// demoClientLogins makes sure the client's demo users exist and can sign in
// (a deleted one is created, a disabled one enabled) and gives each a new
// password, which ends their sessions.
func demoClientLogins(ctx context.Context, e *env, t tenancy.Tenant, d demoClient) ([]login, error) {
	var out []login
	for _, u := range d.users {
		_, password, err := e.identity.CreateClientUser(ctx, t, identity.ClientInput{Email: u.email, Name: u.name, Role: u.role})
		if errors.Is(err, identity.ErrConflict) {
			if _, err = e.identity.SetClientDisabled(ctx, t, u.email, false); err == nil {
				password, err = e.identity.ResetClientPassword(ctx, t, u.email, "")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("demo user %s of %s: %w", u.email, d.slug, err)
		}
		out = append(out, login{role: u.role, email: u.email, password: password})
	}
	return out, nil
}

// demoStaff makes sure the demo owner and a technician limited to one
// client exist and are enabled, with new passwords (a password is only ever
// shown once), which ends their sessions.
func demoStaff(ctx context.Context, e *env) ([]login, error) {
	var out []login
	for _, in := range []identity.StaffInput{
		{Email: "owner@switchboard.example", Name: "Demo Owner", Role: identity.RoleOwner, Scope: identity.ScopeAll},
		{Email: "tech@switchboard.example", Name: "Demo Technician", Role: identity.RoleTechnician, Scope: identity.ScopeList, Tenants: []string{"acme-health"}},
	} {
		_, password, err := e.identity.CreateStaff(ctx, in)
		if errors.Is(err, identity.ErrConflict) {
			if _, err = e.identity.SetStaffDisabled(ctx, in.Email, false); err == nil {
				password, err = e.identity.ResetStaffPassword(ctx, in.Email, "")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("demo staff %s: %w", in.Email, err)
		}
		l := login{role: in.Role, email: in.Email, password: password}
		if in.Scope == identity.ScopeList {
			l.note = "works in " + strings.Join(in.Tenants, ", ") + " only"
		}
		out = append(out, l)
	}
	return out, nil
}

// print writes the book as `make run` shows it.
func (b loginBook) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "demo: staff console\t%s\t\t\n", b.console)
	for _, l := range b.staff {
		fmt.Fprintf(tw, "demo:   %s\t%s\t%s\t%s\n", l.role, l.email, l.password, l.note)
	}
	for _, c := range b.clients {
		fmt.Fprintf(tw, "demo: %s portal\t%s\t\t\n", c.name, c.portal)
		for _, l := range c.users {
			fmt.Fprintf(tw, "demo:   %s\t%s\t%s\t\n", l.role, l.email, l.password)
		}
	}
	_ = tw.Flush()
}

// writeLogins replaces the logins file (mode 0600, its folder 0700 when
// made) through a temporary file, so a reader never sees half of it, and
// returns its absolute path.
func writeLogins(path string, b loginBook, at time.Time) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return "", fmt.Errorf("writing the demo logins: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(abs), ".demo-logins-*")
	if err != nil {
		return "", fmt.Errorf("writing the demo logins: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	fmt.Fprintf(f, "Switchboard demo logins, written %s by `switchboard demo`.\n", at.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintln(f, "Every run gives these users new passwords (ending their sessions) and rewrites this file.")
	fmt.Fprintln(f)
	b.print(f)
	err = f.Chmod(0o600) // CreateTemp's 0600 already; said again, since the file holds passwords
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("writing the demo logins: %w", err)
	}
	if err := os.Rename(f.Name(), abs); err != nil {
		return "", fmt.Errorf("writing the demo logins: %w", err)
	}
	return abs, nil
}
