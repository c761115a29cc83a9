package telemetry

import (
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// connectTimeout bounds the time from accept (and TLS handshake) to the
// CONNECT packet. mochi sets no deadline before CONNECT, so a client that
// connects and stays silent would pin a goroutine forever and make Close
// wait for it; after CONNECT mochi replaces the deadline by the keepalive.
const connectTimeout = 10 * time.Second

// tcpListener is MQTT over TCP, optionally TLS: mochi's listeners.TCP with
// the connect deadline added.
type tcpListener struct {
	id, address string
	tlsConf     *tls.Config
	ln          net.Listener
	log         *slog.Logger
	closed      atomic.Bool

	mu    sync.Mutex
	conns map[net.Conn]struct{} // accepted and not yet finished; guarded by mu
}

var _ listeners.Listener = (*tcpListener)(nil)

func newTCPListener(id, address string, tc *tls.Config) *tcpListener {
	return &tcpListener{id: id, address: address, tlsConf: tc, conns: map[net.Conn]struct{}{}}
}

func (l *tcpListener) ID() string { return l.id }

func (l *tcpListener) Protocol() string {
	if l.tlsConf != nil {
		return "tls"
	}
	return "tcp"
}

func (l *tcpListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

func (l *tcpListener) Init(log *slog.Logger) error {
	l.log = log
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return err
	}
	if l.tlsConf != nil {
		ln = tls.NewListener(ln, l.tlsConf)
	}
	l.ln = ln
	return nil
}

func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if !l.closed.Load() {
				l.log.Error("telemetry: accept", slog.Any("err", err))
			}
			return
		}
		conn.SetDeadline(time.Now().Add(connectTimeout))
		l.mu.Lock()
		l.conns[conn] = struct{}{}
		l.mu.Unlock()
		go func() {
			if err := establish(l.id, conn); err != nil {
				l.log.Debug("telemetry: mqtt client", slog.Any("err", err))
			}
			l.mu.Lock()
			delete(l.conns, conn)
			l.mu.Unlock()
		}()
	}
}

// Close stops accepting and closes every connection, also those that have
// not sent CONNECT yet (mochi's Close waits for all of them).
func (l *tcpListener) Close(closeClients listeners.CloseFn) {
	if l.closed.CompareAndSwap(false, true) && l.ln != nil {
		l.ln.Close()
	}
	closeClients(l.id)
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
}
