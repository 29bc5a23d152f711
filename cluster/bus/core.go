package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Core NATS, for what is worth only while it is fresh (presence, a ring):
// no stream keeps it, whoever listens now hears it, across leaf links by
// subject interest.

// ErrNoListener is returned by Ask when nobody serves the subject (or
// the link to whoever did is down).
var ErrNoListener = errors.New("nobody answers on the bus")

// Notify publishes data on subject, best effort.
func (b *Bus) Notify(subject string, data []byte) error {
	nc := b.Conn()
	if nc == nil {
		return errors.New("bus not started")
	}
	return nc.Publish(subject, data)
}

// Serve hands every message on subject (wildcards allowed) to handle; a
// request gets handle's reply when it is not nil. stop unsubscribes.
func (b *Bus) Serve(subject string, handle func(subject string, data []byte) []byte) (stop func(), err error) {
	nc := b.Conn()
	if nc == nil {
		return nil, errors.New("bus not started")
	}
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		reply := handle(m.Subject, m.Data)
		if reply != nil && m.Reply != "" {
			_ = m.Respond(reply)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("serve %s: %w", subject, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// Ask sends a request on subject and waits for its reply until ctx ends.
func (b *Bus) Ask(ctx context.Context, subject string, data []byte) ([]byte, error) {
	nc := b.Conn()
	if nc == nil {
		return nil, errors.New("bus not started")
	}
	m, err := nc.RequestWithContext(ctx, subject, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, ErrNoListener
	}
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}
