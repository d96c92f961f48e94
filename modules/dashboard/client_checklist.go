package dashboard

// onboarding is what the checklist is decided from.
type onboarding struct {
	admins, tokens, endpoints, channels int
	verified                            bool
}

// ChecklistItem is one onboarding step: done or not, and where it is done.
type ChecklistItem struct {
	Label string
	Done  bool
	Href  string
	Route string // Href's route template, so the page links only where the viewer may go
	Do    string // the link's words while the step is open
}

// Checklist is a new client's onboarding steps; Complete once all are done.
type Checklist struct {
	Items    []ChecklistItem
	Done     int
	Complete bool
}

// checklist ticks each step from the client's data, so a step is done the
// moment its condition holds and undone if it stops holding (the last
// usable token expired with no endpoint enrolled).
func checklist(slug string, ob onboarding) Checklist {
	base := "/t/" + slug
	items := []ChecklistItem{
		{Label: "A client admin can sign in to the portal", Done: ob.admins > 0,
			Href: base + "/users", Route: "/t/:slug/users", Do: "Add a client admin"},
		{Label: "An enrollment token is ready or an endpoint is enrolled", Done: ob.tokens > 0 || ob.endpoints > 0,
			Href: base + "/enrollment", Route: "/t/:slug/enrollment", Do: "Create an enrollment token"},
		{Label: "A notification channel is set up", Done: ob.channels > 0,
			Href: base + "/channels", Route: "/t/:slug/channels", Do: "Add a channel"},
		{Label: "A portal domain is verified", Done: ob.verified,
			Href: base + "/domains", Route: "/t/:slug/domains", Do: "Verify a domain"},
	}
	c := Checklist{Items: items}
	for _, it := range items {
		if it.Done {
			c.Done++
		}
	}
	c.Complete = c.Done == len(items)
	return c
}
