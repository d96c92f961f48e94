package branding

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"switchboard/platform/fault"
)

// MinContrast is WCAG 2's AA minimum contrast ratio for normal-size text.
const MinContrast = 4.5

var hexColour = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// NormalizeColor lower-cases a #rrggbb colour and checks its shape; "" stays
// "" (the default applies).
func NormalizeColor(s string) (string, error) {
	c := strings.ToLower(strings.TrimSpace(s))
	if c == "" || hexColour.MatchString(c) {
		return c, nil
	}
	return "", fault.Newf(ErrInvalid, "%q is not a colour of the form #rrggbb", s)
}

// Luminance is WCAG 2's relative luminance of a #rrggbb colour, 0 (black) to 1 (white).
func Luminance(hex string) (float64, error) {
	c, err := NormalizeColor(hex)
	if err != nil || c == "" {
		return 0, fault.Newf(ErrInvalid, "%q is not a colour of the form #rrggbb", hex)
	}
	var lin [3]float64
	for i := range lin {
		v, _ := strconv.ParseUint(c[1+2*i:3+2*i], 16, 8)
		s := float64(v) / 255
		// The sRGB transfer curve; WCAG 2 writes the threshold as 0.03928.
		if s <= 0.03928 {
			lin[i] = s / 12.92
		} else {
			lin[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*lin[0] + 0.7152*lin[1] + 0.0722*lin[2], nil
}

// Contrast is WCAG 2's contrast ratio of two colours, 1 to 21, in either order.
func Contrast(a, b string) (float64, error) {
	la, err := Luminance(a)
	if err != nil {
		return 0, err
	}
	lb, err := Luminance(b)
	if err != nil {
		return 0, err
	}
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05), nil
}

// ContrastWarnings says which of a brand's colour pairings fall below WCAG AA:
// white text on the primary colour (portal header, buttons) and the accent on
// white (links). Low contrast is the client's choice to make, so it is a
// warning, never a refusal. Both colours must be valid #rrggbb.
func ContrastWarnings(primary, accent string) []string {
	var out []string
	if r, err := Contrast("#ffffff", primary); err == nil && r < MinContrast {
		out = append(out, fmt.Sprintf("White text on the primary colour %s has a contrast ratio of %s:1, below the %.1f:1 that WCAG AA asks for; some people will not be able to read it.", primary, ratio(r), MinContrast))
	}
	if r, err := Contrast(accent, "#ffffff"); err == nil && r < MinContrast {
		out = append(out, fmt.Sprintf("The accent colour %s on white has a contrast ratio of %s:1, below the %.1f:1 that WCAG AA asks for; links and buttons in it will be hard to read.", accent, ratio(r), MinContrast))
	}
	return out
}

// ratio shows a contrast ratio rounded down to two decimals, so that 4.499
// never reads as a passing "4.50".
func ratio(r float64) string { return strconv.FormatFloat(math.Floor(r*100)/100, 'f', 2, 64) }
