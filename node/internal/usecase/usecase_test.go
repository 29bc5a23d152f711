package usecase

import (
	"context"
	"errors"
	"testing"
	"time"

	"siteline/storage"
	"siteline/web"
)

type appender struct {
	got []storage.AuditEvent
	err error
}

func (a *appender) AppendAudit(_ context.Context, e storage.AuditEvent) error {
	a.got = append(a.got, e)
	return a.err
}

func TestAuditorWritesTheEvent(t *testing.T) {
	at := time.Date(2030, 1, 1, 8, 0, 0, 0, time.FixedZone("CET", 3600))
	st := &appender{}
	au := Auditor{Store: st, OrgID: "o1", SiteID: "s1", Now: func() time.Time { return at }}
	if err := au.Audit(context.Background(), "u1", "invitation.create", "i1", map[string]string{"to": "a@b.c"}); err != nil {
		t.Fatal(err)
	}
	e := st.got[0]
	if e.ID == "" || e.OrgID != "o1" || e.SiteID != "s1" || !e.At.Equal(at) || e.At.Location() != time.UTC ||
		e.ActorID != "u1" || e.Action != "invitation.create" || e.Target != "i1" || e.Detail != `{"to":"a@b.c"}` {
		t.Fatalf("event = %+v", e)
	}
	st.err = errors.New("disk full")
	if err := au.Audit(context.Background(), "u1", "invitation.revoke", "i1", nil); err == nil || err.Error() != "audit invitation.revoke: disk full" {
		t.Fatalf("failed append = %v", err)
	}
	if st.got[1].Detail != "" {
		t.Fatalf("nil detail kept as %q", st.got[1].Detail)
	}
}

func TestActors(t *testing.T) {
	if ActorID(web.Actor{Local: true, UserID: "x"}) != "cli" || ActorID(web.Actor{UserID: "u1"}) != "u1" {
		t.Fatal("actor ids")
	}
	if !IsGuest(web.Actor{UserID: web.GuestIDPrefix + "g"}) || !IsGuest(web.Actor{UserID: "u", CallID: "c"}) || IsGuest(web.Actor{UserID: "u"}) {
		t.Fatal("guests")
	}
}
