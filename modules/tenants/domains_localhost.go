package tenants

import (
	"fmt"
	"strings"
)

// isLocalhost reports whether host is under .localhost, which browsers
// resolve to the machine they run on (RFC 6761) and no DNS zone can hold a
// record for.
func isLocalhost(host string) bool { return strings.HasSuffix(host, ".localhost") }

// checkLocalhost is the ownership check of a *.localhost hostname: passed
// without DNS in development (Options.TrustLocalhost), so a new client's
// portal can be tried at http://<name>.localhost:PORT; refused otherwise,
// because in production such a name proves nothing and reaches nobody.
func (s *Service) checkLocalhost(d Domain) error {
	if s.trustLocal {
		return nil
	}
	return fmt.Errorf("%s is a *.localhost name: it resolves only to the machine it is typed on and no DNS can hold its TXT record, "+
		"so it is verified only in development (the embedded database, no database.url); use a real DNS name", d.Hostname)
}
