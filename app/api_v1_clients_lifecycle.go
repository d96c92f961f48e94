package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// staffLifecycleAPI is the end and the moves of a client on the staff REST
// API: deleting it, moving it to another cell, and a move's status. It
// holds the resolver so that this replica serves a moved or deleted client
// from where it now is at once; other replicas follow the directory's
// notification.
type staffLifecycleAPI struct {
	tenants  *tenants.Service
	resolver *tenancy.Resolver
	log      *slog.Logger
}

// apiMove is an unfinished move as the API shows it.
type apiMove struct {
	FromCell  string     `json:"from_cell"`
	ToCell    string     `json:"to_cell"`
	Step      string     `json:"step"`
	StartedAt time.Time  `json:"started_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	FencedAt  *time.Time `json:"fenced_at,omitempty"`
	FlippedAt *time.Time `json:"flipped_at,omitempty"`
	Error     *string    `json:"error,omitempty"`
}

// apiMoveStatus is where a client is and its unfinished move, if any.
type apiMoveStatus struct {
	Client string   `json:"client"`
	Cell   string   `json:"cell"`
	Status string   `json:"status"`
	Move   *apiMove `json:"move,omitempty"`
}

// apiMoveResult is a finished move.
type apiMoveResult struct {
	Client     apiClient `json:"client"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	SameServer bool      `json:"same_server"`
	Resumed    bool      `json:"resumed"`
	FencedMS   int64     `json:"fenced_ms"`
	TookMS     int64     `json:"took_ms"`
}

const lifecycleMoveDoc = "Between two cells of one server nothing is copied: the client's role changes hands in milliseconds, and the answer is 200 with the result. " +
	"To a cell on another server the move fences writes (changes answer 503, reads go on), copies the client's schema, verifies the copy and switches over; " +
	"that can take a while, so once it is under way the answer is 202 with Location: this operation's GET, which shows the recorded step and any error. " +
	"The move goes on if the caller disconnects. Every step is recorded: if the server stops meanwhile, the client is still served (read-only) from where it was, " +
	"and the same request again continues the move from its last step; after a failure the client takes writes again in its old cell and the same request starts over. " +
	"Refusals: an unknown cell is 422; the cell the client is in, a client already being moved (elsewhere, or by another request now), or a full or draining cell is 409."

func (h staffLifecycleAPI) routes(api *apidoc.API) {
	api.Doc.Define("ClientMove", apidoc.Schema{"type": "object", "required": []string{"from_cell", "to_cell", "step", "started_at", "updated_at"},
		"properties": apidoc.Schema{
			"from_cell": apidoc.Schema{"type": "string"}, "to_cell": apidoc.Schema{"type": "string"},
			"step": apidoc.Schema{"type": "string", "enum": []string{tenants.MoveStarted, tenants.MoveFenced, tenants.MoveCopied, tenants.MoveVerified, tenants.MoveFlipped},
				"description": "the last step finished; flipped: the client is served from the new cell and only the old copy is left to remove"},
			"started_at": apidoc.Schema{"type": "string", "format": "date-time"},
			"updated_at": apidoc.Schema{"type": "string", "format": "date-time"},
			"fenced_at":  apidoc.Schema{"type": "string", "format": "date-time", "description": "since when writes are refused (moves between servers)"},
			"flipped_at": apidoc.Schema{"type": "string", "format": "date-time", "description": "when the client switched to the new cell"},
			"error":      apidoc.Schema{"type": "string", "description": "why the last attempt failed; send the move again to retry or finish it"},
		}})
	api.Doc.Define("ClientMoveStatus", apidoc.Schema{"type": "object", "required": []string{"client", "cell", "status"},
		"properties": apidoc.Schema{
			"client": apidoc.Schema{"type": "string", "description": "the client's slug"},
			"cell":   apidoc.Schema{"type": "string", "description": "the cell the client is served from now"},
			"status": apidoc.Schema{"type": "string", "enum": []string{tenancy.StatusActive, tenancy.StatusSuspended, tenancy.StatusMoving}},
			"move":   apidoc.Ref("ClientMove"),
		}})
	api.Doc.Define("ClientMoveResult", apidoc.Schema{"type": "object", "required": []string{"client", "from", "to", "same_server", "resumed", "fenced_ms", "took_ms"},
		"properties": apidoc.Schema{
			"client": apidoc.Ref("Client"), "from": apidoc.Schema{"type": "string"}, "to": apidoc.Schema{"type": "string"},
			"same_server": apidoc.Schema{"type": "boolean", "description": "only memberships changed, nothing was copied"},
			"resumed":     apidoc.Schema{"type": "boolean", "description": "an earlier, unfinished move was continued"},
			"fenced_ms":   apidoc.Schema{"type": "integer", "description": "how long writes were refused (0 within one server)"},
			"took_ms":     apidoc.Schema{"type": "integer"},
		}})
	const base = apiPrefix + "/clients/:slug"
	status := apidoc.Response{Description: "where the client is, and its unfinished move if it has one", Schema: apidoc.Ref("ClientMoveStatus")}
	api.Route(apidoc.Op{Method: http.MethodDelete, Path: base, ID: "deleteClient", Tag: "clients",
		Summary: "Delete a client and all its data (irreversible)",
		Description: "Irreversible: drops the client's schema with every alert, endpoint, setting, user and audit entry of it, its portal domains and its API keys. " +
			"There is no undo and no backup is made. Repeat the client's slug as ?confirm=: without it the answer is 400, with another value 422, and nothing is deleted. " +
			"A client with a move under way is refused with 409 until the move is finished.",
		Params:    []apidoc.Param{{Name: "confirm", In: "query", Required: true, Description: "the client's slug again"}},
		Responses: map[int]apidoc.Response{http.StatusNoContent: {Description: "deleted; the client is gone (404) from now on"}},
	}, authz.PlatformManage, identity.ScopeClientsWrite, h.delete)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base + "/move", ID: "moveClient", Tag: "clients",
		Summary:     "Move a client to another cell",
		Description: lifecycleMoveDoc,
		Body: apidoc.Schema{"type": "object", "required": []string{"to"}, "properties": apidoc.Schema{
			"to": apidoc.Schema{"type": "string", "description": "the name of the target cell (switchboard cell list)"}}},
		Responses: map[int]apidoc.Response{
			http.StatusOK:       {Description: "moved", Schema: apidoc.Ref("ClientMoveResult")},
			http.StatusAccepted: {Description: "a move between servers is under way", Schema: apidoc.Ref("ClientMoveStatus"), Headers: map[string]string{"Location": "the move's status"}},
		},
	}, authz.PlatformManage, identity.ScopeClientsWrite, h.move)
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base + "/move", ID: "getClientMove", Tag: "clients",
		Summary:   "Where a client is, and its unfinished move",
		Responses: map[int]apidoc.Response{http.StatusOK: status},
	}, authz.TenantView, identity.ScopeClientsRead, h.moveStatus)
}

func (h staffLifecycleAPI) delete(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	confirm := c.QueryParam("confirm")
	switch {
	case confirm == "":
		return apidoc.Fail(http.StatusBadRequest, fmt.Sprintf("deleting a client is irreversible: confirm it by repeating its slug, ?confirm=%s; nothing was deleted", t.Slug))
	case confirm != t.Slug:
		return apidoc.Fail(http.StatusUnprocessableEntity, fmt.Sprintf("confirm must repeat the client's slug %q exactly; nothing was deleted", t.Slug))
	}
	err := h.tenants.Delete(ctx, t.Slug, confirm)
	h.resolver.Invalidate()
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// move runs the move detached from the request (its context's values, not
// its cancellation) and answers when it is finished or, for a move between
// servers, as soon as its first step is recorded.
//
// Why not synchronously: a cancelled move would be safe (a failure before
// the switch-over lifts the fence and leaves the client served, with
// writes, from where it was; one after it is finished by a rerun), but a
// copy can outlast the server's write timeout and any proxy's, and each
// disconnect would throw the copy away. Why not detached at once: every
// refusal (unknown cell, already there, already moving, full cell) comes
// before the first recorded step, so waiting for that step still answers
// them with their status instead of a 202 for a move that never started.
// A process that stops mid-move leaves it recorded: GET shows it, and the
// same POST (or `switchboard tenant move`) continues it.
func (h staffLifecycleAPI) move(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	var body struct {
		To string `json:"to"`
	}
	if err := apidoc.JSONBody(c, &body); err != nil {
		return err
	}
	to := strings.TrimSpace(body.To)
	switch {
	case to == "":
		return apidoc.Fail(http.StatusBadRequest, "to is required: the name of the cell to move the client to")
	case !tenancy.ValidCellName(to):
		return apidoc.Fail(http.StatusUnprocessableEntity, fmt.Sprintf("no cell named %q: cell names are 2-40 characters of a-z, 0-9 and '-'", to))
	}
	type outcome struct {
		res tenants.MoveResult
		err error
	}
	done := make(chan outcome, 1)
	underway := make(chan struct{})
	var once sync.Once
	in := tenants.MoveInput{Slug: t.Slug, To: to, Progress: func(p tenants.MoveProgress) {
		// A move between servers reports its start, a rerun that it
		// resumes; a move within one server reports only its one step,
		// as it returns, and so is answered with its result.
		switch p.Step {
		case tenants.MoveStarted, "resumed":
			once.Do(func() { close(underway) })
		case tenants.MoveFlipped, tenants.MoveCleaned:
			// Served from the new cell from now on: this replica need not
			// wait for the notification (the old copy may be dropped next).
			h.resolver.Invalidate()
		}
	}}
	mctx := context.WithoutCancel(ctx)
	go func() {
		res, err := h.tenants.Move(mctx, in)
		h.resolver.Invalidate()
		select {
		case <-underway: // the caller was answered 202: only the log and the move's row hear of this
			if err != nil {
				h.log.WarnContext(mctx, "a move started through the API failed (recorded on the move)", "tenant", t.Slug, "to", to, "err", err)
			}
		default:
		}
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		if errors.Is(o.err, tenants.ErrNoCell) {
			return apidoc.Fail(http.StatusUnprocessableEntity, web.Sentence(fault.Message(o.err)))
		}
		if o.err != nil {
			return o.err
		}
		r := o.res
		return c.JSON(http.StatusOK, apiMoveResult{Client: toAPIClient(r.Tenant), From: r.From, To: r.To, SameServer: r.SameServer,
			Resumed: r.Resumed, FencedMS: r.Fenced.Milliseconds(), TookMS: r.Took.Milliseconds()})
	case <-underway:
		st, err := h.status(ctx, t.Slug)
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderLocation, apiPrefix+"/clients/"+t.Slug+"/move")
		return c.JSON(http.StatusAccepted, st)
	}
}

func (h staffLifecycleAPI) moveStatus(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	st, err := h.status(ctx, t.Slug)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (h staffLifecycleAPI) status(ctx context.Context, slug string) (apiMoveStatus, error) {
	t, mv, err := h.tenants.MoveStatus(ctx, slug)
	if err != nil {
		return apiMoveStatus{}, err
	}
	st := apiMoveStatus{Client: t.Slug, Cell: t.Cell, Status: t.Status}
	if mv != nil {
		st.Move = &apiMove{FromCell: mv.FromCell, ToCell: mv.ToCell, Step: mv.Step, StartedAt: mv.StartedAt, UpdatedAt: mv.UpdatedAt,
			FencedAt: mv.FencedAt, FlippedAt: mv.FlippedAt, Error: mv.Error}
	}
	return st, nil
}
