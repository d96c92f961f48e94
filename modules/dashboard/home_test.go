package dashboard

import "testing"

// The home lists one page of clients; a page past the end is the last one.
func TestPageOf(t *testing.T) {
	cases := []struct {
		name, param string
		n           int
		want        homePage
	}{
		{"no clients", "", 0, homePage{Number: 1, Pages: 1, From: 0, To: 0, First: 1}},
		{"one page", "", 150, homePage{Number: 1, Pages: 1, From: 0, To: 150, First: 1}},
		{"first of many", "", 10000, homePage{Number: 1, Pages: 50, From: 0, To: 200, First: 1, Next: 2}},
		{"middle", "7", 10000, homePage{Number: 7, Pages: 50, From: 1200, To: 1400, First: 1201, Prev: 6, Next: 8}},
		{"last, short", "3", 450, homePage{Number: 3, Pages: 3, From: 400, To: 450, First: 401, Prev: 2}},
		{"past the end", "99", 450, homePage{Number: 3, Pages: 3, From: 400, To: 450, First: 401, Prev: 2}},
		{"not a number", "x", 450, homePage{Number: 1, Pages: 3, From: 0, To: 200, First: 1, Next: 2}},
		{"negative", "-2", 450, homePage{Number: 1, Pages: 3, From: 0, To: 200, First: 1, Next: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := pageOf(tc.param, tc.n); got != tc.want {
				t.Fatalf("pageOf(%q, %d) = %+v, want %+v", tc.param, tc.n, got, tc.want)
			}
		})
	}
}
