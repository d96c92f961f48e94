package branding_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"switchboard/modules/branding"
)

// Hand-worked WCAG 2 values: L(white) = 1, L(black) = 0, so white on black
// is (1+.05)/(0+.05) = 21. #777777: s = 119/255 = .4667, linear
// ((.4667+.055)/1.055)^2.4 = .1845, ratio 1.05/.2345 = 4.478.
// #767676: s = .4627, linear .1812, ratio 1.05/.2312 = 4.54 (the familiar
// "darkest grey that passes on white"). #ff0000: L = .2126, 1.05/.2626 = 3.998.
func TestContrast(t *testing.T) {
	cases := []struct {
		a, b string
		want float64
	}{
		{"#ffffff", "#000000", 21},
		{"#000000", "#ffffff", 21},
		{"#777777", "#ffffff", 4.478},
		{"#767676", "#ffffff", 4.542},
		{"#ff0000", "#ffffff", 3.998},
		{"#123456", "#123456", 1},
		{"#FFFFFF", "#000000", 21}, // upper case is the same colour
	}
	for _, tc := range cases {
		got, err := branding.Contrast(tc.a, tc.b)
		if err != nil {
			t.Fatalf("%s on %s: %v", tc.a, tc.b, err)
		}
		if math.Abs(got-tc.want) > 0.001 {
			t.Errorf("%s on %s: %.4f, want %.3f", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNormalizeColor(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"#A1B2C3", "#a1b2c3", true},
		{" #a1b2c3 ", "#a1b2c3", true},
		{"", "", true}, // the default
		{"#abc", "", false},
		{"a1b2c3", "", false},
		{"#a1b2c3d4", "", false},
		{"#ggg000", "", false},
		{"red", "", false},
		{"#a1b2c3;background:url(x)", "", false},
	}
	for _, tc := range cases {
		got, err := branding.NormalizeColor(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("NormalizeColor(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, branding.ErrInvalid) {
			t.Errorf("NormalizeColor(%q): %v is not ErrInvalid", tc.in, err)
		}
	}
}

func TestContrastWarnings(t *testing.T) {
	cases := []struct {
		name, primary, accent string
		want                  []string // substrings, one per expected warning
	}{
		{"defaults pass", branding.DefaultPrimary, branding.DefaultAccent, nil},
		{"black and dark blue pass", "#000000", "#00008b", nil},
		{"grey 77 primary just fails", "#777777", "#000000", []string{"primary colour #777777 has a contrast ratio of 4.47:1"}},
		{"grey 76 passes", "#767676", "#767676", nil},
		{"yellow accent on white", "#000000", "#ffff00", []string{"accent colour #ffff00 on white has a contrast ratio of 1.07:1"}},
		{"both", "#ffffff", "#eeeeee", []string{"primary colour #ffffff", "accent colour #eeeeee"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := branding.ContrastWarnings(tc.primary, tc.accent)
			if len(got) != len(tc.want) {
				t.Fatalf("warnings %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q does not say %q", got[i], w)
				}
			}
		})
	}
}
