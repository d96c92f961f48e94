// Package fault is the one error taxonomy: what kind of failure an error is
// (invalid input, not found, conflict, too large, unavailable, and the
// refusals unauthorized, forbidden and unsupported type) and the
// message a person should read. Modules declare their sentinels with Kind
// and build errors with New or Newf; the web layer maps kinds to HTTP
// status in one place and the CLI maps them to exit status 2. Nothing ever
// trims an error string to find the message.
package fault

//lint:file-ignore ST1012 the kinds are classes of errors, named to read as fault.Invalid; the Err names belong to the modules' sentinels

import (
	"errors"
	"fmt"
)

// The kinds. Test with errors.Is(err, fault.Invalid). They are named for
// what they classify (fault.Invalid reads as it is meant), not ErrInvalid:
// the Err names belong to the modules' sentinels of each kind.
var (
	Invalid     = errors.New("invalid input")           // the sender must fix the input: 400
	NotFound    = errors.New("not found")               // no such thing here: 404
	Conflict    = errors.New("conflict")                // clashes with the current state: 409
	TooLarge    = errors.New("too large")               // over a size limit: 413
	Unavailable = errors.New("temporarily unavailable") // a dependency is down; try later: 503

	Unauthorized = errors.New("not authorized")         // no or a bad credential: 401
	Forbidden    = errors.New("forbidden")              // a good credential that may not do this: 403
	Unsupported  = errors.New("unsupported media type") // input of a type not accepted here: 415
)

// kinds lists the kinds in the order KindOf tries them.
var kinds = []error{Invalid, NotFound, Conflict, TooLarge, Unavailable, Unauthorized, Forbidden, Unsupported}

// sentinel is a module's named error of one kind ("invalid alert").
type sentinel struct {
	kind error
	text string
}

func (s *sentinel) Error() string        { return s.text }
func (s *sentinel) Is(target error) bool { return target == s.kind }

// Kind declares a module's sentinel of one kind: errors.Is matches both the
// sentinel and its kind.
//
//	var ErrInvalid = fault.Kind(fault.Invalid, "invalid alert")
func Kind(kind error, text string) error { return &sentinel{kind: kind, text: text} }

// Error is a failure of one kind (a kind or a module's sentinel) with the
// message for people and, when it classifies another error (FromDatabase),
// that cause for the logs.
type Error struct {
	kind  error
	msg   string
	cause error
}

// Error reads "sentinel: message", as logs and the CLI show it; with a
// cause, "sentinel: cause", because the cause is what an operator needs.
func (e *Error) Error() string {
	switch {
	case e.cause != nil:
		return e.kind.Error() + ": " + e.cause.Error()
	case e.msg == "":
		return e.kind.Error()
	}
	return e.kind.Error() + ": " + e.msg
}

// Is matches the error's sentinel and its kind.
func (e *Error) Is(target error) bool { return errors.Is(e.kind, target) }

// Unwrap returns the classified cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// New returns an error of kind (a kind or a module sentinel) whose message
// for people is msg.
func New(kind error, msg string) error { return &Error{kind: kind, msg: msg} }

// Newf is New with a format.
func Newf(kind error, format string, args ...any) error {
	return &Error{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// KindOf returns err's kind (Invalid, NotFound, …), or nil for an internal error.
func KindOf(err error) error {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// Message is what a person should read about err: the message of the
// outermost *Error in its chain; for an error of a kind without one, the
// error's text; "" for an internal error (whose text is for logs only).
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.msg != "" {
		return e.msg
	}
	if KindOf(err) != nil {
		return err.Error()
	}
	return ""
}
