package tenancy

import (
	"fmt"

	"gorm.io/gorm"
)

// These statements run on the root handle inside a caller's transaction
// (provisioning, fleet migrations, deletion). Names come from the numeric id
// and are checked against identPattern before they reach SQL.

// CreateSchema creates the tenant's NOLOGIN role, makes the login role of tx
// a member for the rest of the transaction (so it can create the schema and
// SET ROLE, never inherit), creates the schema owned by the tenant role, and
// enters it for the rest of the transaction. Seal ends that membership.
func CreateSchema(tx *gorm.DB, id int64) error {
	name := SchemaName(id)
	if err := validIdent(name); err != nil {
		return err
	}
	q := `"` + name + `"`
	// One round trip. NOINHERIT keeps the tenant role from ever picking up
	// privileges granted to roles it might be made a member of.
	err := tx.Exec(`CREATE ROLE ` + q + ` NOLOGIN NOINHERIT;
		GRANT ` + q + ` TO CURRENT_USER;
		CREATE SCHEMA ` + q + ` AUTHORIZATION ` + q + `;
		SELECT set_config('search_path', '` + name + `', true), set_config('role', '` + name + `', true)`).Error
	if err != nil {
		return fmt.Errorf("creating role and schema %s: %w", name, err)
	}
	return nil
}

// Enter scopes the rest of the caller's transaction to the tenant's schema and role.
func Enter(tx *gorm.DB, id int64) error {
	name := SchemaName(id)
	if err := validIdent(name); err != nil {
		return err
	}
	if err := tx.Exec(`SELECT set_config('search_path', '` + name + `', true), set_config('role', '` + name + `', true)`).Error; err != nil {
		return fmt.Errorf("entering %s: %w", name, err)
	}
	return nil
}

// Leave returns the caller's transaction to the application role and the control schema.
func Leave(tx *gorm.DB) error {
	if err := tx.Exec(`SELECT set_config('role', 'none', true), set_config('search_path', 'control', true)`).Error; err != nil {
		return fmt.Errorf("leaving tenant scope: %w", err)
	}
	return nil
}

// Seal leaves the tenant and hands it to its cell in the caller's
// provisioning transaction: the cell's login role becomes a member of the
// tenant role and the provisioning login role stops being one, so outside
// provisioning the control plane's role can become no tenant at all.
func Seal(tx *gorm.DB, id int64, cellRole string) error {
	name := SchemaName(id)
	if err := validIdent(name); err != nil {
		return err
	}
	if !loginRolePattern.MatchString(cellRole) {
		return fmt.Errorf("tenancy: %q is not a cell login role name", cellRole)
	}
	err := tx.Exec(`SELECT set_config('role', 'none', true), set_config('search_path', 'control', true);
		GRANT "` + name + `" TO "` + cellRole + `";
		REVOKE "` + name + `" FROM CURRENT_USER`).Error
	if err != nil {
		return fmt.Errorf("handing %s to %s: %w", name, cellRole, err)
	}
	return nil
}

// MoveMembership hands the tenant role from one cell's login role to
// another's on the same server, in the caller's transaction.
func MoveMembership(tx *gorm.DB, id int64, fromRole, toRole string) error {
	name := SchemaName(id)
	if err := validIdent(name); err != nil {
		return err
	}
	if !loginRolePattern.MatchString(fromRole) || !loginRolePattern.MatchString(toRole) {
		return fmt.Errorf("tenancy: %q or %q is not a cell login role name", fromRole, toRole)
	}
	err := tx.Exec(`GRANT "` + name + `" TO "` + toRole + `"; REVOKE "` + name + `" FROM "` + fromRole + `"`).Error
	if err != nil {
		return fmt.Errorf("moving %s from %s to %s: %w", name, fromRole, toRole, err)
	}
	return nil
}

// DropSchema drops the tenant's schema with everything in it, then its
// role, on the server of the caller's transaction. The schema belongs to the
// tenant role, so the caller becomes a member for the drop (and the role's
// drop ends every membership). A tenant whose role never got made is fine.
func DropSchema(tx *gorm.DB, id int64) error {
	name := SchemaName(id)
	if err := validIdent(name); err != nil {
		return err
	}
	var exists bool
	if err := tx.Raw(`SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ?)`, name).Scan(&exists).Error; err != nil {
		return fmt.Errorf("looking up role %s: %w", name, err)
	}
	if !exists {
		return nil
	}
	q := `"` + name + `"`
	err := tx.Exec(`GRANT ` + q + ` TO CURRENT_USER;
		SELECT set_config('role', '` + name + `', true);
		DROP SCHEMA IF EXISTS ` + q + ` CASCADE;
		SELECT set_config('role', 'none', true);
		DROP ROLE ` + q).Error
	if err != nil {
		return fmt.Errorf("dropping schema and role %s: %w", name, err)
	}
	return nil
}
