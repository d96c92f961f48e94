package audit

import "context"

// Origin is who is making changes in this context and from where.
type Origin struct {
	Actor    string // e-mail of a user, "cli:<os user>", or "system"
	ClientIP string
}

type originKey struct{}

// WithOrigin records who acts in ctx; the web layer and the CLI set it once.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the acting origin, or "system" when none was set.
func OriginFrom(ctx context.Context) Origin {
	if o, ok := ctx.Value(originKey{}).(Origin); ok && o.Actor != "" {
		return o
	}
	return Origin{Actor: "system"}
}
