package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"siteline/policy"
	"siteline/storage"
)

// InitialPasswordFile is where the first administrator's generated
// password is kept, readable by the data directory's owner only.
const InitialPasswordFile = "initial-admin-password"

// bootstrap makes a brand-new node usable: on first start it creates the
// organisation, its site, the built-in roles, the default policy and an
// administrator with a generated password, all in one replicated command.
// On later starts it only reads which organisation and site it serves.
func (n *Node) bootstrap(ctx context.Context) error {
	orgID, err := n.meta(ctx, "org_id")
	if err != nil {
		return err
	}
	if orgID == "" {
		orgs, err := n.store.Orgs(ctx)
		if err != nil {
			return err
		}
		if len(orgs) == 0 {
			if n.fedSetup.Joined {
				return errors.New("this node joined a federation but holds no organisation yet")
			}
			return n.firstStart(ctx)
		}
		orgID = orgs[0].ID // the command committed but the node stopped before noting it
		if err := n.store.SetMeta(ctx, "org_id", orgID); err != nil {
			return err
		}
	}
	n.orgID = orgID
	if n.siteID, err = n.meta(ctx, "site_id"); err != nil || n.siteID != "" {
		return err
	}
	return n.ensureSite(ctx)
}

func (n *Node) meta(ctx context.Context, key string) (string, error) {
	v, err := n.store.Meta(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	return v, err
}

func (n *Node) firstStart(ctx context.Context) error {
	now := n.now().UTC()
	org := storage.Org{ID: newID(), Name: n.cfg.Organisation.Name, CreatedAt: now}
	site := storage.Site{ID: newID(), OrgID: org.ID, Name: n.cfg.Node.Site, CreatedAt: now}
	password := GeneratePassword()
	hash, err := n.passwords.Hash(password)
	if err != nil {
		return err
	}
	admin := storage.User{
		ID: newID(), OrgID: org.ID, Email: strings.ToLower(n.cfg.Organisation.AdminEmail),
		Name: n.cfg.Organisation.AdminName, Kind: storage.UserRegular, Active: true,
		CreatedAt: now, UpdatedAt: now,
	}
	changes := []storage.Change{
		{Op: storage.OpPutOrg, Org: &org},
		{Op: storage.OpPutSite, Site: &site},
	}
	for _, r := range policy.DefaultRoles(org.ID) {
		changes = append(changes, storage.Change{Op: storage.OpPutRole, Role: &r})
	}
	rules := append(policy.DefaultPolicy(org.ID), policy.Assign(org.ID, admin.ID, policy.RoleAdministrator))
	changes = append(changes,
		storage.Change{Op: storage.OpReplacePolicy, OrgID: org.ID, Rules: rules},
		storage.Change{Op: storage.OpPutUser, User: &admin, PasswordHash: hash},
	)
	if err := n.raft.Propose(ctx, storage.Command{Changes: changes, At: now, ActorID: "system"}); err != nil {
		return fmt.Errorf("create organisation: %w", err)
	}
	for k, v := range map[string]string{"org_id": org.ID, "site_id": site.ID} {
		if err := n.store.SetMeta(ctx, k, v); err != nil {
			return err
		}
	}
	n.orgID, n.siteID = org.ID, site.ID
	file := n.cfg.path(InitialPasswordFile)
	if err := os.WriteFile(file, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("store initial password: %w", err)
	}
	if err := n.firstPassword.Mark(ctx, admin.ID); err != nil {
		return err
	}
	if err := n.audit(ctx, "system", "org.create", org.ID, map[string]string{"name": org.Name, "site": site.Name, "admin": admin.Email}); err != nil {
		return err
	}
	fmt.Fprintf(n.opts.Stdout, "Created organisation %q with site %q.\n", org.Name, site.Name)
	fmt.Fprintf(n.opts.Stdout, "Administrator: %s\nPassword:      %s\n(shown once; also stored in %s, readable by you only,\nuntil the first login, which asks for a new password)\n", admin.Email, password, file)
	return nil
}

// ensureSite creates this node's site in its organisation when missing.
func (n *Node) ensureSite(ctx context.Context) error {
	sites, err := n.store.Sites(ctx, n.orgID)
	if err != nil {
		return err
	}
	for _, s := range sites {
		if s.Name == n.cfg.Node.Site {
			n.siteID = s.ID
			return n.store.SetMeta(ctx, "site_id", s.ID)
		}
	}
	site := storage.Site{ID: newID(), OrgID: n.orgID, Name: n.cfg.Node.Site, CreatedAt: n.now().UTC()}
	if err := n.raft.Propose(ctx, storage.Command{Changes: []storage.Change{{Op: storage.OpPutSite, Site: &site}}, At: site.CreatedAt, ActorID: "system"}); err != nil {
		return fmt.Errorf("create site %q: %w", site.Name, err)
	}
	n.siteID = site.ID
	return n.store.SetMeta(ctx, "site_id", site.ID)
}
