package sqlite

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"siteline/storage"
)

// The mail outbox keeps a pending e-mail until an attempt sends it; a new
// e-mail about the same thing cancels the pending one; cancelled e-mails
// lose their sealed message and cannot be recorded as sent afterwards; a
// reopened store still has everything.
func TestMailOutboxLifecycle(t *testing.T) {
	s, path := openTestStore(t)
	ctx := context.Background()
	mail := func(id, ref string, due time.Time) storage.MailDelivery {
		return storage.MailDelivery{ID: id, OrgID: "o1", Kind: storage.MailMemberInvitation, RefID: ref,
			Recipient: ref + "@plant.example", NextAttemptAt: due, Sealed: []byte("sealed " + id), CreatedAt: due}
	}
	// Bad input is refused and writes nothing.
	bad := mail("m0", "nina", t0)
	bad.Sealed = nil
	var ve *storage.ValidationError
	if err := s.QueueMail(ctx, bad); !errors.As(err, &ve) || ve.Field != "mail.sealed" {
		t.Fatalf("queue without a message = %v, want a validation error naming mail.sealed", err)
	}
	bad = mail("m0", "nina", t0)
	bad.Kind = "newsletter"
	if err := s.QueueMail(ctx, bad); err == nil {
		t.Fatal("a mail of an unknown kind was queued")
	}

	for _, m := range []storage.MailDelivery{mail("m1", "nina", t0), mail("m2", "otto", t0.Add(time.Minute))} {
		if err := s.QueueMail(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	due, err := s.DueMails(ctx, t0, 10)
	if err != nil || len(due) != 1 || due[0].ID != "m1" || string(due[0].Sealed) != "sealed m1" || due[0].Status != storage.DeliveryPending {
		t.Fatalf("due at t0 = %+v, %v; want m1 alone, pending, with its message", due, err)
	}
	// A failed attempt: pending again, later.
	m1 := due[0]
	m1.Attempts, m1.LastError, m1.NextAttemptAt = 1, "451 mailbox busy", t0.Add(30*time.Second)
	if err := s.UpdateMail(ctx, m1); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueMails(ctx, t0.Add(10*time.Second), 10); len(due) != 0 {
		t.Fatalf("due before the retry = %+v", due)
	}
	// A new link for nina: m1 is cancelled, m3 replaces it.
	if err := s.QueueMail(ctx, mail("m3", "nina", t0.Add(20*time.Second))); err != nil {
		t.Fatal(err)
	}
	got, err := s.Mails(ctx, storage.MailMemberInvitation, []string{"nina"})
	if err != nil || len(got) != 2 || got[0].ID != "m3" || got[1].ID != "m1" {
		t.Fatalf("nina's mails = %+v, %v; want m3 then m1", got, err)
	}
	if got[1].Status != storage.DeliveryCancelled || got[1].Sealed != nil || got[1].LastError != "451 mailbox busy" {
		t.Fatalf("the replaced mail = %+v, want cancelled without its message, its last error kept", got[1])
	}
	m1.Status, m1.Attempts = storage.DeliverySent, 2
	if err := s.UpdateMail(ctx, m1); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("recording a cancelled mail as sent = %v, want ErrConflict", err)
	}
	if err := s.UpdateMail(ctx, mail("m9", "nobody", t0)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("update of an unknown mail = %v, want ErrNotFound", err)
	}
	// Sent: no longer due, its message erased.
	sentAt := t0.Add(time.Minute)
	m3 := got[0]
	m3.Status, m3.Attempts, m3.Sealed, m3.SentAt = storage.DeliverySent, 1, nil, &sentAt
	if err := s.UpdateMail(ctx, m3); err != nil {
		t.Fatal(err)
	}
	// Revoked: otto's pending mail is cancelled.
	if err := s.CancelMails(ctx, storage.MailMemberInvitation, "otto"); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueMails(ctx, t0.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("due after sending and cancelling = %+v", due)
	}

	s.Close()
	s2, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	all, err := s2.Mails(ctx, storage.MailMemberInvitation, []string{"nina", "otto"})
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	var sent storage.MailDelivery
	for _, m := range all {
		status[m.ID] = m.Status
		if m.ID == "m3" {
			sent = m
		}
	}
	want := map[string]string{"m1": storage.DeliveryCancelled, "m2": storage.DeliveryCancelled, "m3": storage.DeliverySent}
	if !reflect.DeepEqual(status, want) {
		t.Fatalf("after reopening: %v, want %v", status, want)
	}
	if sent.SentAt == nil || !sent.SentAt.Equal(sentAt) || sent.Sealed != nil {
		t.Fatalf("the sent mail after reopening = %+v", sent)
	}
}
