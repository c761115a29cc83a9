package radius

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bngbox/bngbox/pkg/mgmt"
)

// ErrNoServer is returned when no server of a role answered.
var ErrNoServer = errors.New("radius: no server answered")

var errTimeout = errors.New("radius: timeout")

// A server is one RADIUS server with its sockets and health.
type server struct {
	cfg     Server
	addr    *net.UDPAddr
	secret  []byte
	role    string
	timeout time.Duration
	log     *slog.Logger
	// requireMA makes replies without Message-Authenticator invalid
	// (Access-* replies only; see verifyResponse).
	requireMA bool

	sem chan struct{} // bounds requests in flight

	mu        sync.Mutex
	deadUntil time.Time // guarded by mu
	conns     []*conn   // guarded by mu
	closed    bool      // guarded by mu

	requests, timeouts, badAuth, unexpected atomic.Uint64
	latencySum, latencyN                    atomic.Uint64 // ns
}

// A conn is one UDP socket connected to a server: one RADIUS ID space.
type conn struct {
	s  *server
	uc *net.UDPConn
	// pending and n are guarded by s.mu.
	pending [256]*pending
	n       int
	next    byte
}

// pending is one outstanding request.
type pending struct {
	auth [16]byte    // guarded by server.mu
	ch   chan []byte // buffered 1; receives the verified reply
}

func newServer(cfg Server, addr *net.UDPAddr, role string, c *Config) *server {
	return &server{
		cfg: cfg, addr: addr, secret: []byte(cfg.Secret), role: role,
		timeout: c.Timeout, log: c.Logger.With("radius_server", cfg.Address, "role", role),
		requireMA: !c.AllowMissingReplyMessageAuthenticator,
		sem:       make(chan struct{}, c.MaxInFlight),
	}
}

// alive reports whether s is outside its hold-down.
func (s *server) alive(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !now.Before(s.deadUntil)
}

func (s *server) markDead(now time.Time, hold time.Duration) {
	s.mu.Lock()
	was := !now.Before(s.deadUntil)
	s.deadUntil = now.Add(hold)
	s.mu.Unlock()
	if was {
		s.log.Warn("radius: server marked dead", "hold_down", hold)
	}
}

func (s *server) markAlive() {
	s.mu.Lock()
	was := !s.deadUntil.IsZero()
	s.deadUntil = time.Time{}
	s.mu.Unlock()
	if was {
		s.log.Info("radius: server answering again")
	}
}

// allocLocked reserves an ID on some socket, opening one if every ID space
// is full. s.mu must be held.
func (s *server) allocLocked(p *pending) (*conn, byte, error) {
	if s.closed {
		return nil, 0, net.ErrClosed
	}
	for _, c := range s.conns {
		if c.n < 256 {
			return c, c.allocLocked(p), nil
		}
	}
	uc, err := net.DialUDP("udp", nil, s.addr)
	if err != nil {
		return nil, 0, fmt.Errorf("radius: dial %s: %w", s.cfg.Address, err)
	}
	setReadBuffer(uc, socketReadBuffer)
	c := &conn{s: s, uc: uc}
	s.conns = append(s.conns, c)
	go c.readLoop()
	return c, c.allocLocked(p), nil
}

// socketReadBuffer is the receive buffer asked for each client socket: 256
// replies arriving in one burst (a server catching up) take ~256 KiB of
// kernel memory, more than the usual default of 208 KiB, and whatever
// does not fit is dropped and waits for a retransmission.
const socketReadBuffer = 1 << 20

// setReadBuffer sets uc's receive buffer to n bytes, beyond net.core.rmem_max
// where the process may (SO_RCVBUFFORCE, CAP_NET_ADMIN), else up to it.
func setReadBuffer(uc *net.UDPConn, n int) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return
	}
	var forced error
	rc.Control(func(fd uintptr) { forced = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) })
	if forced != nil {
		uc.SetReadBuffer(n)
	}
}

// allocLocked takes the next free ID. s.mu must be held and c.n < 256.
func (c *conn) allocLocked(p *pending) byte {
	for c.pending[c.next] != nil {
		c.next++
	}
	id := c.next
	c.next++
	c.pending[id] = p
	c.n++
	return id
}

func (c *conn) release(id byte, p *pending) {
	c.s.mu.Lock()
	if c.pending[id] == p {
		c.pending[id] = nil
		c.n--
	}
	c.s.mu.Unlock()
}

// readLoop delivers verified replies to their pending requests until the
// socket is closed.
func (c *conn) readLoop() {
	buf := make([]byte, 4096)
	for {
		n, err := c.uc.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP port unreachable on a connected socket, etc.
		}
		b := buf[:n]
		if n < 20 {
			c.s.unexpected.Add(1)
			continue
		}
		c.s.mu.Lock()
		p := c.pending[b[1]]
		var auth [16]byte
		if p != nil {
			auth = p.auth
		}
		c.s.mu.Unlock()
		if p == nil {
			c.s.unexpected.Add(1)
			continue
		}
		requireMA := c.s.requireMA && isAccessReply(b[0])
		if err := verifyResponse(b, c.s.secret, &auth, requireMA); err != nil {
			c.s.badAuth.Add(1)
			c.s.log.Warn("radius: dropping reply", "radius_id", b[1], slog.Any("err", err))
			continue
		}
		select {
		case p.ch <- append([]byte(nil), b...):
		default: // a duplicate reply
		}
	}
}

func isAccessReply(code byte) bool { return code == 2 || code == 3 || code == 11 }

// encodeFunc encodes a request with the given ID for server s, returning
// the wire bytes (authenticator included).
type encodeFunc func(s *server, id byte) ([]byte, error)

// exchange sends one request to s and waits up to s.timeout for the reply.
func (s *server) exchange(ctx context.Context, enc encodeFunc) ([]byte, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	p := &pending{ch: make(chan []byte, 1)}
	s.mu.Lock()
	c, id, err := s.allocLocked(p)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer c.release(id, p)
	b, err := enc(s, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	copy(p.auth[:], b[4:20])
	s.mu.Unlock()
	s.requests.Add(1)
	start := time.Now()
	if _, err := c.uc.Write(b); err != nil {
		s.log.Debug("radius: send failed", slog.Any("err", err))
	}
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	select {
	case r := <-p.ch:
		s.latencySum.Add(uint64(time.Since(start)))
		s.latencyN.Add(1)
		return r, nil
	case <-t.C:
		s.timeouts.Add(1)
		return nil, errTimeout
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *server) close() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		c.uc.Close()
	}
}

func (s *server) info(now time.Time) mgmt.RADIUSServer {
	st := "alive"
	if !s.alive(now) {
		st = "dead"
	}
	var avg time.Duration
	if n := s.latencyN.Load(); n > 0 {
		avg = time.Duration(s.latencySum.Load() / n)
	}
	return mgmt.RADIUSServer{
		Address: s.cfg.Address, Role: s.role, State: st,
		Requests: s.requests.Load(), Timeouts: s.timeouts.Load(), BadAuth: s.badAuth.Load(),
		InFlight: len(s.sem), LatencyAvg: avg,
	}
}

// A pool is the ordered servers of one role.
type pool struct {
	servers []*server
	retries int
	dead    time.Duration
}

// order returns the servers to try: those alive in priority order, then
// those in hold-down (so that a request is still tried when all are dead).
func (p *pool) order(now time.Time) []*server {
	out := make([]*server, 0, len(p.servers))
	for _, s := range p.servers {
		if s.alive(now) {
			out = append(out, s)
		}
	}
	for _, s := range p.servers {
		if !s.alive(now) {
			out = append(out, s)
		}
	}
	return out
}

// do sends a request to the servers in order, each tried 1+retries times
// (every attempt re-encoded with a fresh ID and authenticator), marking
// silent ones dead. It returns the first verified reply.
func (p *pool) do(ctx context.Context, enc encodeFunc) ([]byte, *server, error) {
	if len(p.servers) == 0 {
		return nil, nil, ErrNoServer
	}
	for _, s := range p.order(time.Now()) {
		for range p.retries + 1 {
			r, err := s.exchange(ctx, enc)
			if err == nil {
				s.markAlive()
				return r, s, nil
			}
			if !errors.Is(err, errTimeout) {
				return nil, s, err
			}
		}
		s.markDead(time.Now(), p.dead)
	}
	return nil, nil, ErrNoServer
}

func (p *pool) close() {
	for _, s := range p.servers {
		s.close()
	}
}
