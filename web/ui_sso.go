package web

import (
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// The single sign-on settings page: the identity providers, what to give
// them, the mapping of their groups to roles, teams and labels, and
// whether only the break-glass administrator may still use a password.

func (s *Server) ssoUIRoutes() []route {
	return []route{
		{method: "GET", path: "/sso-settings", perm: policy.AdminSSO, page: true, summary: "Single sign-on settings", handler: s.uiSSOSettings},
		{method: "POST", path: "/sso-settings", perm: policy.AdminSSO, page: true, summary: "Save the single sign-on settings", handler: s.uiSaveSSOSettings},
		{method: "POST", path: "/sso-settings/scim-token", perm: policy.AdminSSO, page: true, summary: "Make a new SCIM token, shown once", handler: s.uiNewSCIMToken},
	}
}

// uiNewSCIMToken makes the organisation's SCIM token and shows it once,
// on the settings page.
func (s *Server) uiNewSCIMToken(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if s.deps.SCIM == nil {
		return fiber.NewError(fiber.StatusNotFound, "SCIM is not served by this node.")
	}
	secret, err := s.deps.SCIM.NewSCIMToken(c.UserContext(), a)
	if err != nil {
		return err
	}
	st, err := s.deps.SSOAdmin.SSOSettings(c.UserContext(), a)
	if err != nil {
		return err
	}
	return s.showSSOSettings(c, fiber.StatusOK, &formState{}, st, nil, secret)
}

type ssoPageData struct {
	Out ssoSettingsOut
	// MetadataURL is the SP metadata to give the IdP.
	MetadataURL string
	OIDCSecret  bool // a client secret is stored
	Rows        []mappingRow
	Roles       []storage.Role
	Teams       []storage.Team
	Labels      []storage.Label
	Users       []storage.User
	// SCIM is served; SCIMActive when a token is set; SCIMToken is a new
	// one, shown once.
	SCIM, SCIMActive   bool
	SCIMToken, SCIMURL string
}

// mappingRow is one row of the mapping table: a group and one role, team
// or label for it (several rows may name one group).
type mappingRow struct {
	Group, Role, Team, Label string
}

// mappingBlankRows are the empty rows offered for new mappings.
const mappingBlankRows = 3

func (s *Server) uiSSOSettings(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	st, err := s.deps.SSOAdmin.SSOSettings(c.UserContext(), a)
	if err != nil {
		return err
	}
	return s.showSSOSettings(c, fiber.StatusOK, &formState{}, st, nil, "")
}

func (s *Server) showSSOSettings(c *fiber.Ctx, status int, f *formState, st storage.SSOSettings, rows []mappingRow, scimToken string) error {
	a, _ := actorOf(c)
	ctx := c.UserContext()
	d := ssoPageData{Out: s.ssoOut(c, st), OIDCSecret: st.OIDC != nil && st.OIDC.ClientSecret != "", Rows: rows,
		SCIM: s.deps.SCIM != nil, SCIMToken: scimToken, SCIMActive: len(st.SCIMTokenHash) > 0,
		SCIMURL: s.baseURL(c) + "/scim/v2/" + st.OrgID}
	d.MetadataURL = d.Out.SAMLEntityID
	if rows == nil {
		for _, m := range st.Mapping {
			for _, r := range m.Roles {
				d.Rows = append(d.Rows, mappingRow{Group: m.Group, Role: r})
			}
			for _, t := range m.Teams {
				d.Rows = append(d.Rows, mappingRow{Group: m.Group, Team: t})
			}
			for _, l := range m.Labels {
				d.Rows = append(d.Rows, mappingRow{Group: m.Group, Label: l})
			}
		}
	}
	for range mappingBlankRows {
		d.Rows = append(d.Rows, mappingRow{})
	}
	var err error
	if d.Roles, err = s.deps.Org.Roles(ctx, a.OrgID); err != nil {
		return err
	}
	d.Roles = slices.DeleteFunc(d.Roles, func(r storage.Role) bool { return policy.IsGuestRole(r.Name) })
	if d.Teams, err = s.deps.Org.Teams(ctx, a.OrgID); err != nil {
		return err
	}
	if d.Labels, err = s.deps.Org.Labels(ctx, a.OrgID); err != nil {
		return err
	}
	users, err := s.deps.Org.Users(ctx, a.OrgID)
	if err != nil {
		return err
	}
	d.Users = slices.DeleteFunc(users, func(u storage.User) bool { return !u.Active || u.Kind != storage.UserRegular })
	if f.Values == nil {
		f.Values = map[string][]string{
			"company": {st.Company}, "oidc_issuer": {d.Out.OIDCIssuer}, "oidc_client_id": {d.Out.OIDCClientID},
			"break_glass_user_id": {st.BreakGlassUserID},
		}
		if st.SAML != nil {
			f.Values["saml_metadata"] = []string{st.SAML.IdPMetadata}
			if st.SAML.AllowIdPInitiated {
				f.Values["allow_idp_initiated"] = []string{"on"}
			}
		}
		if st.RequireSSO {
			f.Values["require_sso"] = []string{"on"}
		}
	}
	v := s.view(c, "Single sign-on", "sso-settings")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "sso_settings", v)
}

func (s *Server) uiSaveSSOSettings(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	f := readForm(c, "sso", "company", "oidc_issuer", "oidc_client_id", "saml_metadata", "saml_metadata_url", "allow_idp_initiated",
		"require_sso", "break_glass_user_id", "map_group", "map_role", "map_team", "map_label")
	in := SSOInput{
		Company: f.V("company"), OIDCIssuer: f.V("oidc_issuer"), OIDCClientID: f.V("oidc_client_id"),
		OIDCClientSecret: secret(c, "oidc_client_secret"), SAMLMetadata: f.V("saml_metadata"), SAMLMetadataURL: f.V("saml_metadata_url"),
		AllowIdPInitiated: f.V("allow_idp_initiated") != "", RequireSSO: f.V("require_sso") != "",
		BreakGlassUserID: f.V("break_glass_user_id"),
	}
	at := func(key string, i int) string {
		if vs := f.All(key); i < len(vs) {
			return strings.TrimSpace(vs[i])
		}
		return ""
	}
	var rows []mappingRow
	for i := range f.All("map_group") {
		r := mappingRow{Group: at("map_group", i), Role: at("map_role", i), Team: at("map_team", i), Label: at("map_label", i)}
		if r.Group == "" && r.Role == "" && r.Team == "" && r.Label == "" {
			continue
		}
		rows = append(rows, r)
	}
	in.Mapping = mappingOf(rows)
	if _, err := s.deps.SSOAdmin.SaveSSOSettings(c.UserContext(), a, in); err != nil {
		return failed(c, f, err, func(c *fiber.Ctx, status int, f *formState) error {
			old, rerr := s.deps.SSOAdmin.SSOSettings(c.UserContext(), a)
			if rerr != nil {
				return rerr
			}
			return s.showSSOSettings(c, status, f, old, rows, "")
		})
	}
	return done(c, "/sso-settings", "Saved the single sign-on settings.")
}

// mappingOf gathers the rows of one group into one mapping, in the order
// the groups first appear.
func mappingOf(rows []mappingRow) []storage.SSOMapping {
	var out []storage.SSOMapping
	for _, r := range rows {
		i := slices.IndexFunc(out, func(m storage.SSOMapping) bool { return strings.EqualFold(m.Group, r.Group) })
		if i < 0 {
			out = append(out, storage.SSOMapping{Group: r.Group})
			i = len(out) - 1
		}
		m := &out[i]
		if r.Role != "" {
			m.Roles = append(m.Roles, r.Role)
		}
		if r.Team != "" {
			m.Teams = append(m.Teams, r.Team)
		}
		if r.Label != "" {
			m.Labels = append(m.Labels, r.Label)
		}
	}
	return out
}
