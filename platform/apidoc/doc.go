// Package apidoc is the code-first OpenAPI 3 description of a JSON API:
// every route is registered together with its operation (parameters,
// request body, responses), so the served document and the routes cannot
// drift apart (a test compares them).
package apidoc

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Schema is a JSON Schema fragment as OpenAPI 3.0 writes it.
type Schema = map[string]any

// Ref is a reference to the named component schema.
func Ref(name string) Schema { return Schema{"$ref": "#/components/schemas/" + name} }

// Param is one path, query or header parameter.
type Param struct {
	Name, In, Description string
	Required              bool
	Schema                Schema
}

// Response is one documented answer of an operation.
type Response struct {
	Description string
	Schema      Schema            // nil: no body
	Headers     map[string]string // header name -> description
	Alternates  map[string]Schema // other media types of the same answer (e.g. "text/csv"), chosen by Accept
}

// Op is one operation: a method on an Echo route template.
type Op struct {
	Method, Path string // Path is the Echo template, e.g. /api/v1/clients/:slug
	ID, Summary  string
	Description  string
	Tag          string
	Params       []Param
	Body         Schema // request body (application/json); nil: none
	Responses    map[int]Response
	Public       bool // no bearer token needed
	// Creates marks a creating POST: it honours Idempotency-Key (see
	// Idempotency.wrap), and the document says so.
	Creates bool
	// Forget names top-level fields of a created answer shown only once
	// (secrets): never remembered, so an idempotent replay lacks them.
	Forget []string
}

// Doc collects operations and component schemas.
type Doc struct {
	Title, Version, Description string

	mu      sync.Mutex
	ops     []Op
	schemas map[string]Schema
}

// New returns an empty document.
func New(title, version, description string) *Doc {
	return &Doc{Title: title, Version: version, Description: description, schemas: map[string]Schema{"Problem": problemSchema}}
}

// Define adds a named component schema.
func (d *Doc) Define(name string, s Schema) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.schemas[name] = s
}

// Add records op.
func (d *Doc) Add(op Op) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ops = append(d.ops, op)
}

// Has reports whether the document describes method on the Echo template path.
func (d *Doc) Has(method, path string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.ContainsFunc(d.ops, func(o Op) bool { return o.Method == method && o.Path == path })
}

// Ops returns the recorded operations.
func (d *Doc) Ops() []Op {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.ops)
}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// OpenAPIPath turns an Echo template into an OpenAPI path (":slug" → "{slug}").
func OpenAPIPath(echoPath string) string { return echoParam.ReplaceAllString(echoPath, "{$1}") }

// problemSchema is RFC 9457's problem details object.
var problemSchema = Schema{
	"type": "object", "required": []string{"type", "title", "status"},
	"properties": Schema{
		"type":   Schema{"type": "string"},
		"title":  Schema{"type": "string"},
		"status": Schema{"type": "integer"},
		"detail": Schema{"type": "string"},
	},
}

// JSON renders the OpenAPI 3.0 document.
func (d *Doc) JSON() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	paths := map[string]map[string]any{}
	for _, op := range d.ops {
		p := OpenAPIPath(op.Path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(op.Method)] = operation(op)
	}
	schemas := map[string]Schema{}
	for k, v := range d.schemas {
		schemas[k] = v
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": d.Title, "version": d.Version, "description": d.Description},
		"paths":   paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"token": map[string]any{"type": "http", "scheme": "bearer", "description": "a staff API token (sbt_…)"},
			},
		},
		"security": []any{map[string]any{"token": []string{}}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func operation(op Op) map[string]any {
	o := map[string]any{"operationId": op.ID, "summary": op.Summary}
	if op.Description != "" {
		o["description"] = op.Description
	}
	if op.Tag != "" {
		o["tags"] = []string{op.Tag}
	}
	if op.Public {
		o["security"] = []any{}
	}
	var params []any
	for _, m := range echoParam.FindAllStringSubmatch(op.Path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": Schema{"type": "string"}})
	}
	for _, p := range op.Params {
		s := p.Schema
		if s == nil {
			s = Schema{"type": "string"}
		}
		params = append(params, map[string]any{"name": p.Name, "in": p.In, "required": p.Required, "description": p.Description, "schema": s})
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if op.Body != nil {
		o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": op.Body}}}
	}
	resp := map[string]any{}
	codes := make([]int, 0, len(op.Responses))
	for c := range op.Responses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		r := op.Responses[c]
		out := map[string]any{"description": r.Description}
		content := map[string]any{}
		if r.Schema != nil {
			content["application/json"] = map[string]any{"schema": r.Schema}
		}
		for mime, s := range r.Alternates {
			content[mime] = map[string]any{"schema": s}
		}
		if len(content) > 0 {
			out["content"] = content
		}
		if len(r.Headers) > 0 {
			h := map[string]any{}
			for name, desc := range r.Headers {
				h[name] = map[string]any{"description": desc, "schema": Schema{"type": "string"}}
			}
			out["headers"] = h
		}
		resp[strconv.Itoa(c)] = out
	}
	// Every error of every operation is a problem document.
	resp["default"] = map[string]any{"description": "an error (RFC 9457 problem details)",
		"content": map[string]any{"application/problem+json": map[string]any{"schema": Ref("Problem")}}}
	o["responses"] = resp
	return o
}
