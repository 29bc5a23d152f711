package web

import (
	"testing"

	"siteline/policy"
	"siteline/storage"
)

// Pure functions of the backoffice; the pages themselves are tested end to
// end against a real node in package node.

func TestPagesParse(t *testing.T) {
	p, err := newPages()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "error", "home", "users", "user", "teams", "team", "labels", "contacts", "contact", "account", "audit", "policy", "call"} {
		if _, ok := p.files[name]; !ok {
			t.Errorf("no template for page %s", name)
		}
	}
	// Pages are parsed when first shown: parse every one here.
	for name := range p.files {
		if _, err := p.set(name); err != nil {
			t.Error(err)
		}
	}
	if len(p.sets) != len(p.files) {
		t.Errorf("%d page sets kept for %d pages", len(p.sets), len(p.files))
	}
	if _, err := p.set("nonexistent"); err == nil {
		t.Error("a page with no template file parsed")
	}
}

func TestStaticTypes(t *testing.T) {
	assets, err := assetTable()
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range assets {
		if a.ctype == "application/octet-stream" {
			t.Errorf("static file %s has no content type: add its extension to staticType", name)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, ok := range map[string]bool{
		"/users": true, "/users/u1?x=1": true, "": false, "//evil.example": false,
		"/\\evil.example": false, "https://evil.example/": false, "users": false, "/a\nb": false,
	} {
		if _, got := localPath(in); got != ok {
			t.Errorf("localPath(%q) = %v, want %v", in, got, ok)
		}
	}
}

func TestPolicyMatrix(t *testing.T) {
	rules := []storage.PolicyRule{
		policy.Grant("o", policy.RoleSubject("a"), policy.ContactList),
		{OrgID: "o", PType: "g", V: []string{policy.RoleSubject("b"), policy.RoleSubject("a"), "o"}},
		policy.Grant("o", policy.UserSubject("u1"), policy.AdminAuditLog),
	}
	m := buildMatrix([]storage.Role{{Name: "a"}, {Name: "b"}, {Name: "c"}}, rules, policy.All())
	var found bool
	for _, area := range m.Areas {
		for _, row := range area.Rows {
			if row.ID == policy.ContactList {
				found = true
				if !row.Cells[0].Granted || row.Cells[0].Inherited != "" || !row.Cells[1].Granted || row.Cells[1].Inherited != "a" || row.Cells[2].Granted {
					t.Errorf("cells %+v", row.Cells)
				}
			}
		}
	}
	if !found || m.UserGrants != 1 || m.Roles[0].Granted != 1 {
		t.Errorf("matrix: found %v, user grants %d, role a granted %d", found, m.UserGrants, m.Roles[0].Granted)
	}
}
