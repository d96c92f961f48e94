package main

import (
	"bytes"
	"strings"
	"testing"

	"switchboard/modules/tenants"
	"switchboard/platform/web"
	"switchboard/templates"
)

// TestHomeSLAColumn renders the console home's SLA column from rollups: a
// clock with no decided alert reads "—", never 100 %, and the bar
// stretches across its cell.
func TestHomeSLAColumn(t *testing.T) {
	r, err := web.NewRenderer(templates.FS, nil, "console/*.html")
	if err != nil {
		t.Fatal(err)
	}
	client := func(alerts, respDecided, respMet, resDecided, resMet int) tenants.Summary {
		return tenants.Summary{Tenant: tenants.Tenant{ID: 1, Slug: "acme", Name: "Acme", Status: "active"},
			SLAAlerts: alerts, SLAResponseDecided: respDecided, SLAResponseMet: respMet,
			SLAResolutionDecided: resDecided, SLAResolutionMet: resMet}
	}
	cases := []struct {
		name      string
		client    tenants.Summary
		want, not []string
	}{
		{"no alert this month", client(0, 0, 0, 0, 0), []string{"Acme"}, []string{"100%", "none decided"}},
		{"alerts, none decided", client(2, 0, 0, 0, 0), []string{"— none decided yet", "2 alerts this month, none answered, resolved or overdue yet"}, []string{"100%"}},
		{"response decided, resolution not", client(3, 2, 1, 0, 0), []string{"50% / —", "resolution not decided yet", "3 alerts"}, []string{"100%"}},
		{"both decided", client(1, 1, 1, 1, 0), []string{"100% / 0%", "1 alert"}, []string{"1 alerts"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			page := web.Page{Title: "Clients", Chrome: web.Chrome{User: "o@msp.example", Role: "owner"}, Data: map[string]any{
				"Tenants": []tenants.Summary{tc.client}, "Total": 1, "Page": map[string]int{"Pages": 1, "Number": 1},
				"Counts": map[string]int{"active": 1}, "Queue": nil}}
			if err := r.Render(&out, "console/home.html", page, nil); err != nil {
				t.Fatal(err)
			}
			text := strings.Join(strings.Fields(pageText(out.String())), " ")
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("home lacks %q:\n%s", w, text)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(text, n) {
					t.Errorf("home shows %q:\n%s", n, text)
				}
			}
			bars := barSVG.FindAllString(out.String(), -1)
			if decided := tc.client.SLAResponseDecided+tc.client.SLAResolutionDecided > 0; decided != (len(bars) > 0) {
				t.Errorf("decided %v, but %d bar(s)", decided, len(bars))
			}
			for _, svg := range bars {
				if !strings.Contains(svg, `preserveAspectRatio="none"`) {
					t.Errorf("bar keeps its aspect ratio: %s", svg)
				}
			}
			if !strings.Contains(text, "1 client ") {
				t.Errorf("home does not say \"1 client\":\n%s", text)
			}
		})
	}
}
