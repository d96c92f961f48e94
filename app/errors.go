package main

import (
	"errors"
	"fmt"

	"switchboard/config"
	"switchboard/platform/fault"
)

// errUsage marks command-line mistakes.
var errUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// isUserError reports whether err is the user's to fix (exit status 2): a
// command-line or configuration mistake, or a refusal whose fault kind says
// the input was wrong (invalid, not found, conflict, too large, unsupported
// type). config cannot import platform/fault (it depends on nothing of the
// module), so its sentinel is named here.
func isUserError(err error) bool {
	switch fault.KindOf(err) {
	case fault.Invalid, fault.NotFound, fault.Conflict, fault.TooLarge, fault.Unsupported:
		return true
	}
	return errors.Is(err, errUsage) || errors.Is(err, config.ErrInvalid)
}
