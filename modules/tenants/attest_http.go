package tenants

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
)

// attestRoutes registers the download of a client's isolation attestation.
// Owners only: it names the database's roles and the application's login
// roles, and runs a full export of the client.
func (s *Service) attestRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/attest", authz.PlatformOwner, s.attestDownload)
}

// attestDownload answers the attestation as a file (JSON by default,
// ?format=text for the table the CLI prints). A failed check is still a
// 200: the document is the answer, its "passed" field the verdict.
func (s *Service) attestDownload(c echo.Context) error {
	format := c.QueryParam("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "text" {
		return echo.NewHTTPError(http.StatusBadRequest, "format must be json or text")
	}
	t, _ := tenancy.FromContext(c.Request().Context())
	a, err := s.Attest(c.Request().Context(), t.Slug)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	contentType, ext := echo.MIMEApplicationJSON, "json"
	if format == "text" {
		contentType, ext = echo.MIMETextPlainCharsetUTF8, "txt"
		err = a.WriteText(&body)
	} else {
		enc := json.NewEncoder(&body)
		enc.SetIndent("", "  ")
		err = enc.Encode(a)
	}
	if err != nil {
		return fmt.Errorf("writing the attestation of %q: %w", t.Slug, err)
	}
	name := fmt.Sprintf("attestation-%s-%s.%s", t.Slug, a.AttestedAt.Format("20060102T150405Z"), ext)
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Blob(http.StatusOK, contentType, body.Bytes())
}
