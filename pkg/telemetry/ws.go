package telemetry

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// wsListener is MQTT over WebSocket (subprotocol "mqtt"). It replaces
// mochi's listeners.Websocket, which binds only in Serve (so a busy port is
// merely logged and port 0 cannot be reported): this one binds in Init,
// where New sees the error.
type wsListener struct {
	id, address string
	ln          net.Listener
	hs          *http.Server
	log         *slog.Logger
	establish   listeners.EstablishFn
	upgrader    websocket.Upgrader
	closed      atomic.Bool
	gate        connGate
}

var _ listeners.Listener = (*wsListener)(nil)

func newWSListener(id, address string) *wsListener {
	return &wsListener{id: id, address: address, upgrader: websocket.Upgrader{
		Subprotocols: []string{"mqtt"},
		// Browser dashboards on any origin may connect; they still log in.
		CheckOrigin: func(*http.Request) bool { return true },
	}}
}

func (l *wsListener) ID() string       { return l.id }
func (l *wsListener) Protocol() string { return "ws" }

func (l *wsListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

func (l *wsListener) Init(log *slog.Logger) error {
	l.log = log
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return err
	}
	l.ln = ln
	l.hs = &http.Server{Handler: http.HandlerFunc(l.handle), ReadHeaderTimeout: 10 * time.Second}
	return nil
}

func (l *wsListener) Serve(establish listeners.EstablishFn) {
	l.establish = establish
	if err := l.hs.Serve(l.ln); err != nil && !l.closed.Load() {
		l.log.Error("telemetry: websocket listener", slog.Any("err", err))
	}
}

// stopAccepting closes the HTTP server and its socket; Serve returns.
func (l *wsListener) stopAccepting() {
	if l.closed.CompareAndSwap(false, true) {
		if l.hs != nil {
			l.hs.Close()
		}
		if l.ln != nil {
			l.ln.Close() // hs.Close does not know it when Serve never ran
		}
	}
}

func (l *wsListener) Close(closeClients listeners.CloseFn) {
	l.stopAccepting()
	closeClients(l.id)
	l.gate.closeAll() // hijacked connections are not the http.Server's
}

func (l *wsListener) handle(w http.ResponseWriter, r *http.Request) {
	c, err := l.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	uc := c.UnderlyingConn()
	if !l.gate.enter(uc) {
		return
	}
	defer l.gate.leave(uc)
	uc.SetDeadline(time.Now().Add(connectTimeout)) // until CONNECT, see tcpListener
	if err := l.establish(l.id, &wsConn{Conn: uc, c: c}); err != nil {
		l.log.Debug("telemetry: websocket client", slog.Any("err", err))
	}
}

var errWSText = errors.New("telemetry: websocket: text message")

// wsConn carries the MQTT byte stream in binary WebSocket messages.
type wsConn struct {
	net.Conn
	c *websocket.Conn
	r io.Reader // the current message, nil between messages
}

func (ws *wsConn) Read(p []byte) (int, error) {
	for {
		if ws.r == nil {
			op, r, err := ws.c.NextReader()
			if err != nil {
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, errWSText
			}
			ws.r = r
		}
		n, err := ws.r.Read(p)
		if errors.Is(err, io.EOF) {
			ws.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (ws *wsConn) Write(p []byte) (int, error) {
	if err := ws.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
