package policies

import (
	"maps"
	"net/http"

	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
)

// Token scopes of the policy routes (the table is identity.TokenScopes).
const (
	apiScopeRead  = "policies:read"
	apiScopeWrite = "policies:write"
)

// APIv1Routes registers the policies on the staff REST API with the
// console's permissions: baselines are platform management (owners and
// admins), a client's policy is seen by whoever sees the client and changed
// by its administrators.
func (s *Service) APIv1Routes(api *apidoc.API) {
	defineSchemas(api.Doc)
	etagHdr := map[string]string{"ETag": "version of the resource, for If-Match"}
	ifMatch := apidoc.Param{Name: "If-Match", In: "header", Required: true, Description: "the ETag read"}
	const base = "/api/v1/policies"
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base, ID: "listPolicies", Tag: "policies",
		Summary:   "List the global baselines by key, with how many clients override each",
		Params:    apidoc.PageParams(),
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "one page of baselines", Schema: apidoc.Ref("PolicyPage")}},
	}, authz.PlatformManage, apiScopeRead, s.apiBaselines)
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base + "/:key", ID: "getPolicy", Tag: "policies",
		Summary:   "Show a baseline, with an ETag",
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the baseline", Schema: apidoc.Ref("Policy"), Headers: etagHdr}},
	}, authz.PlatformManage, apiScopeRead, s.apiBaseline)
	api.Route(apidoc.Op{Method: http.MethodPut, Path: base + "/:key", ID: "putPolicy", Tag: "policies",
		Summary: "Create or replace a baseline; every client follows it at once",
		Description: "Replace: send the ETag you read as If-Match (428 without it, 412 if the baseline changed since). " +
			"Create: send `If-None-Match: *` (412 if the key exists). The kind of an existing baseline cannot change (409). " +
			"A malformed body is 400; values the policy rules refuse are 422 with the reason. Audited as policy.global_set.",
		Params: []apidoc.Param{
			{Name: "If-Match", In: "header", Description: "the ETag read (replacing)"},
			{Name: "If-None-Match", In: "header", Description: "`*` (creating)", Schema: apidoc.Schema{"type": "string", "enum": []string{"*"}}},
		},
		Body: apidoc.Ref("PolicyInput"),
		Responses: map[int]apidoc.Response{
			http.StatusOK:      {Description: "the baseline as saved", Schema: apidoc.Ref("Policy"), Headers: etagHdr},
			http.StatusCreated: {Description: "the new baseline", Schema: apidoc.Ref("Policy"), Headers: map[string]string{"ETag": etagHdr["ETag"], "Location": "the baseline's URL"}},
		},
	}, authz.PlatformManage, apiScopeWrite, s.apiPutBaseline)
	api.Route(apidoc.Op{Method: http.MethodDelete, Path: base + "/:key", ID: "deletePolicy", Tag: "policies",
		Summary:     "Delete a baseline (If-Match required); clients' overrides of it stop mattering",
		Description: "428 without If-Match, 412 if the baseline changed since you read it. Audited as policy.global_deleted.",
		Params:      []apidoc.Param{ifMatch},
		Responses:   map[int]apidoc.Response{http.StatusNoContent: {Description: "deleted"}},
	}, authz.PlatformManage, apiScopeWrite, s.apiDeleteBaseline)

	const client = "/api/v1/clients/:slug/policy"
	policy := map[int]apidoc.Response{http.StatusOK: {Description: "the client's effective policy after the change", Schema: apidoc.Ref("ClientPolicy"), Headers: etagHdr}}
	writeNote := "Send the ETag of the client's policy (GET …/policy) as If-Match: 428 without it, 412 if the policy changed since " +
		"(a change of a baseline changes every client's policy). "
	api.Route(apidoc.Op{Method: http.MethodGet, Path: client, ID: "getClientPolicy", Tag: "policies",
		Summary: "A client's effective policy: each item with its origin (global, overridden, locked, tenant), the baseline it overrides and its excluded endpoints",
		Description: "Read from the database, not a cache, so a change is visible at once. " +
			"The ETag versions the client's whole policy; every write below takes it as If-Match.",
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the effective policy", Schema: apidoc.Ref("ClientPolicy"), Headers: etagHdr}},
	}, authz.TenantView, apiScopeRead, s.apiClientPolicy)
	api.Route(apidoc.Op{Method: http.MethodPut, Path: client + "/:key/override", ID: "putPolicyOverride", Tag: "policies",
		Summary: "Override a baseline for this client: enable or disable it, change a threshold's value, for or severity, or an SLA",
		Description: writeNote + "The override replaces any earlier one; threshold fields left out are the baseline's. " +
			"A locked baseline refuses with 409. Audited as policy.overridden.",
		Params: []apidoc.Param{ifMatch}, Body: apidoc.Ref("PolicyOverrideInput"), Responses: policy,
	}, authz.TenantAdmin, apiScopeWrite, s.apiPutOverride)
	api.Route(apidoc.Op{Method: http.MethodDelete, Path: client + "/:key/override", ID: "deletePolicyOverride", Tag: "policies",
		Summary:     "Return this client to the baseline",
		Description: writeNote + "404 if the client does not override the item. Audited as policy.override_cleared.",
		Params:      []apidoc.Param{ifMatch}, Responses: policy,
	}, authz.TenantAdmin, apiScopeWrite, s.apiDeleteOverride)
	for _, x := range []struct {
		method, id, summary string
		exclude             bool
	}{
		{http.MethodPut, "putPolicyExclusion", "Exclude one of the client's endpoints (by hostname) from an item", true},
		{http.MethodDelete, "deletePolicyExclusion", "Apply an item to an excluded endpoint again", false},
	} {
		api.Route(apidoc.Op{Method: x.method, Path: client + "/:key/exclusions/:hostname", ID: x.id, Tag: "policies", Summary: x.summary,
			Description: writeNote + "The item is a baseline (not a locked one: 409) or one of the client's own. Audited as policy.endpoint_excluded / policy.endpoint_included.",
			Params:      []apidoc.Param{ifMatch}, Responses: policy,
		}, authz.TenantAdmin, apiScopeWrite, s.apiExclusion(x.exclude))
	}
	api.Route(apidoc.Op{Method: http.MethodPut, Path: client + "/:key", ID: "putClientPolicyItem", Tag: "policies",
		Summary:     "Add or replace one of the client's own items: a routing rule or a maintenance window",
		Description: writeNote + "The key must not be a baseline's (422: override it instead). Audited as policy.item_set.",
		Params:      []apidoc.Param{ifMatch}, Body: apidoc.Ref("ClientPolicyItemInput"), Responses: policy,
	}, authz.TenantAdmin, apiScopeWrite, s.apiPutOwnItem)
}

var (
	str      = apidoc.Schema{"type": "string"}
	boolean  = apidoc.Schema{"type": "boolean"}
	number   = apidoc.Schema{"type": "number"}
	dur      = apidoc.Schema{"type": "string", "description": "a duration like 5m or 1h30m", "example": "5m0s"}
	labelMap = apidoc.Schema{"type": "object", "nullable": true, "additionalProperties": str}
	strList  = apidoc.Schema{"type": "array", "nullable": true, "items": str}
)

// bodyProps are the kind-specific bodies of an item: exactly one is present.
func bodyProps() apidoc.Schema {
	return apidoc.Schema{
		"threshold": apidoc.Ref("PolicyThreshold"), "routing": apidoc.Ref("PolicyRouting"),
		"maintenance": apidoc.Ref("PolicyMaintenance"), "agent": apidoc.Ref("PolicyAgent"), "sla": apidoc.Ref("PolicySLA"),
	}
}

// itemProps are an item's properties as shown, plus extra.
func itemProps(extra apidoc.Schema) apidoc.Schema {
	p := bodyProps()
	p["key"], p["kind"], p["enabled"], p["summary"] = str, apidoc.Schema{"type": "string", "enum": []string{KindThreshold, KindRouting, KindMaintenance, KindAgent, KindSLA}}, boolean, apidoc.Schema{"type": "string", "description": "what the item does, in words"}
	maps.Copy(p, extra)
	return p
}

func defineSchemas(d *apidoc.Doc) {
	obj := func(required []string, props apidoc.Schema) apidoc.Schema {
		s := apidoc.Schema{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	d.Define("PolicyThreshold", obj([]string{"metric", "operator", "value", "severity"}, apidoc.Schema{
		"metric":   apidoc.Schema{"type": "string", "enum": []string{"cpu_percent", "memory_percent", "disk_percent", "uptime_seconds"}},
		"operator": apidoc.Schema{"type": "string", "enum": []string{">", ">=", "<", "<="}}, "value": number, "for": dur,
		"severity": apidoc.Schema{"type": "string", "enum": []string{"warning", "critical"}}, "auto_resolve": boolean}))
	d.Define("PolicyRouting", obj([]string{"min_severity", "channels"}, apidoc.Schema{
		"min_severity": apidoc.Schema{"type": "string", "enum": []string{"info", "warning", "critical"}}, "labels": labelMap, "channels": strList}))
	d.Define("PolicyMaintenance", obj([]string{"starts_at", "ends_at"}, apidoc.Schema{"labels": labelMap,
		"starts_at": apidoc.Schema{"type": "string", "format": "date-time"}, "ends_at": apidoc.Schema{"type": "string", "format": "date-time"}}))
	d.Define("PolicyAgent", obj([]string{"check_in_interval", "offline_after_missed"}, apidoc.Schema{"check_in_interval": dur, "offline_after_missed": apidoc.Schema{"type": "integer"}}))
	d.Define("PolicySLA", obj([]string{"targets", "calendar", "clock_owner", "warn_at"}, apidoc.Schema{
		"targets": apidoc.Schema{"type": "object", "description": "by severity: critical, warning, info",
			"additionalProperties": obj([]string{"acknowledge", "resolve"}, apidoc.Schema{"acknowledge": dur, "resolve": dur})},
		"calendar": obj(nil, apidoc.Schema{"always_open": boolean, "zone": str,
			"hours": apidoc.Schema{"type": "array", "items": str, "description": `"Mon 09:00-17:00"`}, "holidays": apidoc.Schema{"type": "array", "items": str, "description": "YYYY-MM-DD"}}),
		"clock_owner": apidoc.Schema{"type": "string", "enum": []string{"msp", "client"}}, "warn_at": number}))
	d.Define("PolicyItem", obj([]string{"key", "kind", "enabled", "summary"}, itemProps(nil)))
	d.Define("Policy", obj([]string{"key", "kind", "enabled", "summary", "locked", "updated_at", "overridden_by"}, itemProps(apidoc.Schema{
		"locked":        apidoc.Schema{"type": "boolean", "description": "clients cannot override, disable or exclude it"},
		"updated_at":    apidoc.Schema{"type": "string", "format": "date-time"},
		"overridden_by": apidoc.Schema{"type": "integer", "description": "how many clients override it"}})))
	d.Define("PolicyPage", obj([]string{"items"}, apidoc.Schema{"items": apidoc.Schema{"type": "array", "items": apidoc.Ref("Policy")},
		"next": apidoc.Schema{"type": "string", "description": "cursor of the next page; absent on the last page"}}))
	d.Define("ClientPolicyItem", obj([]string{"key", "kind", "enabled", "summary", "origin", "excluded"}, itemProps(apidoc.Schema{
		"origin": apidoc.Schema{"type": "string", "enum": []string{OriginGlobal, OriginOverridden, OriginLocked, OriginTenant},
			"description": "global: the baseline as is; overridden: changed for this client; locked: a baseline the client cannot change; tenant: the client's own"},
		"excluded":  apidoc.Schema{"type": "array", "items": str, "description": "endpoint hostnames it does not apply to"},
		"overrides": apidoc.Schema{"allOf": []any{apidoc.Ref("PolicyItem")}, "description": "the baseline this client's item overrides (origin overridden)"}})))
	d.Define("ClientPolicy", obj([]string{"client", "items"}, apidoc.Schema{"client": str, "items": apidoc.Schema{"type": "array", "items": apidoc.Ref("ClientPolicyItem")}}))

	in := bodyProps()
	in["kind"], in["enabled"] = apidoc.Schema{"type": "string", "enum": []string{KindThreshold, KindRouting, KindMaintenance, KindAgent, KindSLA}}, boolean
	in["locked"] = apidoc.Schema{"type": "boolean", "description": "absent: false (a PUT replaces the whole baseline)"}
	for _, ro := range []string{"key", "summary", "updated_at", "overridden_by"} {
		in[ro] = apidoc.Schema{"description": "as read; ignored (key must equal the path's)"}
	}
	d.Define("PolicyInput", obj([]string{"kind", "enabled"}, in))
	d.Define("PolicyOverrideInput", obj(nil, apidoc.Schema{
		"enabled": apidoc.Schema{"type": "boolean", "description": "absent: as the baseline"},
		"threshold": obj(nil, apidoc.Schema{"value": number, "for": dur,
			"severity": apidoc.Schema{"type": "string", "enum": []string{"warning", "critical"}}}),
		"sla": apidoc.Ref("PolicySLA")}))
	d.Define("ClientPolicyItemInput", obj([]string{"kind"}, apidoc.Schema{
		"kind":    apidoc.Schema{"type": "string", "enum": []string{KindRouting, KindMaintenance}},
		"enabled": apidoc.Schema{"type": "boolean", "description": "absent: true"},
		"routing": apidoc.Ref("PolicyRouting"), "maintenance": apidoc.Ref("PolicyMaintenance")}))
}
