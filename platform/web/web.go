// Package web builds the Echo server every surface shares: request ids,
// structured access logs, panic recovery and one error handler that turns
// every error into a plain message (never a stack trace).
package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

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

// errorHandler answers with the HTTPError's message, as JSON for API and
// JSON-accepting clients and as a small plain page otherwise. Anything that
// is not an HTTPError is an internal error: logged in full, answered vaguely.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		code, msg := http.StatusInternalServerError, "Something went wrong on our side. Please try again."
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code = he.Code
			if m, ok := he.Message.(string); ok {
				msg = m
			} else if code < 500 {
				msg = http.StatusText(code)
			}
		}
		if code >= 500 {
			log.ErrorContext(c.Request().Context(), "request failed", "err", err, "path", c.Request().URL.Path,
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		}
		req := c.Request()
		if req.Method == http.MethodHead {
			_ = c.NoContent(code)
			return
		}
		if strings.HasPrefix(req.URL.Path, "/api/") || strings.Contains(req.Header.Get("Accept"), "application/json") {
			_ = c.JSON(code, map[string]string{"error": msg})
			return
		}
		_ = c.HTML(code, errorPage(code, msg))
	}
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
