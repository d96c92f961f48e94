package dashboard

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"
)

// queueSorts are the work queue's orders as the page offers them, in order.
var queueSorts = []struct{ Key, Label string }{
	{SortUrgency, "Urgency"},
	{SortAge, "Age"},
	{SortBreach, "Time to breach"},
	{SortClient, "Client"},
}

// queueView is how the home's work queue is asked for (?sort=, ?mine=1)
// and the links that change it, each keeping the rest of the address.
type queueView struct {
	Sort        string
	Mine        bool
	Sorts       []sortLink
	Href        map[string]string // sort key → the link that sorts by it
	AllHref     string            // everyone's alerts, this sort
	MineHref    string            // the viewer's alerts, this sort
	Read, Reach int               // client schemas read; the most that would be
}

// sortLink is one order the queue can be sorted by.
type sortLink struct {
	Key, Label, Href string
	Current          bool
}

// queueViewOf reads ?sort= and ?mine=; anything else is refused with the
// values that are allowed, rather than quietly shown as the default.
func queueViewOf(sortParam, mineParam string) (queueView, error) {
	v := queueView{Sort: SortUrgency}
	if sortParam != "" {
		known := false
		for _, s := range queueSorts {
			known = known || s.Key == sortParam
		}
		if !known {
			return v, echo.NewHTTPError(http.StatusBadRequest,
				fmt.Sprintf("The queue cannot be sorted by %q: sort by urgency, age, breach or client.", sortParam))
		}
		v.Sort = sortParam
	}
	switch mineParam {
	case "", "0":
	case "1":
		v.Mine = true
	default:
		return v, echo.NewHTTPError(http.StatusBadRequest, "mine is 1 (only the alerts assigned to you) or 0 (everyone's).")
	}
	return v, nil
}

// link fills the view's links for the page of clients being shown.
func (v *queueView) link(page int) {
	v.Href = map[string]string{}
	for _, s := range queueSorts {
		href := homeURL(s.Key, v.Mine, page)
		v.Href[s.Key] = href
		v.Sorts = append(v.Sorts, sortLink{Key: s.Key, Label: s.Label, Href: href, Current: s.Key == v.Sort})
	}
	v.AllHref, v.MineHref = homeURL(v.Sort, false, page), homeURL(v.Sort, true, page)
}

// homeURL is the home with the queue sorted by sort, filtered to the
// viewer's alerts when mine, at page of the clients (1 and the defaults
// are left out, so the plain home is "/"); "" for page 0, which is none.
func homeURL(sort string, mine bool, page int) string {
	if page < 1 {
		return ""
	}
	q := url.Values{}
	if sort != "" && sort != SortUrgency {
		q.Set("sort", sort)
	}
	if mine {
		q.Set("mine", "1")
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return "/"
	}
	return "/?" + q.Encode()
}
