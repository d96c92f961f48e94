package main

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/config"
	"switchboard/modules/agents"
	"switchboard/modules/alerts"
	"switchboard/platform/ratelimit"
)

// ingestLimits are the rate limits of ingestion (limits.*), as route
// middleware: this process's token buckets, so with N replicas a sender may
// reach N times each limit.
type ingestLimits struct {
	alerts  echo.MiddlewareFunc // POST /api/v1/alerts and /api/v1/alerts/alertmanager
	checkIn echo.MiddlewareFunc // POST /api/v1/agent/checkin
	// early refuses, ahead of the console's middleware chain, a request
	// whose API key or endpoint has already used up its bucket: a flood is
	// answered for the price of reading its headers.
	early echo.MiddlewareFunc
}

// newIngestLimits builds the buckets once per server, on clock now. The
// alert routes share theirs: a client's native and Alertmanager traffic
// count together. Requests are counted per API key and per client before
// they are read; alerts per client once the handler knows how many a
// request carries. A check-in is counted per endpoint credential only: a
// client with 10,000 endpoints checks in 10,000 times a minute by design,
// and each endpoint was enrolled with a token staff issued.
func newIngestLimits(l config.Limits, now func() time.Time) ingestLimits {
	opts := ratelimit.Options{MaxKeys: l.MaxKeys, Now: now}
	buckets := func(what, per, setting string, r config.Rate) *ratelimit.Buckets {
		return ratelimit.New(ratelimit.Spec{What: what, Per: per, Setting: setting}, ratelimit.Limit{Rate: r.Rate, Burst: r.Burst}, opts)
	}
	perKey := ratelimit.Rule{Buckets: buckets("alert requests", "API key", "limits.ingest_per_key", l.IngestPerKey), Key: ratelimit.ByCredential}
	perEndpoint := ratelimit.Rule{Buckets: buckets("check-ins", "endpoint", "limits.checkins_per_endpoint", l.CheckinsPerEndpoint), Key: ratelimit.ByCredential}
	return ingestLimits{
		alerts: ratelimit.Middleware(
			perKey,
			ratelimit.Rule{Buckets: buckets("alert requests", "client", "limits.ingest_per_client", l.IngestPerClient), Key: ratelimit.ByTenant},
			ratelimit.Rule{Buckets: buckets("alerts", "client", "limits.ingest_alerts_per_client", l.IngestAlertsPerClient),
				Key: ratelimit.ByTenant, PerUnit: true},
		),
		checkIn: ratelimit.Middleware(perEndpoint),
		early: ratelimit.Early(
			ratelimit.Gate{Method: http.MethodPost, Path: alerts.IngestPath, Rule: perKey},
			ratelimit.Gate{Method: http.MethodPost, Path: alerts.AlertmanagerPath, Rule: perKey},
			ratelimit.Gate{Method: http.MethodPost, Path: agents.CheckInPath, Rule: perEndpoint},
		),
	}
}

// newAPILimit is the staff API's limit per personal token (limits.api_per_token),
// as middleware to run after the token is authenticated: a request with a
// bad token is refused (401) before it can spend anyone's bucket.
func newAPILimit(l config.Limits, now func() time.Time) echo.MiddlewareFunc {
	b := ratelimit.New(ratelimit.Spec{What: "API requests", Per: "token", Setting: "limits.api_per_token"},
		ratelimit.Limit{Rate: l.APIPerToken.Rate, Burst: l.APIPerToken.Burst}, ratelimit.Options{MaxKeys: l.MaxKeys, Now: now})
	return ratelimit.Middleware(ratelimit.Rule{Buckets: b, Key: ratelimit.ByCredential})
}
