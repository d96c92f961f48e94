// Package web builds the Echo server every surface shares: request ids,
// structured access logs, panic recovery, the boundary check of request
// text (checkText) and one error handler that turns every error into a
// status from its fault kind and a plain message (never a stack trace).
package web

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// MaxBodyBytes is the default request body limit; larger bodies get 413.
const MaxBodyBytes = "1M"

// New returns an Echo instance with the shared middleware and error handling.
func New(log *slog.Logger) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(log)
	// The client IP (audit, login throttling) is the peer address: forwarded
	// headers are ignored unless a trusted proxy is configured in front.
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(middleware.RequestID())
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, DisablePrintStack: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			log.ErrorContext(c.Request().Context(), "panic in handler", "err", err, "stack", string(stack),
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
			return err
		}}))
	e.Use(middleware.BodyLimit(MaxBodyBytes))
	// No page may be framed by another site (clickjacking), no answer
	// sniffed into another type, no URL leaked to other sites. Handlers with
	// stricter needs (brand images) set their own Content-Security-Policy.
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{XSSProtection: "", ContentTypeNosniff: "nosniff",
		XFrameOptions: "DENY", ReferrerPolicy: "same-origin", ContentSecurityPolicy: "frame-ancestors 'none'"}))
	e.Use(accessLog(log))
	// After the body limit (it bounds what the check buffers) and before
	// every middleware and handler that could pass the text to the database.
	e.Use(checkText)
	return e
}

func accessLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			req := c.Request()
			attrs := []any{"method", req.Method, "path", req.URL.Path, "status", c.Response().Status,
				"duration_ms", time.Since(start).Milliseconds(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID)}
			if t, ok := tenancy.FromContext(req.Context()); ok {
				attrs = append(attrs, "tenant", t.Slug)
			}
			log.InfoContext(req.Context(), "request", attrs...)
			return nil
		}
	}
}

// errorHandler answers every error in one place: the status from the
// error's fault kind (or an HTTPError's code), the message for people from
// fault.Message, as JSON for API and JSON-accepting clients and as a small
// plain page otherwise. Database connection failures are classified first
// (fault.FromDatabase) and answered 503 with Retry-After. Anything else is
// an internal error: logged in full, answered vaguely.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		err = fault.FromDatabase(err)
		code, msg := answer(err)
		if code >= 500 {
			log.ErrorContext(c.Request().Context(), "request failed", "err", err, "status", code, "path", c.Request().URL.Path,
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		}
		if code == http.StatusServiceUnavailable {
			// A dependency is down or busy: clients and proxies may retry soon.
			c.Response().Header().Set("Retry-After", RetryAfterSeconds)
		}
		req := c.Request()
		if req.Method == http.MethodHead {
			_ = c.NoContent(code)
			return
		}
		if wantsJSON(req) {
			_ = c.JSON(code, map[string]string{"error": msg})
			return
		}
		_ = c.HTML(code, errorPage(code, msg))
	}
}

// wantsJSON reports whether r is answered in JSON: API calls and clients
// that accept it; browsers get the plain page.
func wantsJSON(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || strings.Contains(r.Header.Get("Accept"), "application/json")
}

// ServeError answers err the way the error handler does, for code that runs
// outside Echo's handler chain (a session store's ErrorFunc): status from
// its fault kind, 503 with Retry-After for a database that is down, the
// message for people as JSON or the plain page. The caller logs err.
func ServeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := answer(fault.FromDatabase(err))
	h := w.Header()
	if code == http.StatusServiceUnavailable {
		h.Set("Retry-After", RetryAfterSeconds)
	}
	body := errorPage(code, msg)
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	if wantsJSON(r) {
		b, _ := json.Marshal(map[string]string{"error": msg})
		body = string(b) + "\n"
		h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}

// RetryAfterSeconds is the Retry-After of every 503.
const RetryAfterSeconds = "5"

// internalMessage is all an internal error tells people.
const internalMessage = "Something went wrong on our side. Please try again."

// kindStatus is the one mapping from fault kinds to HTTP status.
var kindStatus = map[error]int{
	fault.Invalid:      http.StatusBadRequest,
	fault.Unauthorized: http.StatusUnauthorized,
	fault.Forbidden:    http.StatusForbidden,
	fault.NotFound:     http.StatusNotFound,
	fault.Conflict:     http.StatusConflict,
	fault.TooLarge:     http.StatusRequestEntityTooLarge,
	fault.Unsupported:  http.StatusUnsupportedMediaType,
	fault.Unavailable:  http.StatusServiceUnavailable,
}

// answer is the status and the message people read for err: its fault
// kind's, else an HTTPError's (Echo's own, middleware's), else 500.
func answer(err error) (int, string) {
	if code, ok := kindStatus[fault.KindOf(err)]; ok {
		return code, fault.Message(err)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		if m, ok := he.Message.(string); ok {
			return he.Code, m
		}
		if he.Code < 500 {
			return he.Code, http.StatusText(he.Code)
		}
		return he.Code, internalMessage
	}
	return http.StatusInternalServerError, internalMessage
}

// Refusal is how a form that shows its own errors answers err: the status
// and the message (as a sentence) when err refuses the request for a reason
// the user can act on (a 4xx kind), and ok. For anything else (internal, a
// database that is down) ok is false and the handler returns err, so the
// error handler answers it.
func Refusal(err error) (status int, msg string, ok bool) {
	if err == nil {
		return 0, "", false
	}
	status, msg = answer(fault.FromDatabase(err))
	if status >= 500 {
		return 0, "", false
	}
	return status, Sentence(msg), true
}

// Sentence capitalises msg's first letter, for a message shown on its own.
func Sentence(msg string) string {
	r, size := utf8.DecodeRuneInString(msg)
	if size == 0 || r == utf8.RuneError {
		return msg
	}
	return string(unicode.ToUpper(r)) + msg[size:]
}

// errorPage is deliberately brand-free: it may be shown on any client's domain.
func errorPage(code int, msg string) string {
	if code == http.StatusNotFound && (msg == "not found" || msg == "Not Found") {
		msg = "There is nothing here, or you do not have access to it."
	}
	return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
		`<title>` + http.StatusText(code) + `</title><style>body{font:16px/1.5 system-ui,sans-serif;margin:15vh auto;max-width:32rem;padding:0 1rem;color:#222}` +
		`body{background:#f5f7fa}@media (prefers-color-scheme:dark){body{background:#0f1218;color:#e7eaf0}a{color:#7ea2ff}}h1{font-size:1.25rem}</style></head><body><h1>` +
		http.StatusText(code) + `</h1><p>` + htmlEscape(msg) + `</p><p><a href="/">Go to the start page</a></p></body></html>`
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}
