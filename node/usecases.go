package node

import (
	"context"

	"siteline/cluster/history"
	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/node/attachments"
	"siteline/node/calls"
	"siteline/node/internal/usecase"
	"siteline/node/invites"
	"siteline/storage"
	"siteline/web"
)

// The wiring of the use cases that live in packages of their own
// (node/invites, node/attachments): each is built from its dependencies,
// none holds the node.

// mediaDir is the blob store's directory inside the data directory.
const mediaDir = "media"

// outboxKeyFile is the key of the invitation outbox, in the data
// directory.
const outboxKeyFile = "invite-outbox.key"

// openBlobs starts the transfer of forwarded media over the blob store
// (openMediaStore).
func (n *Node) openBlobs() error {
	// The transfer opens blobs, fetching those of forwarded media from
	// their origin node first, serves this node's to the others and, with
	// media.copy_from_sites: always, copies every forwarded one.
	t, err := history.StartTransfer(history.TransferConfig{
		NodeID:     n.nodeID,
		Bus:        n.bus,
		Blobs:      n.blobs,
		CopyAlways: n.cfg.Media.CopyFromSites == copyAlways,
		Store:      n.hist,
		Logger:     n.log,
	})
	if err != nil {
		return err
	}
	n.transfer = t
	n.onStop("media transfer", func(context.Context) error {
		t.Stop() // its copier, if any, and its chunk answers
		return nil
	})
	return nil
}

// startAttachments builds the session media service on the blob store and
// the call service.
func (n *Node) startAttachments() {
	n.sessionMedia = attachments.New(attachments.Deps{
		Store:     n.hist,
		Blobs:     n.blobs,
		Open:      n.transfer,
		Authz:     n.authz,
		Calls:     callsPort{cs: n.calls, sfu: n.sfu},
		Now:       n.now,
		MaxUpload: n.cfg.Media.MaxUpload,
		SiteID:    n.siteID,
	})
}

// startMediaSweep removes the bytes of deleted media, here and those of
// deletions applied from other sites' history, and orphan blobs, until
// the node's lifetime ends.
func (n *Node) startMediaSweep() {
	sw := &attachments.Sweeper{Store: n.hist, Blobs: n.blobs, Notify: n.hist.DeletionNotify(),
		Every: n.cfg.Media.SweepEvery, Grace: n.cfg.Media.SweepGrace,
		Log: n.log.With("component", "media-sweep")}
	n.background(sw.Run)
}

// startInvites builds the invitation service and its outbox.
func (n *Node) startInvites() error {
	m := n.cfg.Mail
	svc, err := invites.New(invites.Config{
		OrgID:                n.orgID,
		SiteID:               n.siteID,
		EmailsPerUserPerHour: n.cfg.Invite.EmailsPerUserPerHour,
		EmailsPerOrgPerHour:  n.cfg.Invite.EmailsPerOrgPerHour,
		OutboxKeyPath:        n.cfg.path(outboxKeyFile),
		Mail: invites.SMTPConfig{Host: m.SMTPHost, Port: m.SMTPPort, Username: m.Username, Password: m.Password,
			From: m.From, TLS: m.TLS},
		SMSProvider:   n.cfg.SMS.Provider,
		SMSWebhookURL: n.cfg.SMS.WebhookURL,
	}, invites.Deps{
		Store:  n.store,
		Calls:  callsPort{cs: n.calls, sfu: n.sfu},
		Ring:   invites.RingFunc(n.ring.Ring),
		Queue:  n.queue.Load(),
		Rules:  n.authz,
		Audit:  usecase.Auditor{Store: n.store, OrgID: n.orgID, SiteID: n.siteID, Now: n.now},
		URL:    n.URL,
		Now:    n.now,
		Logger: n.log,
	})
	if err != nil {
		return err
	}
	n.invites = svc
	return nil
}

// startDeliveries runs the invitation outbox until the node's lifetime
// ends; stop waits for it.
func (n *Node) startDeliveries() {
	if n.invites == nil {
		return
	}
	n.background(n.invites.RunOutbox)
}

// callsPort is the call service, and the SFU it runs calls on, as the use
// cases in packages of their own ask for them.
type callsPort struct {
	cs  *calls.Service
	sfu func() (*sfu.SFU, error)
}

func (p callsPort) OpenCall(ctx context.Context, a web.Actor, id string) (storage.Session, error) {
	return p.cs.OpenCall(ctx, a, id)
}

func (p callsPort) MayRead(ctx context.Context, a web.Actor, s storage.Session) error {
	return p.cs.MayRead(ctx, a, s)
}

func (p callsPort) Room(callID string) (attachments.Room, error) {
	s, err := p.sfu()
	if err != nil {
		return nil, err
	}
	if r := s.Room(callID); r != nil {
		return r, nil
	}
	return nil, nil
}

func (p callsPort) Broadcast(callID string, m signal.Message) {
	if s, err := p.sfu(); err == nil {
		s.Broadcast(callID, m)
	}
}
