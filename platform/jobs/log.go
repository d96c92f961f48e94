package jobs

import (
	"context"
	"log/slog"
)

// routineLog hands River's warnings and errors on as they are and its
// info records at debug level: River reports every queue's job counts every
// few seconds at info, which buried a server's own log lines.
type routineLog struct{ slog.Handler }

func demote(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}

func (h routineLog) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, demote(l))
}

func (h routineLog) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	return h.Handler.Handle(ctx, r)
}

func (h routineLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return routineLog{h.Handler.WithAttrs(attrs)}
}

func (h routineLog) WithGroup(name string) slog.Handler { return routineLog{h.Handler.WithGroup(name)} }
