// Package tenancy is the only way into tenant data: it resolves which tenant a
// request is for and runs work inside that tenant's schema with that tenant's role.
package tenancy

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// Tenant statuses recorded in control.tenants.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
	StatusDeleting  = "deleting"
	// StatusProvisioning is a tenant whose schema is being built on another
	// server; nothing in this state is ever served.
	StatusProvisioning = "provisioning"
	// StatusMoving is a tenant being copied to another server: reads are
	// served, writes answer 503 until the move ends.
	StatusMoving = "moving"
)

// Tenant is one client of the MSP as the tenant plane needs to know it. The
// schema and role names are derived from the numeric id, never from user text.
type Tenant struct {
	ID            int64
	Slug          string
	Name          string
	Status        string
	SchemaVersion int
	Cell          string // the cell whose server and login role hold the tenant
	// Moving is set while the tenant is copied to another server (its
	// Status is then the one it had before): reads are served, changes wait.
	Moving bool

	cluster *Cluster // the control plane and cells; nil until bound
}

// ErrUnboundTenant is returned by Do for a Tenant that was not loaded through a Cluster.
var ErrUnboundTenant = errors.New("tenancy: tenant is not bound to a database cluster")

// identPattern is the only shape a tenant schema or role name may have.
var identPattern = regexp.MustCompile(`^tenant_[1-9][0-9]{0,17}$`)

// SchemaName is the schema (and role) name of the tenant with the given id.
func SchemaName(id int64) string { return "tenant_" + strconv.FormatInt(id, 10) }

// Schema is the tenant's own schema.
func (t Tenant) Schema() string { return SchemaName(t.ID) }

// Role is the NOLOGIN role that owns the tenant's schema.
func (t Tenant) Role() string { return SchemaName(t.ID) }

// Bound reports whether the tenant can be used with Do.
func (t Tenant) Bound() bool { return t.cluster != nil }

// validIdent checks a schema or role name before it is put into SQL, even
// though it is built from an integer: the check is cheap and the guard is local.
func validIdent(name string) error {
	if !identPattern.MatchString(name) {
		return fmt.Errorf("tenancy: %q is not a valid tenant identifier", name)
	}
	return nil
}
