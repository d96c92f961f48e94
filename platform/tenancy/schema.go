package tenancy

import (
	"fmt"

	"gorm.io/gorm"
)

// These statements run on the root handle inside a caller's transaction
// (provisioning, fleet migrations, deletion). Names come from the numeric id
// and are checked against identPattern before they reach SQL.

// CreateSchema creates the tenant's NOLOGIN role, makes the application role
// a member (so it can SET ROLE, never inherit), creates the schema owned by
// the tenant role, and enters it for the rest of the transaction.
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

// DropSchema drops the tenant's schema with everything in it, then its role.
// The schema belongs to the tenant role and the application role does not
// inherit it, so the drop runs as the tenant role.
func DropSchema(tx *gorm.DB, id int64) error {
	name := SchemaName(id)
	if err := validIdent(name); err != nil {
		return err
	}
	q := `"` + name + `"`
	err := tx.Exec(`SELECT set_config('role', '` + name + `', true);
		DROP SCHEMA IF EXISTS ` + q + ` CASCADE;
		SELECT set_config('role', 'none', true);
		DROP ROLE IF EXISTS ` + q).Error
	if err != nil {
		return fmt.Errorf("dropping schema and role %s: %w", name, err)
	}
	return nil
}
