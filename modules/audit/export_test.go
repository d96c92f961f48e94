package audit

// ParseFilter exposes parseFilter to the external tests of this package
// (they live in audit_test because they provision tenants, and the tenants
// module imports audit).
var ParseFilter = parseFilter
