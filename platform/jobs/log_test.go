package jobs

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// River's routine info lines reach a server logging at info only when it
// logs at debug; its warnings always do.
func TestRiverInfoIsDebug(t *testing.T) {
	for _, tc := range []struct {
		name      string
		level     slog.Level
		logged    func(*slog.Logger)
		wantShown bool
	}{
		{"info at info level", slog.LevelInfo, func(l *slog.Logger) { l.Info("producer: Producer job counts") }, false},
		{"info at debug level", slog.LevelDebug, func(l *slog.Logger) { l.Info("producer: Producer job counts") }, true},
		{"a warning at info level", slog.LevelInfo, func(l *slog.Logger) { l.Warn("job failed") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			base := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: tc.level})
			tc.logged(slog.New(routineLog{base}).With("client", "x"))
			if shown := out.Len() > 0; shown != tc.wantShown {
				t.Fatalf("shown %v, want %v: %q", shown, tc.wantShown, out.String())
			}
			if tc.wantShown && tc.level == slog.LevelDebug && !strings.Contains(out.String(), "level=DEBUG") {
				t.Errorf("River's info line was not demoted: %q", out.String())
			}
		})
	}
}
