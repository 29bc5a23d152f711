package node

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"siteline/storage"
	"siteline/web"
)

// scimClient calls a node's SCIM API with a bearer token.
type scimClient struct {
	t     *testing.T
	base  string
	token string
}

// do sends body (JSON unless nil) and returns the status and the decoded
// answer.
func (sc scimClient) do(method, path string, body any) (int, map[string]any) {
	sc.t.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = strings.NewReader(string(data))
	}
	req, _ := http.NewRequest(method, sc.base+path, r)
	req.Header.Set("Content-Type", "application/scim+json")
	if sc.token != "" {
		req.Header.Set("Authorization", "Bearer "+sc.token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		sc.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			sc.t.Fatalf("%s %s: %q is not JSON", method, path, data)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
			sc.t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
	}
	return resp.StatusCode, out
}

// scimFailed checks an answer is a SCIM error of status (and scimType,
// when given) that says something.
func scimFailed(t *testing.T, what string, st int, out map[string]any, status int, scimType string) {
	t.Helper()
	schemas, _ := out["schemas"].([]any)
	if st != status || len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" ||
		out["status"] != strconv.Itoa(status) || out["detail"] == "" || (scimType != "" && out["scimType"] != scimType) {
		t.Fatalf("%s: status %d %v; want a SCIM error %d %s", what, st, out, status, scimType)
	}
}

func TestSCIM(t *testing.T) {
	tn := startNode(t, Config{})
	admin := tn.admin()
	var tok struct{ Token, URL string }
	if st := admin.do("POST", "/api/v1/organisation/sso/scim-token", nil, &tok); st != 201 || !strings.HasPrefix(tok.Token, "scim_") {
		t.Fatalf("new SCIM token: status %d %+v", st, tok)
	}
	sc := scimClient{t: t, base: tok.URL, token: tok.Token}

	st, out := scimClient{t: t, base: tok.URL}.do("GET", "/Users", nil)
	scimFailed(t, "no token", st, out, 401, "")
	st, out = scimClient{t: t, base: tok.URL, token: "scim_wrong"}.do("GET", "/Users", nil)
	scimFailed(t, "wrong token", st, out, 401, "")

	create := func(email, name string) string {
		t.Helper()
		st, out := sc.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
			"userName": email, "name": map[string]string{"formatted": name}, "externalId": "ext-" + name,
			"emails": []map[string]any{{"value": email, "primary": true, "type": "work"}}, "active": true})
		if st != 201 || out["userName"] != email || out["id"] == "" || out["active"] != true {
			t.Fatalf("create %s: status %d %v", email, st, out)
		}
		return out["id"].(string)
	}
	bob := create("bob@plant.example", "Bob Builder")
	carol := create("carol@plant.example", "Carol Chem")
	create("dan@plant.example", "Dan Driller")
	create("eve@plant.example", "Eve Electric")

	var events []storage.AuditEvent
	if st := admin.do("GET", "/api/v1/audit?action=user.create", nil, &events); st != 200 || len(events) == 0 || events[0].ActorID != "scim" {
		t.Fatalf("audit of a SCIM create: status %d %+v, want actor scim", st, events)
	}

	st, out = sc.do("POST", "/Users", map[string]any{"userName": "BOB@plant.example"})
	scimFailed(t, "duplicate userName", st, out, 409, "uniqueness")
	st, out = sc.do("POST", "/Users", map[string]any{"userName": "not an e-mail"})
	scimFailed(t, "userName not an e-mail", st, out, 400, "invalidValue")

	st, out = sc.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "bob@plant.example"`), nil)
	if res, _ := out["Resources"].([]any); st != 200 || out["totalResults"] != 1.0 || len(res) != 1 || res[0].(map[string]any)["id"] != bob {
		t.Fatalf("filter userName eq: status %d %v", st, out)
	}
	st, out = sc.do("GET", "/Users?filter="+url.QueryEscape(`emails co "plant"`), nil)
	scimFailed(t, "unsupported filter", st, out, 400, "invalidFilter")

	// The administrator and the four: pages of two.
	var seen []string
	for start := 1; start <= 5; start += 2 {
		st, out = sc.do("GET", "/Users?startIndex="+strconv.Itoa(start)+"&count=2", nil)
		res, _ := out["Resources"].([]any)
		if st != 200 || out["totalResults"] != 5.0 || out["startIndex"] != float64(start) || out["itemsPerPage"] != float64(len(res)) || len(res) != min(2, 5-start+1) {
			t.Fatalf("page at %d: status %d %v", start, st, out)
		}
		for _, r := range res {
			seen = append(seen, r.(map[string]any)["userName"].(string))
		}
	}
	slices.Sort(seen)
	if len(slices.Compact(seen)) != 5 {
		t.Fatalf("the pages list %v, not five users once each", seen)
	}

	// A group (team) with bob, then carol added and bob removed as
	// identity providers send it.
	st, out = sc.do("POST", "/Groups", map[string]any{"displayName": "Line 2", "members": []map[string]string{{"value": bob}}})
	if st != 201 || out["displayName"] != "Line 2" {
		t.Fatalf("create group: status %d %v", st, out)
	}
	group := out["id"].(string)
	st, out = sc.do("GET", "/Users/"+bob, nil)
	if groups, _ := out["groups"].([]any); st != 200 || len(groups) != 1 || groups[0].(map[string]any)["value"] != group {
		t.Fatalf("bob's groups: status %d %v", st, out)
	}
	st, out = sc.do("PATCH", "/Groups/"+group, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{
			{"op": "add", "path": "members", "value": []map[string]string{{"value": carol}}},
			{"op": "remove", "path": `members[value eq "` + bob + `"]`},
			{"op": "replace", "path": "displayName", "value": "Line 2 north"},
		}})
	if members, _ := out["members"].([]any); st != 200 || len(members) != 1 || members[0].(map[string]any)["value"] != carol || out["displayName"] != "Line 2 north" {
		t.Fatalf("patch group: status %d %v", st, out)
	}
	st, out = sc.do("GET", "/Groups?filter="+url.QueryEscape(`displayName eq "Line 2 north"`), nil)
	if st != 200 || out["totalResults"] != 1.0 {
		t.Fatalf("filter groups: status %d %v", st, out)
	}

	// Deactivation, as Azure sends it, ends bob's session.
	if st := admin.do("PATCH", "/api/v1/users/"+bob, web.UserPatch{Password: ptr(opPassword)}, nil); st != 200 {
		t.Fatalf("set bob's password: %d", st)
	}
	bobSession := tn.login("bob@plant.example", opPassword)
	st, out = sc.do("PATCH", "/Users/"+bob, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "Replace", "path": "active", "value": "False"}}})
	if st != 200 || out["active"] != false {
		t.Fatalf("deactivate bob: status %d %v", st, out)
	}
	if st := bobSession.do("GET", "/api/v1/me", nil, nil); st != 401 {
		t.Fatalf("bob's session after deactivation: status %d, want 401", st)
	}
	st, out = sc.do("PATCH", "/Users/"+bob, map[string]any{"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": true, "displayName": "Robert Builder"}}}})
	if st != 200 || out["active"] != true || out["displayName"] != "Robert Builder" {
		t.Fatalf("reactivate bob: status %d %v", st, out)
	}
	st, out = sc.do("PATCH", "/Users/"+bob, map[string]any{"Operations": []map[string]any{{"op": "replace", "path": "nickName", "value": "x"}}})
	scimFailed(t, "patch of an unknown path", st, out, 400, "invalidPath")

	// The break-glass administrator is not SCIM's to change.
	adminUser, err := tn.n.store.UserByEmail(t.Context(), tn.n.OrgID(), tn.cfg.Organisation.AdminEmail)
	if err != nil {
		t.Fatal(err)
	}
	if st := admin.do("PUT", "/api/v1/organisation/sso", web.SSOInput{BreakGlassUserID: adminUser.ID}, nil); st != 200 {
		t.Fatalf("set the break-glass administrator: %d", st)
	}
	st, out = sc.do("PATCH", "/Users/"+adminUser.ID, map[string]any{"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}})
	scimFailed(t, "deactivating the break-glass administrator", st, out, 403, "")
	st, out = sc.do("DELETE", "/Users/"+adminUser.ID, nil)
	scimFailed(t, "deleting the break-glass administrator", st, out, 403, "")

	if st, _ := sc.do("DELETE", "/Users/"+carol, nil); st != 204 {
		t.Fatalf("delete carol: status %d", st)
	}
	st, out = sc.do("GET", "/Users/"+carol, nil)
	scimFailed(t, "deleted user", st, out, 404, "")
	if st, _ := sc.do("DELETE", "/Groups/"+group, nil); st != 204 {
		t.Fatalf("delete group: status %d", st)
	}
	st, out = sc.do("GET", "/Groups/"+group, nil)
	scimFailed(t, "deleted group", st, out, 404, "")
}

func ptr[T any](v T) *T { return &v }
