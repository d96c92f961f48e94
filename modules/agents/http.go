package agents

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/modules/audit"
	"switchboard/platform/authz"
	"switchboard/platform/web"
)

// Agent API paths. They are Public to the authorizer and skipped by the
// tenant resolver: each handler authenticates the token or credential
// itself and finds the tenant from it.
const (
	EnrollPath  = "/api/v1/agent/enroll"
	CheckInPath = "/api/v1/agent/checkin"
)

// EnrollRequest is the body of POST /api/v1/agent/enroll.
type EnrollRequest struct {
	Token    string `json:"token"`
	Hostname string `json:"hostname"`
	OS       string `json:"os"`
}

// EnrollResponse is the answer to a successful enrollment.
type EnrollResponse struct {
	EndpointID             int64  `json:"endpoint_id"`
	Credential             string `json:"credential"`
	CheckInIntervalSeconds int    `json:"checkin_interval_seconds"`
}

// CheckInResponse is the answer to a successful check-in.
type CheckInResponse struct {
	NextCheckInSeconds int `json:"next_checkin_seconds"`
}

// AgentRoutes registers the agent API on the console surface; checkInLimit
// (the wiring's rate limit per endpoint credential) runs before a check-in
// is decoded or its credential looked up.
func (s *Service) AgentRoutes(a *authz.Authorizer, e *echo.Echo, checkInLimit ...echo.MiddlewareFunc) {
	a.Route(e, http.MethodPost, EnrollPath, authz.Public, s.enroll)
	a.Route(e, http.MethodPost, CheckInPath, authz.Public, s.checkIn, checkInLimit...)
}

func (s *Service) enroll(c echo.Context) error {
	var req EnrollRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Token) == "" {
		return unauthorizedHTTP(c, "an enrollment token is required")
	}
	ctx := audit.WithOrigin(c.Request().Context(), audit.Origin{Actor: "agent", ClientIP: c.RealIP()})
	en, err := s.Enroll(ctx, req.Token, req.Hostname, req.OS)
	if err != nil {
		return challenge(c, err)
	}
	return c.JSON(http.StatusOK, EnrollResponse{EndpointID: en.EndpointID, Credential: en.Credential,
		CheckInIntervalSeconds: int(en.CheckInInterval.Seconds())})
}

// reportWire is Report as sent, with pointers so that a missing number is
// told apart from a zero.
type reportWire struct {
	Hostname      string     `json:"hostname"`
	OS            string     `json:"os"`
	UptimeSeconds *int64     `json:"uptime_seconds"`
	CPUPercent    *float64   `json:"cpu_percent"`
	MemoryPercent *float64   `json:"memory_percent"`
	Disks         []diskWire `json:"disks"`
}

type diskWire struct {
	Mount       string   `json:"mount"`
	UsedPercent *float64 `json:"used_percent"`
}

func (w reportWire) report() (Report, error) {
	switch {
	case w.UptimeSeconds == nil:
		return Report{}, invalid("uptime_seconds is required")
	case w.CPUPercent == nil:
		return Report{}, invalid("cpu_percent is required")
	case w.MemoryPercent == nil:
		return Report{}, invalid("memory_percent is required")
	}
	r := Report{Hostname: w.Hostname, OS: w.OS, UptimeSeconds: *w.UptimeSeconds, CPUPercent: *w.CPUPercent,
		MemoryPercent: *w.MemoryPercent, Disks: make([]Disk, len(w.Disks))}
	for i, d := range w.Disks {
		if d.UsedPercent == nil {
			return Report{}, invalid("disks[%d].used_percent is required", i)
		}
		r.Disks[i] = Disk{Mount: d.Mount, UsedPercent: *d.UsedPercent}
	}
	return r, nil
}

func (s *Service) checkIn(c echo.Context) error {
	cred := bearer(c.Request().Header.Get(echo.HeaderAuthorization))
	if cred == "" {
		return unauthorizedHTTP(c, "an endpoint credential is required (Authorization: Bearer <credential>)")
	}
	var w reportWire
	if err := web.DecodeJSON(c, &w); err != nil {
		return err
	}
	r, err := w.report()
	if err != nil {
		return err
	}
	next, err := s.CheckIn(c.Request().Context(), cred, r)
	if err != nil {
		return challenge(c, err)
	}
	return c.JSON(http.StatusOK, CheckInResponse{NextCheckInSeconds: int(next.Seconds())})
}

// challenge returns the service's error for the web layer to answer (its
// fault kind is the status); a refused token or credential also gets the
// WWW-Authenticate challenge a 401 must carry.
func challenge(c echo.Context, err error) error {
	if errors.Is(err, ErrUnauthorized) {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="switchboard-agent"`)
	}
	return err
}

func unauthorizedHTTP(c echo.Context, msg string) error {
	return challenge(c, unauthorized("%s", msg))
}

// bearer extracts the credential from an Authorization header.
func bearer(header string) string {
	if len(header) > 7 && strings.EqualFold(header[:7], "bearer ") {
		return strings.TrimSpace(header[7:])
	}
	return ""
}
