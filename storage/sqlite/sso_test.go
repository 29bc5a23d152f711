package sqlite

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"siteline/storage"
)

func TestSSOSettingsApplySnapshot(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())

	if got, err := s.SSOSettings(ctx, "o1"); err != nil || got.Enabled() || got.OrgID != "o1" {
		t.Fatalf("settings never set = %+v, %v; want none", got, err)
	}
	own := storage.SSOSettings{OrgID: "o1", Company: "Acme",
		OIDC:       &storage.OIDCConfig{Issuer: "https://login.acme.test", ClientID: "c", ClientSecret: "s", AuthURL: "https://login.acme.test/auth", TokenURL: "https://login.acme.test/token", JWKS: `{"keys":[]}`},
		Mapping:    []storage.SSOMapping{{Group: "admins", Roles: []string{"administrator"}, Teams: []string{"t1"}}},
		RequireSSO: true, BreakGlassUserID: "u1", SCIMTokenHash: hashOf("scim_secret"), UpdatedAt: t0.UTC()}
	mustApply(t, s, 2, viaJSON(t, cmd(storage.Change{Op: storage.OpPutSSOSettings, SSOSettings: &own})))
	if got, err := s.SSOSettings(ctx, "o1"); err != nil || !reflect.DeepEqual(got, own) {
		t.Fatalf("settings = %+v, %v; want %+v", got, err, own)
	}

	// Every node refuses the same bad settings, and they change nothing.
	bad := own
	bad.BreakGlassUserID = "u9" // of the other organisation
	if err := s.Apply(ctx, 3, cmd(storage.Change{Op: storage.OpPutSSOSettings, SSOSettings: &bad})); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("break-glass user of another organisation: %v", err)
	}
	if got, _ := s.SSOSettings(ctx, "o1"); !reflect.DeepEqual(got, own) {
		t.Errorf("a refused change changed the settings: %+v", got)
	}

	var buf bytes.Buffer
	if err := s.Snapshot(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	dst, _ := openTestStore(t)
	if err := dst.Restore(ctx, &buf); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got, err := dst.SSOSettings(ctx, "o1"); err != nil || !reflect.DeepEqual(got, own) {
		t.Errorf("restored settings = %+v, %v; want %+v", got, err, own)
	}
}

func TestConsumeAssertion(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	if err := s.ConsumeAssertion(ctx, "id-1", until); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeAssertion(ctx, "id-1", until); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("second use of an assertion: %v, want a conflict", err)
	}
	// An expired record is dropped: its id may come again (the assertion
	// itself is refused by its own expiry).
	if err := s.ConsumeAssertion(ctx, "id-2", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeAssertion(ctx, "id-2", until); err != nil {
		t.Fatalf("an expired record still refuses: %v", err)
	}
}
