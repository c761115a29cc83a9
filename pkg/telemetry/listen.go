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
	gate        connGate
}

var _ listeners.Listener = (*tcpListener)(nil)

func newTCPListener(id, address string, tc *tls.Config) *tcpListener {
	return &tcpListener{id: id, address: address, tlsConf: tc}
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
		if !l.gate.enter(conn) {
			continue // draining: enter closed it
		}
		go func() {
			defer l.gate.leave(conn)
			if err := establish(l.id, conn); err != nil {
				l.log.Debug("telemetry: mqtt client", slog.Any("err", err))
			}
		}()
	}
}

// stopAccepting closes the socket; Serve returns.
func (l *tcpListener) stopAccepting() {
	if l.closed.CompareAndSwap(false, true) && l.ln != nil {
		l.ln.Close()
	}
}

// Close stops accepting and closes every connection, also those that have
// not sent CONNECT yet (mochi's Close waits for all of them).
func (l *tcpListener) Close(closeClients listeners.CloseFn) {
	l.stopAccepting()
	closeClients(l.id)
	l.gate.closeAll()
}

// connGate tracks the connections handed to mochi's establish function so
// that Telemetry.Close can end them all, and wait for their goroutines to
// return, before it calls mochi's Server.Close: mochi reads server state in
// EstablishConnection without a lock, so a connection accepted while the
// server closes is a data race inside mochi unless no establish call is in
// flight by then.
type connGate struct {
	mu     sync.Mutex
	closed bool                  // guarded by mu; enter refuses once set
	conns  map[net.Conn]struct{} // in establish; guarded by mu
	wg     sync.WaitGroup        // one per conn in establish
}

// enter registers c before it is handed to establish. It reports false,
// and closes c, once the gate is draining.
func (g *connGate) enter(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		c.Close()
		return false
	}
	if g.conns == nil {
		g.conns = map[net.Conn]struct{}{}
	}
	g.conns[c] = struct{}{}
	g.wg.Add(1)
	return true
}

// leave is called when establish has returned for c.
func (g *connGate) leave(c net.Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	g.wg.Done()
}

// closeAll refuses new connections and closes the current ones.
func (g *connGate) closeAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for c := range g.conns {
		c.Close()
	}
}

// drain is closeAll, then waits until every establish call has returned.
func (g *connGate) drain() {
	g.closeAll()
	g.wg.Wait()
}
