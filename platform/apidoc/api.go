package apidoc

import (
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
)

// API registers documented routes: each one declares its authz Permission
// (what the token's user must hold now) and its token scope (what the token
// must hold), and is added to the document.
type API struct {
	Authz *authz.Authorizer
	Echo  *echo.Echo
	Doc   *Doc

	// Idem remembers creating POSTs' answers by Idempotency-Key; nil: keys
	// are ignored.
	Idem *Idempotency

	mu     sync.Mutex
	scopes map[string]string // "METHOD template" -> scope ("" for public routes)
}

// NewAPI returns an API registering on e, declaring on a and documenting in d.
func NewAPI(a *authz.Authorizer, e *echo.Echo, d *Doc) *API {
	return &API{Authz: a, Echo: e, Doc: d, scopes: map[string]string{}}
}

// Route registers h for op with the permission and token scope it needs.
// An authenticated route without a scope is a programming error.
func (a *API) Route(op Op, perm authz.Permission, scope string, h echo.HandlerFunc) {
	if (scope == "") != (perm == authz.Public) {
		panic("apidoc: " + op.Method + " " + op.Path + ": a public route has no scope, every other route one")
	}
	op.Public = perm == authz.Public
	if op.Creates {
		op.Params = append(op.Params, Param{Name: "Idempotency-Key", In: "header",
			Description: "makes a retry safe: a repeat within 24 hours gets the first answer (Idempotent-Replayed: true)"})
		note := "With an Idempotency-Key, a repeat of the same request (same body) within 24 hours returns the first answer; " +
			"the same key with another body is refused with 422, and while the first request still runs with 409."
		if len(op.Forget) > 0 {
			note += " A replayed answer lacks " + strings.Join(op.Forget, ", ") + ", which is shown only once and never stored."
		}
		op.Description = strings.TrimSpace(op.Description + "\n\n" + note)
		if a.Idem != nil {
			h = a.Idem.wrap(h, op.Forget)
		}
	}
	a.Authz.Route(a.Echo, op.Method, op.Path, perm, h)
	a.Doc.Add(op)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.scopes[op.Method+" "+op.Path] = scope
}

// Scope returns the token scope that method on the route template needs.
func (a *API) Scope(method, path string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.scopes[method+" "+path]
	return s, ok
}

// Routes returns every registered "METHOD template" with its scope.
func (a *API) Routes() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]string, len(a.scopes))
	for k, v := range a.scopes {
		out[k] = v
	}
	return out
}

// ServeDocument registers GET path (public) serving the document as JSON.
func (a *API) ServeDocument(path string) {
	op := Op{Method: http.MethodGet, Path: path, ID: "getOpenAPI", Summary: "This OpenAPI document", Tag: "meta",
		Responses: map[int]Response{http.StatusOK: {Description: "the OpenAPI 3 document", Schema: Schema{"type": "object"}}}}
	a.Route(op, authz.Public, "", func(c echo.Context) error {
		b, err := a.Doc.JSON()
		if err != nil {
			return err
		}
		return c.JSONBlob(http.StatusOK, b)
	})
}

// JSONBody decodes the request's JSON body into v, refusing anything else
// with a 4xx (never a 500).
func JSONBody(c echo.Context, v any) error {
	dec := jsonDecoder(c.Request().Body)
	if err := dec.Decode(v); err != nil {
		return Fail(http.StatusBadRequest, "the request body is not the JSON object this operation takes: "+err.Error())
	}
	return nil
}
