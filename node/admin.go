package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// admin implements web.Admin: the use cases that change organisation data.
// Each validates its input, proposes one command through Raft (so it is
// applied on every node or not at all) and then writes the audit log.
type admin struct{ n *Node }

var _ web.Admin = (*admin)(nil)

func (s *admin) Authenticate(ctx context.Context, email, password string) (storage.User, error) {
	release, err := s.n.hashing(ctx)
	if err != nil {
		return storage.User{}, err
	}
	defer release()
	u, err := s.n.store.UserByLogin(ctx, strings.ToLower(strings.TrimSpace(email)))
	if errors.Is(err, storage.ErrNotFound) {
		_, _ = verifyPassword(s.n.dummy(), password)
		return u, storage.ErrUnauthenticated
	}
	if err != nil {
		return u, err
	}
	if u.PasswordHash == "" {
		_, _ = verifyPassword(s.n.dummy(), password)
		return u, storage.ErrUnauthenticated
	}
	ok, err := verifyPassword(u.PasswordHash, password)
	if err != nil {
		return u, fmt.Errorf("verify password of %s: %w", u.Email, err)
	}
	if !ok || !u.Active || u.Kind != storage.UserRegular {
		return u, storage.ErrUnauthenticated
	}
	s.n.firstLogin(ctx, u.ID) // password_initial.go
	return u, nil
}

// PasswordChangeRequired reports whether the user still has the password
// generated at installation.
func (s *admin) PasswordChangeRequired(ctx context.Context, userID string) bool {
	return s.n.passwordChangeRequired(ctx, userID)
}

func (s *admin) CreateUser(ctx context.Context, a web.Actor, in web.UserInput) (storage.User, error) {
	email, err := normEmail("email", in.Email)
	if err != nil {
		return storage.User{}, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = email[:strings.IndexByte(email, '@')]
	}
	if err := checkName("name", name); err != nil {
		return storage.User{}, err
	}
	if err := checkPasswordStrength("password", in.Password); err != nil {
		return storage.User{}, err
	}
	if _, err := s.n.store.UserByEmail(ctx, a.OrgID, email); err == nil {
		return storage.User{}, fmt.Errorf("a user with e-mail %s already exists: %w", email, storage.ErrConflict)
	}
	roles := in.Roles
	if roles == nil {
		roles = []string{policy.RoleRegular}
	}
	if err := s.checkRoles(ctx, a.OrgID, roles); err != nil {
		return storage.User{}, err
	}
	if err := s.mayGrantRoles(a, roles); err != nil {
		return storage.User{}, err
	}
	hash, err := hashPassword(in.Password)
	if err != nil {
		return storage.User{}, err
	}
	now := s.n.now().UTC()
	u := storage.User{ID: newID(), OrgID: a.OrgID, Email: email, Name: name, Kind: storage.UserRegular, Active: true, CreatedAt: now, UpdatedAt: now}
	changes := []storage.Change{{Op: storage.OpPutUser, User: &u, PasswordHash: hash}}
	if rules := assignments(a.OrgID, u.ID, roles); len(rules) > 0 {
		changes = append(changes, storage.Change{Op: storage.OpAddPolicy, Rules: rules})
	}
	if err := s.propose(ctx, a, changes...); err != nil {
		return storage.User{}, err
	}
	u.PasswordHash = hash
	return u, s.n.audit(ctx, actorID(a), "user.create", u.ID, map[string]any{"email": email, "name": name, "roles": roles})
}

func (s *admin) UpdateUser(ctx context.Context, a web.Actor, id string, p web.UserPatch) (storage.User, error) {
	old, err := s.orgUser(ctx, a, id)
	if err != nil {
		return old, err
	}
	if err := s.mayUpdate(a, old, p); err != nil {
		return old, err
	}
	u := old
	var changes []storage.Change
	hash := u.PasswordHash
	if p.Email != nil {
		if u.Email, err = normEmail("email", *p.Email); err != nil {
			return old, err
		}
		if other, err := s.n.store.UserByEmail(ctx, a.OrgID, u.Email); err == nil && other.ID != u.ID {
			return old, fmt.Errorf("a user with e-mail %s already exists: %w", u.Email, storage.ErrConflict)
		}
	}
	if p.Name != nil {
		u.Name = strings.TrimSpace(*p.Name)
		if err := checkName("name", u.Name); err != nil {
			return old, err
		}
	}
	if p.Active != nil {
		if !*p.Active && a.UserID == u.ID {
			return old, validation("active", "cannot be switched off for yourself: ask another administrator")
		}
		u.Active = *p.Active
	}
	if p.Password != nil {
		if err := checkPasswordStrength("password", *p.Password); err != nil {
			return old, err
		}
		if hash, err = hashPassword(*p.Password); err != nil {
			return old, err
		}
	}
	oldRoles := s.n.authz.Roles(a.OrgID, u.ID)
	newRoles := oldRoles
	if p.Roles != nil {
		newRoles = *p.Roles
		if err := s.checkRoles(ctx, a.OrgID, newRoles); err != nil {
			return old, err
		}
		if rm := assignments(a.OrgID, u.ID, minus(oldRoles, newRoles)); len(rm) > 0 {
			changes = append(changes, storage.Change{Op: storage.OpRemovePolicy, Rules: rm})
		}
		if add := assignments(a.OrgID, u.ID, minus(newRoles, oldRoles)); len(add) > 0 {
			changes = append(changes, storage.Change{Op: storage.OpAddPolicy, Rules: add})
		}
	}
	if len(changes) > 0 || (old.Active && !u.Active) {
		if err := s.checkLockout(ctx, a.OrgID, changes, u); err != nil {
			return old, err
		}
	}
	u.UpdatedAt = s.n.now().UTC()
	changes = append([]storage.Change{{Op: storage.OpPutUser, User: &u, PasswordHash: hash, Existing: true}}, changes...)
	if p.Password != nil || old.Active && !u.Active {
		// A reset password or a deactivation ends the user's API tokens.
		changes = append(changes, storage.Change{Op: storage.OpDelUserTokens, ID: u.ID})
	}
	if err := s.propose(ctx, a, changes...); err != nil {
		return old, err
	}
	if !u.Active || p.Password != nil {
		// A deactivated user, or one whose password was reset, is logged
		// out everywhere on this node.
		if err := s.n.store.DeleteUserWebSessions(ctx, u.ID); err != nil {
			return u, err
		}
	}
	if p.Password != nil {
		if err := s.n.initialPasswordReplaced(ctx, u.ID); err != nil {
			return u, err
		}
	}
	detail := map[string]any{}
	if p.Email != nil && old.Email != u.Email {
		detail["email"] = [2]string{old.Email, u.Email}
	}
	if p.Name != nil && old.Name != u.Name {
		detail["name"] = [2]string{old.Name, u.Name}
	}
	if old.Active != u.Active {
		detail["active"] = [2]bool{old.Active, u.Active}
	}
	if p.Roles != nil {
		detail["roles"] = [2][]string{oldRoles, newRoles}
	}
	if p.Password != nil {
		detail["password"] = "reset"
	}
	if p.Password != nil || old.Active && !u.Active {
		detail["api_tokens"] = "revoked"
	}
	u.PasswordHash = hash
	return u, s.n.audit(ctx, actorID(a), "user.update", u.ID, detail)
}

func (s *admin) ChangePassword(ctx context.Context, a web.Actor, current, next string) error {
	if a.Local {
		return validation("user", "the local operator has no password: use `siteline user passwd`")
	}
	u, err := s.n.store.User(ctx, a.UserID)
	if err != nil {
		return err
	}
	if ok, err := verifyPassword(u.PasswordHash, current); err != nil || !ok {
		return validation("current", "is not your current password")
	}
	if next == current {
		return validation("new", "must differ from the current password")
	}
	if err := checkPasswordStrength("new", next); err != nil {
		return err
	}
	hash, err := hashPassword(next)
	if err != nil {
		return err
	}
	u.UpdatedAt = s.n.now().UTC()
	// The API tokens made under the old password end with it.
	if err := s.propose(ctx, a, storage.Change{Op: storage.OpPutUser, User: &u, PasswordHash: hash, Existing: true},
		storage.Change{Op: storage.OpDelUserTokens, ID: u.ID}); err != nil {
		return err
	}
	// Whoever knew the old password is logged out: every session of the
	// user ends here, and the web layer renews the one that asked.
	if err := s.n.store.DeleteUserWebSessions(ctx, u.ID); err != nil {
		return err
	}
	if err := s.n.initialPasswordReplaced(ctx, u.ID); err != nil {
		return err
	}
	return s.n.audit(ctx, actorID(a), "user.password", u.ID, map[string]string{"api_tokens": "revoked"})
}

func (s *admin) CreateTeam(ctx context.Context, a web.Actor, name string) (storage.Team, error) {
	name = strings.TrimSpace(name)
	if err := checkName("name", name); err != nil {
		return storage.Team{}, err
	}
	teams, err := s.n.store.Teams(ctx, a.OrgID)
	if err != nil {
		return storage.Team{}, err
	}
	if slices.ContainsFunc(teams, func(t storage.Team) bool { return strings.EqualFold(t.Name, name) }) {
		return storage.Team{}, fmt.Errorf("a team named %q already exists: %w", name, storage.ErrConflict)
	}
	t := storage.Team{ID: newID(), OrgID: a.OrgID, Name: name, CreatedAt: s.n.now().UTC()}
	if err := s.propose(ctx, a, storage.Change{Op: storage.OpPutTeam, Team: &t}); err != nil {
		return t, err
	}
	return t, s.n.audit(ctx, actorID(a), "team.create", t.ID, map[string]string{"name": name})
}

func (s *admin) RenameTeam(ctx context.Context, a web.Actor, id, name string) (storage.Team, error) {
	t, err := s.orgTeam(ctx, a, id)
	if err != nil {
		return t, err
	}
	old := t.Name
	t.Name = strings.TrimSpace(name)
	if err := checkName("name", t.Name); err != nil {
		return t, err
	}
	if err := s.propose(ctx, a, storage.Change{Op: storage.OpPutTeam, Team: &t, Existing: true}); err != nil {
		return t, err
	}
	return t, s.n.audit(ctx, actorID(a), "team.rename", t.ID, map[string]string{"from": old, "to": t.Name})
}

func (s *admin) DeleteTeam(ctx context.Context, a web.Actor, id string) error {
	t, err := s.orgTeam(ctx, a, id)
	if err != nil {
		return err
	}
	changes := []storage.Change{{Op: storage.OpDeleteTeam, ID: t.ID}}
	if lines := s.teamLines(a.OrgID, t.ID); len(lines) > 0 {
		// The team's role assignments and membership links go with it.
		changes = append(changes, storage.Change{Op: storage.OpRemovePolicy, Rules: lines})
		if err := s.checkLockout(ctx, a.OrgID, changes, storage.User{}); err != nil {
			return err
		}
	}
	if err := s.propose(ctx, a, changes...); err != nil {
		return err
	}
	return s.n.audit(ctx, actorID(a), "team.delete", t.ID, map[string]string{"name": t.Name})
}

func (s *admin) SetTeamMember(ctx context.Context, a web.Actor, teamID, userID string, role storage.TeamRole) error {
	switch role {
	case storage.TeamMember, storage.TeamLead, storage.TeamManager:
	default:
		return validation("role", fmt.Sprintf("%q is not one of member, lead, manager", role))
	}
	if _, err := s.orgTeam(ctx, a, teamID); err != nil {
		return err
	}
	if _, err := s.orgUser(ctx, a, userID); err != nil {
		return err
	}
	if err := s.mayJoinTeam(a, teamID); err != nil {
		return err
	}
	m := storage.TeamMembership{TeamID: teamID, UserID: userID, Role: role}
	if err := s.propose(ctx, a, storage.Change{Op: storage.OpSetTeamMember, Membership: &m}, teamLinkChange(a.OrgID, userID, teamID, true)); err != nil {
		return err
	}
	return s.n.audit(ctx, actorID(a), "team.member.set", teamID, m)
}

func (s *admin) RemoveTeamMember(ctx context.Context, a web.Actor, teamID, userID string) error {
	if _, err := s.orgTeam(ctx, a, teamID); err != nil {
		return err
	}
	if len(s.n.authz.TeamPermissions(a.OrgID, teamID)) > 0 {
		// Leaving the team takes its roles away.
		if u, err := s.orgUser(ctx, a, userID); err == nil {
			if err := s.mayManage(a, u); err != nil {
				return err
			}
		}
	}
	m := storage.TeamMembership{TeamID: teamID, UserID: userID}
	link := teamLinkChange(a.OrgID, userID, teamID, false)
	if err := s.checkLockout(ctx, a.OrgID, []storage.Change{link}, storage.User{}); err != nil {
		return err
	}
	if err := s.propose(ctx, a, storage.Change{Op: storage.OpDelTeamMember, Membership: &m}, link); err != nil {
		return err
	}
	return s.n.audit(ctx, actorID(a), "team.member.remove", teamID, m)
}

func (s *admin) PutLabelGroup(ctx context.Context, a web.Actor, g storage.LabelGroup) (storage.LabelGroup, error) {
	g.OrgID = a.OrgID
	g.Name = strings.TrimSpace(g.Name)
	g.Color = strings.ToLower(g.Color)
	if err := checkName("name", g.Name); err != nil {
		return g, err
	}
	if !storage.ValidColor(g.Color) {
		return g, validation("color", fmt.Sprintf("%q is not a colour of the form #rrggbb", g.Color))
	}
	action := "labelgroup.update"
	if g.ID == "" {
		g.ID, action = newID(), "labelgroup.create"
	} else if _, err := s.orgLabelGroup(ctx, a, g.ID); err != nil {
		return g, err
	}
	if err := s.propose(ctx, a, storage.Change{Op: storage.OpPutLabelGroup, LabelGroup: &g, Existing: action == "labelgroup.update"}); err != nil {
		return g, err
	}
	return g, s.n.audit(ctx, actorID(a), action, g.ID, g)
}

func (s *admin) DeleteLabelGroup(ctx context.Context, a web.Actor, id string) error {
	g, err := s.orgLabelGroup(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.propose(ctx, a, storage.Change{Op: storage.OpDelLabelGroup, ID: id}); err != nil {
		return err
	}
	return s.n.audit(ctx, actorID(a), "labelgroup.delete", id, g)
}

func (s *admin) PutLabel(ctx context.Context, a web.Actor, l storage.Label) (storage.Label, error) {
	l.OrgID = a.OrgID
	l.Name = strings.TrimSpace(l.Name)
	if err := checkName("name", l.Name); err != nil {
		return l, err
	}
	if l.GroupID == "" {
		return l, validation("group_id", "is required")
	}
	if _, err := s.orgLabelGroup(ctx, a, l.GroupID); err != nil {
		return l, validation("group_id", fmt.Sprintf("%q is not a label group of this organisation", l.GroupID))
	}
	action := "label.update"
	if l.ID == "" {
		l.ID, action = newID(), "label.create"
	} else if _, err := s.orgLabel(ctx, a, l.ID); err != nil {
		return l, err
	}
	if err := s.propose(ctx, a, storage.Change{Op: storage.OpPutLabel, Label: &l, Existing: action == "label.update"}); err != nil {
		return l, err
	}
	return l, s.n.audit(ctx, actorID(a), action, l.ID, l)
}

func (s *admin) DeleteLabel(ctx context.Context, a web.Actor, id string) error {
	l, err := s.orgLabel(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.propose(ctx, a, storage.Change{Op: storage.OpDelLabel, ID: id}); err != nil {
		return err
	}
	return s.n.audit(ctx, actorID(a), "label.delete", id, l)
}

func (s *admin) PutContact(ctx context.Context, a web.Actor, c storage.Contact) (storage.Contact, error) {
	c.OrgID = a.OrgID
	c.Name = strings.TrimSpace(c.Name)
	if err := checkName("name", c.Name); err != nil {
		return c, err
	}
	if c.Email != "" {
		var err error
		if c.Email, err = normEmail("email", c.Email); err != nil {
			return c, err
		}
	}
	if c.Phone = strings.TrimSpace(c.Phone); c.Phone != "" && !phoneRE.MatchString(c.Phone) {
		return c, validation("phone", fmt.Sprintf("%q is not a phone number (digits, spaces, + - ( ) only)", c.Phone))
	}
	for field, v := range map[string]string{"company": c.Company, "notes": c.Notes} {
		if len(v) > 2000 {
			return c, validation(field, "must be at most 2000 bytes")
		}
	}
	if c.UserID != "" {
		if _, err := s.orgUser(ctx, a, c.UserID); err != nil {
			return c, validation("user_id", fmt.Sprintf("%q is not a user of this organisation", c.UserID))
		}
	}
	action := "contact.update"
	if c.ID == "" {
		c.ID, c.CreatedAt, action = newID(), s.n.now().UTC(), "contact.create"
	} else {
		old, err := s.orgContact(ctx, a, c.ID)
		if err != nil {
			return c, err
		}
		c.CreatedAt = old.CreatedAt
	}
	if err := s.propose(ctx, a, storage.Change{Op: storage.OpPutContact, Contact: &c, Existing: action == "contact.update"}); err != nil {
		return c, err
	}
	return c, s.n.audit(ctx, actorID(a), action, c.ID, map[string]string{"name": c.Name})
}

var phoneRE = regexp.MustCompile(`^\+?[0-9 ()\-./]{3,32}$`)

func (s *admin) DeleteContact(ctx context.Context, a web.Actor, id string) error {
	c, err := s.orgContact(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.propose(ctx, a, storage.Change{Op: storage.OpDelContact, ID: id}); err != nil {
		return err
	}
	return s.n.audit(ctx, actorID(a), "contact.delete", id, map[string]string{"name": c.Name})
}

// ReadBarrier makes the store's next reads linearizable (raft.ReadBarrier).
func (s *admin) ReadBarrier(ctx context.Context) error {
	return s.n.raft.ReadBarrier(ctx)
}

// propose commits changes through Raft on behalf of the actor.
func (s *admin) propose(ctx context.Context, a web.Actor, changes ...storage.Change) error {
	return s.n.raft.Propose(ctx, storage.Command{Changes: changes, At: s.n.now().UTC(), ActorID: actorID(a)})
}

// checkRoles refuses roles the organisation does not define.
func (s *admin) checkRoles(ctx context.Context, orgID string, roles []string) error {
	defined, err := s.n.store.Roles(ctx, orgID)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if !slices.ContainsFunc(defined, func(d storage.Role) bool { return d.Name == r }) {
			return validation("roles", fmt.Sprintf("%q is not a role of this organisation", r))
		}
	}
	return nil
}

// checkLockout refuses a change to a user after which nobody active could
// administer the organisation's policies.
func (s *admin) checkLockout(ctx context.Context, orgID string, changes []storage.Change, u storage.User) error {
	rules, err := s.n.store.Policy(ctx, orgID)
	if err != nil {
		return err
	}
	for _, ch := range changes {
		switch ch.Op {
		case storage.OpAddPolicy:
			rules = append(rules, ch.Rules...)
		case storage.OpRemovePolicy:
			rules = slices.DeleteFunc(rules, func(r storage.PolicyRule) bool {
				return slices.ContainsFunc(ch.Rules, func(x storage.PolicyRule) bool { return sameRule(r, x) })
			})
		}
	}
	users, err := s.n.store.Users(ctx, orgID)
	if err != nil {
		return err
	}
	var active []string
	for _, x := range users {
		if x.ID == u.ID {
			x = u
		}
		if x.Active {
			active = append(active, x.ID)
		}
	}
	return policy.CheckLockout(orgID, rules, active)
}

func sameRule(a, b storage.PolicyRule) bool {
	return a.OrgID == b.OrgID && a.PType == b.PType && slices.Equal(a.V, b.V)
}

func (s *admin) orgUser(ctx context.Context, a web.Actor, id string) (storage.User, error) {
	u, err := s.n.store.User(ctx, id)
	if err == nil && u.OrgID != a.OrgID {
		err = fmt.Errorf("user %s: %w", id, storage.ErrNotFound)
	}
	return u, err
}

func (s *admin) orgTeam(ctx context.Context, a web.Actor, id string) (storage.Team, error) {
	t, err := s.n.store.Team(ctx, id)
	if err == nil && t.OrgID != a.OrgID {
		err = fmt.Errorf("team %s: %w", id, storage.ErrNotFound)
	}
	return t, err
}

func (s *admin) orgLabelGroup(ctx context.Context, a web.Actor, id string) (storage.LabelGroup, error) {
	gs, err := s.n.store.LabelGroups(ctx, a.OrgID)
	if err != nil {
		return storage.LabelGroup{}, err
	}
	for _, g := range gs {
		if g.ID == id {
			return g, nil
		}
	}
	return storage.LabelGroup{}, fmt.Errorf("label group %s: %w", id, storage.ErrNotFound)
}

func (s *admin) orgLabel(ctx context.Context, a web.Actor, id string) (storage.Label, error) {
	ls, err := s.n.store.Labels(ctx, a.OrgID)
	if err != nil {
		return storage.Label{}, err
	}
	for _, l := range ls {
		if l.ID == id {
			return l, nil
		}
	}
	return storage.Label{}, fmt.Errorf("label %s: %w", id, storage.ErrNotFound)
}

func (s *admin) orgContact(ctx context.Context, a web.Actor, id string) (storage.Contact, error) {
	c, err := s.n.store.Contact(ctx, id)
	if err == nil && c.OrgID != a.OrgID {
		err = fmt.Errorf("contact %s: %w", id, storage.ErrNotFound)
	}
	return c, err
}

func assignments(orgID, userID string, roles []string) []storage.PolicyRule {
	var out []storage.PolicyRule
	for _, r := range roles {
		out = append(out, policy.Assign(orgID, userID, r))
	}
	return out
}

// minus returns the elements of a not in b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func normEmail(field, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || len(s) > 254 {
		return "", validation(field, fmt.Sprintf("%q is not an e-mail address", s))
	}
	return s, nil
}

func checkName(field, s string) error {
	switch {
	case s == "":
		return validation(field, "is required")
	case len(s) > 200:
		return validation(field, "must be at most 200 bytes")
	}
	return checkNameChars(field, s)
}

func actorID(a web.Actor) string {
	if a.Local {
		return "cli"
	}
	return a.UserID
}

// audit appends an event to the local audit log; it is on disk before the
// request is answered.
func (n *Node) audit(ctx context.Context, actor, action, target string, detail any) error {
	var b []byte
	if detail != nil {
		var err error
		if b, err = json.Marshal(detail); err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
	}
	e := storage.AuditEvent{
		ID: newID(), OrgID: n.orgID, SiteID: n.siteID, At: n.now().UTC(),
		ActorID: actor, Action: action, Target: target, Detail: string(b),
	}
	if err := n.store.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
