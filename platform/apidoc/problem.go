package apidoc

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/platform/fault"
	"switchboard/platform/web"
)

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// MIMEProblem is the content type of every error of the API.
const MIMEProblem = "application/problem+json"

// ProblemOf maps err (a fault kind, an Echo HTTPError, or anything else) to
// a problem document: the one error taxonomy, as the web layer maps it.
func ProblemOf(err error) Problem {
	if status, msg, ok := web.Refusal(err); ok {
		return Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: msg}
	}
	status := http.StatusInternalServerError
	var he *echo.HTTPError
	switch {
	case errors.Is(fault.FromDatabase(err), fault.Unavailable):
		status = http.StatusServiceUnavailable
	case errors.As(err, &he) && he.Code >= 500:
		status = he.Code
	}
	return Problem{Type: "about:blank", Title: http.StatusText(status), Status: status,
		Detail: "Something went wrong on our side. Please try again."}
}

// ErrorHandler answers every error of the API as application/problem+json.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := ProblemOf(err)
		if p.Status >= 500 {
			log.ErrorContext(c.Request().Context(), "api request failed", "path", c.Path(), "err", err)
		}
		if p.Status == http.StatusServiceUnavailable {
			c.Response().Header().Set("Retry-After", web.RetryAfterSeconds)
		}
		c.Response().Header().Set(echo.HeaderContentType, MIMEProblem)
		c.Response().WriteHeader(p.Status)
		if c.Request().Method != http.MethodHead {
			_ = json.NewEncoder(c.Response()).Encode(p)
		}
	}
}

// Fail is a handler's refusal with an HTTP status and a reason for people.
func Fail(status int, detail string) error { return echo.NewHTTPError(status, detail) }

// jsonDecoder reads at most 1 MiB and refuses unknown fields, so a typo in
// a field name is an error rather than silently ignored.
func jsonDecoder(r io.Reader) *json.Decoder {
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	return dec
}
