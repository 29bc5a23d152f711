package client

import (
	"context"

	"siteline/media/signal"
)

// Signaler carries signaling messages between the client and the SFU: a
// WebSocket in production, a direct in-process connection in tests. Send
// may be called from several goroutines; Recv from one. Recv returns an
// error once the connection is closed.
type Signaler interface {
	Send(ctx context.Context, m signal.Message) error
	Recv(ctx context.Context) (signal.Message, error)
	Close() error
}
