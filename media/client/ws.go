package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"siteline/media/signal"
)

// WSOptions are the credentials and settings of a WebSocket signaler.
type WSOptions struct {
	// Token is an API token sent as "Authorization: Bearer".
	Token string
	// Cookie is a session cookie ("name=value"); Origin should then be the
	// node's own origin, which the node checks.
	Cookie string
	Origin string
	// TLS configures https/wss; nil uses the system roots.
	TLS *tls.Config
	// MaxSize is the largest message accepted; 0 means signal.DefaultMaxSize.
	MaxSize int
}

// WS is a Signaler over the node's signaling WebSocket. One goroutine
// writes, serialised by a mutex; Recv is called from one goroutine.
type WS struct {
	conn    *websocket.Conn
	maxSize int

	wmu    sync.Mutex
	once   sync.Once
	closed chan struct{}
}

// HandshakeError is a refused WebSocket upgrade: the HTTP status and body
// (the node's JSON error naming any missing permission).
type HandshakeError struct {
	Status int
	Body   string
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("websocket upgrade refused: %d %s", e.Status, e.Body)
}

// DialWS opens the signaling WebSocket at rawURL (http, https, ws or wss).
func DialWS(ctx context.Context, rawURL string, opts WSOptions) (*WS, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("dial signaling %s: %w", rawURL, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	h := http.Header{}
	if opts.Token != "" {
		h.Set("Authorization", "Bearer "+opts.Token)
	}
	if opts.Cookie != "" {
		h.Set("Cookie", opts.Cookie)
	}
	if opts.Origin != "" {
		h.Set("Origin", opts.Origin)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: opts.TLS}
	conn, resp, err := d.DialContext(ctx, u.String(), h)
	if err != nil {
		if resp != nil {
			var body strings.Builder
			if resp.Body != nil {
				buf := make([]byte, 4096)
				n, _ := resp.Body.Read(buf)
				body.Write(buf[:n])
				resp.Body.Close()
			}
			return nil, fmt.Errorf("dial signaling %s: %w", u.Redacted(), &HandshakeError{Status: resp.StatusCode, Body: body.String()})
		}
		return nil, fmt.Errorf("dial signaling %s: %w", u.Redacted(), err)
	}
	max := opts.MaxSize
	if max == 0 {
		max = signal.DefaultMaxSize
	}
	conn.SetReadLimit(int64(4 * max))
	conn.SetPingHandler(nil) // answers pings with pongs
	return &WS{conn: conn, maxSize: max, closed: make(chan struct{})}, nil
}

// Send writes one message.
func (w *WS) Send(ctx context.Context, m signal.Message) error {
	data, err := signal.Encode(m)
	if err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return w.SendRaw(ctx, data)
}

// SendRaw writes bytes as one text message, for tests of the protocol.
func (w *WS) SendRaw(ctx context.Context, data []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	_ = w.conn.SetWriteDeadline(deadline)
	if err := w.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("send on signaling socket: %w", err)
	}
	return nil
}

// Recv reads the next message. Messages the client cannot decode are
// skipped; an error means the socket is closed.
func (w *WS) Recv(ctx context.Context) (signal.Message, error) {
	for {
		_, data, err := w.conn.ReadMessage()
		if err != nil {
			return signal.Message{}, fmt.Errorf("receive on signaling socket: %w", err)
		}
		m, err := signal.Decode(data, w.maxSize)
		if err != nil {
			continue
		}
		return m, nil
	}
}

// Close sends a close frame and closes the socket.
func (w *WS) Close() error {
	var err error
	w.once.Do(func() {
		close(w.closed)
		_ = w.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		err = w.conn.Close()
	})
	return err
}
