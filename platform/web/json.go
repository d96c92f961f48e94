package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// DecodeJSON reads exactly one JSON document from the request body into v,
// refusing unknown fields and trailing data, with a 4xx that says what is
// wrong: 415 for another content type, 413 past the body limit, 400 else.
func DecodeJSON(c echo.Context, v any) error {
	if ct := c.Request().Header.Get(echo.HeaderContentType); ct != "" && !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "send the body as application/json")
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if TooLarge(err) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "the body is larger than the 1 MB limit")
		}
		if errors.Is(err, io.EOF) {
			return echo.NewHTTPError(http.StatusBadRequest, "the body is empty")
		}
		return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON: "+err.Error())
	}
	if dec.More() {
		return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON: unexpected data after the document")
	}
	return nil
}

// TooLarge recognises the body limit's error (Echo's BodyLimit or net/http's).
func TooLarge(err error) bool {
	var tooBig *http.MaxBytesError
	var he *echo.HTTPError
	return errors.As(err, &tooBig) || (errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge)
}
