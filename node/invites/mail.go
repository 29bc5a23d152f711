package invites

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"siteline/storage"
)

// The mail outbox: the e-mails this node sends besides guest invitations
// (member activation links, node/org) go through the same sender, the same
// backoff and the same sealing as invitation deliveries. An e-mail is on
// disk before QueueMail returns, so a failed or interrupted send is
// retried, and a crash loses nothing the administrator was told of.

// Mail is one e-mail about something (Kind and RefID, storage.Mail*).
type Mail struct {
	OrgID, Kind, RefID  string
	To                  string
	Subject, Text, HTML string
}

// sealedMail is the message of a pending e-mail, as sealed in the outbox.
type sealedMail struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// QueueMail writes m to the outbox, cancelling the pending e-mail about
// the same thing (its link was replaced), and attempts it once. The
// delivery it returns says how that attempt went: sent, or pending with
// the error and the time of the next attempt.
func (s *Service) QueueMail(ctx context.Context, m Mail) (storage.MailDelivery, error) {
	if err := s.d.configured("email"); err != nil {
		return storage.MailDelivery{}, err
	}
	body, err := json.Marshal(sealedMail{Subject: m.Subject, Text: m.Text, HTML: m.HTML})
	if err != nil {
		return storage.MailDelivery{}, err
	}
	sealed, err := s.d.sealBytes(body)
	if err != nil {
		return storage.MailDelivery{}, err
	}
	now := s.now().UTC()
	del := storage.MailDelivery{ID: newID(), OrgID: m.OrgID, Kind: m.Kind, RefID: m.RefID, Recipient: m.To,
		Status: storage.DeliveryPending, NextAttemptAt: now, Sealed: sealed, CreatedAt: now}
	s.d.claim(del.ID) // a new id: the outbox leaves it to the attempt below
	defer s.d.release(del.ID)
	if err := s.store.QueueMail(ctx, del); err != nil {
		return storage.MailDelivery{}, err
	}
	return s.d.attemptMail(ctx, del, message{subject: m.Subject, text: m.Text, html: m.HTML}), nil
}

// CancelMail cancels the pending e-mails of kind about refID (a revoked
// invitation's).
func (s *Service) CancelMail(ctx context.Context, kind, refID string) error {
	return s.store.CancelMails(ctx, kind, refID)
}

// Mails lists the e-mails of kind about refIDs, newest first.
func (s *Service) Mails(ctx context.Context, kind string, refIDs []string) ([]storage.MailDelivery, error) {
	return s.store.Mails(ctx, kind, refIDs)
}

// attemptMail sends an e-mail of the outbox once and records the outcome.
// An e-mail cancelled while it was being sent stays cancelled.
func (d *deliverer) attemptMail(ctx context.Context, del storage.MailDelivery, msg message) storage.MailDelivery {
	err := d.send(ctx, "email", del.Recipient, msg)
	del.Attempts++
	o := d.outcome(del.Attempts, err)
	del.Status, del.LastError, del.SentAt = o.status, o.lastError, o.sentAt
	if o.status != storage.DeliveryPending {
		del.Sealed = nil
	} else {
		del.NextAttemptAt = o.next
	}
	if err != nil {
		d.log.Warn("e-mail not sent", "mail", del.ID, "kind", del.Kind, "attempt", del.Attempts, "status", del.Status, "err", err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if uerr := d.store.UpdateMail(wctx, del); errors.Is(uerr, storage.ErrConflict) {
		del.Status, del.Sealed = storage.DeliveryCancelled, nil
	} else if uerr != nil {
		d.log.Error("record e-mail attempt", "mail", del.ID, "err", uerr)
	}
	return del
}

// retryMails attempts every e-mail of the outbox whose next attempt is
// due and that is still pending.
func (s *Service) retryMails(ctx context.Context) {
	due, err := s.store.DueMails(ctx, s.now(), 50)
	if err != nil {
		s.log.Warn("mail outbox", "err", err)
		return
	}
	retryEach(s.d, due, func(m storage.MailDelivery) string { return m.ID }, func(m storage.MailDelivery) { s.retryMail(ctx, m) })
}

func (s *Service) retryMail(ctx context.Context, del storage.MailDelivery) {
	now, err := s.store.Mails(ctx, del.Kind, []string{del.RefID})
	if err != nil {
		s.log.Warn("mail outbox", "mail", del.ID, "err", err)
		return
	}
	i := slices.IndexFunc(now, func(m storage.MailDelivery) bool { return m.ID == del.ID })
	if i < 0 || now[i].Status != storage.DeliveryPending || now[i].Attempts != del.Attempts {
		return // cancelled or attempted since it was listed
	}
	var m sealedMail
	body, err := s.d.openBytes(del.Sealed)
	if err == nil {
		err = json.Unmarshal(body, &m)
	}
	if err != nil {
		del.Attempts, del.Status, del.Sealed = MaxDeliveryAttempts, storage.DeliveryFailed, nil
		del.LastError = "the message cannot be recovered (outbox key changed): send it again"
		if uerr := s.store.UpdateMail(ctx, del); uerr != nil {
			s.log.Warn("mail outbox", "mail", del.ID, "err", uerr)
		}
		return
	}
	s.d.attemptMail(ctx, del, message{subject: m.Subject, text: m.Text, html: m.HTML})
}
