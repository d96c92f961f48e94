package fault

import (
	"errors"
	"fmt"
	"testing"
)

var errBadAlert = Kind(Invalid, "invalid alert")

func TestKindsAndMessages(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		kind    error
		message string
		is      error
	}{
		{"module sentinel with a message", Newf(errBadAlert, "severity %q", "x"), Invalid, `severity "x"`, errBadAlert},
		{"wrapped with context", fmt.Errorf("ingesting: %w", New(errBadAlert, "no rule")), Invalid, "no rule", errBadAlert},
		{"kind directly", New(NotFound, "alert #3"), NotFound, "alert #3", NotFound},
		{"sentinel wrapped by fmt", fmt.Errorf("%w: alert #4", Kind(NotFound, "not found")), NotFound, "not found: alert #4", NotFound},
		{"internal", errors.New("connection reset"), nil, "", nil},
		{"unavailable", New(Unavailable, "database down"), Unavailable, "database down", Unavailable},
		{"unauthorized sentinel", Newf(Kind(Unauthorized, "bad token"), "token %s expired", "x"), Unauthorized, "token x expired", Unauthorized},
		{"forbidden", New(Forbidden, "suspended"), Forbidden, "suspended", Forbidden},
		{"unsupported", New(Unsupported, "not a PNG"), Unsupported, "not a PNG", Unsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := KindOf(c.err); got != c.kind {
				t.Errorf("KindOf = %v, want %v", got, c.kind)
			}
			if got := Message(c.err); got != c.message {
				t.Errorf("Message = %q, want %q", got, c.message)
			}
			if c.is != nil && !errors.Is(c.err, c.is) {
				t.Errorf("errors.Is(%v, %v) = false", c.err, c.is)
			}
		})
	}
	if errors.Is(New(errBadAlert, "x"), NotFound) {
		t.Error("an invalid-input error matched NotFound")
	}
}
