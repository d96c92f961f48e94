package apidoc

import (
	"encoding/json"
	"testing"
)

// TestResponseAlternates: a response's other media types are documented
// next to its JSON, so clients validating against the document accept them.
func TestResponseAlternates(t *testing.T) {
	d := New("t", "1", "")
	d.Add(Op{Method: "GET", Path: "/r", ID: "r", Summary: "r", Responses: map[int]Response{200: {Description: "ok",
		Schema: Schema{"type": "object"}, Alternates: map[string]Schema{"text/csv": {"type": "string"}}}}})
	raw, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]any `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	content := doc.Paths["/r"]["get"].Responses["200"].Content
	if content["application/json"] == nil || content["text/csv"] == nil {
		t.Errorf("200 content: %v", content)
	}
}
