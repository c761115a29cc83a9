// Package loadgen emulates PPPoE subscribers, or L2TP calls from a LAC
// (LACConfig): each runs discovery (or ICRQ/ICCN), PPP
// (pkg/ppp in the client role) with PAP or CHAP, takes an address, pings a
// target through its session and holds the line. It drives the demo, the
// integration tests and the setup-rate benchmarks, against bngbox or any
// other access concentrator.
package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bngbox/bngbox/internal/afpacket"
	"github.com/bngbox/bngbox/internal/ether"
	"github.com/bngbox/bngbox/pppoe"
)

// Config describes a run.
type Config struct {
	Interface   string
	Sessions    int
	Rate        float64       // new sessions started per second (0: as fast as Concurrency allows)
	Concurrency int           // sessions in setup at once (default 100)
	UserFormat  string        // fmt format with the 1-based index, e.g. "user%04d"
	Password    string        // fmt format too (may omit the index)
	Auth        string        // pap | chap | any (what the client accepts)
	VLANs       []uint16      // tags to send with (outer first)
	Ping        netip.Addr    // target to ping through each session (invalid: no ping)
	PingCount   int           // echo requests per session (default 1 when Ping set)
	Hold        time.Duration // keep sessions up this long after all are set up; <0: until ctx ends
	Timeout     time.Duration // per-session setup timeout (default 30 s)
	MACBase     byte          // second byte of emulated MACs (02:<base>:idx), to run several generators
	TUN         bool          // give each subscriber that is up a TUN device lg<idx> (see tun.go)
	// OnTUN, in TUN mode, is called when a subscriber's device is ready.
	OnTUN func(name string, ip netip.Addr)
	// PingInterval, with Ping set, keeps pinging Ping from every session
	// at this interval while sessions are held; losses are reported.
	PingInterval time.Duration
	// Silent subscribers stop answering and sending anything once set up
	// (and the Ping pings are done): no LCP echo replies, no ICMP, no
	// hangup at the end. They still notice a PADT, to report it.
	Silent bool
	// Hangup is how a subscriber ends its session: "lcp" (LCP
	// Terminate-Request, then PADT; the default) or "padt" (PADT only).
	Hangup string
	// L2TP, when set, makes the generator a LAC: sessions are L2TP calls
	// toward an LNS instead of PPPoE sessions on Interface.
	L2TP *LACConfig
	Log  *slog.Logger
}

// Report is the outcome of a run.
type Report struct {
	Attempted, Up, Failed int
	SetupElapsed          time.Duration // first PADI to last session up
	SetupRate             float64       // sessions up per second over SetupElapsed
	SetupP50, SetupP99    time.Duration
	PingSent, PingRecv    int
	DroppedByAC           int // sessions the AC ended while we held them (PADT, LCP Terminate)
	PADTRecv              int // PADTs received from the AC for our sessions
	EchoAnswered          int // ICMP echo requests from the network answered through sessions
	// Pings during hold (Config.PingInterval): totals, and the second
	// (counted from the first PADI) with the most requests unanswered.
	HoldPingSent, HoldPingLost   int
	HoldWorstLost, HoldWorstSent int
	HoldWorstAt                  time.Duration
	Errors                       map[string]int
}

func (r *Report) String() string {
	s := fmt.Sprintf("sessions up: %d/%d (failed %d) in %.2fs: %.0f setups/s, setup p50 %v p99 %v",
		r.Up, r.Attempted, r.Failed, r.SetupElapsed.Seconds(), r.SetupRate, r.SetupP50.Round(time.Millisecond), r.SetupP99.Round(time.Millisecond))
	if r.PingSent > 0 {
		s += fmt.Sprintf("; ping %d/%d", r.PingRecv, r.PingSent)
	}
	if r.HoldPingSent > 0 {
		s += fmt.Sprintf("; hold ping %d/%d lost %d", r.HoldPingSent-r.HoldPingLost, r.HoldPingSent, r.HoldPingLost)
		if r.HoldPingLost > 0 {
			s += fmt.Sprintf(" (worst second at %v: %d/%d lost)", r.HoldWorstAt, r.HoldWorstLost, r.HoldWorstSent)
		}
	}
	if r.EchoAnswered > 0 {
		s += fmt.Sprintf("; echo requests answered: %d", r.EchoAnswered)
	}
	if r.DroppedByAC > 0 {
		s += fmt.Sprintf("; dropped by AC while held: %d", r.DroppedByAC)
	}
	if r.PADTRecv > 0 {
		s += fmt.Sprintf("; PADT from AC: %d", r.PADTRecv)
	}
	for k, v := range r.Errors {
		s += fmt.Sprintf("; %s: %d", k, v)
	}
	return s
}

func (c *Config) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 100
	}
	if c.UserFormat == "" {
		c.UserFormat = "user%04d"
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Ping.IsValid() && c.PingCount <= 0 {
		c.PingCount = 1
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.MACBase == 0 {
		c.MACBase = 0x42
	}
	if c.Hangup == "" {
		c.Hangup = "lcp"
	}
}

// Gen is a running generator.
type Gen struct {
	cfg  Config
	conn *afpacket.Conn // PPPoE mode
	lac  *lacSide       // L2TP mode
	subs []*sub
	wmu  sync.Mutex

	start    time.Time
	lastUp   atomic.Int64
	mu       sync.Mutex
	setups   []time.Duration
	errs     map[string]int
	pingSent atomic.Int64
	pingRecv atomic.Int64
	dropped  atomic.Int64
	padtRecv atomic.Int64
	answered atomic.Int64
	holdPing pingStats
	closing  atomic.Bool
}

// Run brings the sessions up, pings, holds, then tears them down and reports.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	if cfg.Sessions <= 0 || cfg.Sessions > 0xffffff {
		return nil, fmt.Errorf("loadgen: sessions %d out of range", cfg.Sessions)
	}
	if cfg.Hangup != "lcp" && cfg.Hangup != "padt" {
		return nil, fmt.Errorf("loadgen: hangup %q: want lcp or padt", cfg.Hangup)
	}
	g := &Gen{cfg: cfg, errs: map[string]int{}}
	for i := range cfg.Sessions {
		g.subs = append(g.subs, newSub(g, i+1))
	}
	var closeFn func()
	var err error
	if cfg.L2TP != nil {
		closeFn, err = g.openLAC(ctx)
	} else {
		closeFn, err = g.openPPPoE()
	}
	if err != nil {
		return nil, err
	}
	return g.drive(ctx, closeFn)
}

// openPPPoE opens the access socket and starts the frame reader.
func (g *Gen) openPPPoE() (func(), error) {
	conn, err := afpacket.Listen(g.cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	g.conn = conn
	byMAC := make(map[[6]byte]*sub, len(g.subs))
	for _, s := range g.subs {
		byMAC[[6]byte(s.mac)] = s
	}
	readDone := make(chan struct{})
	go g.read(byMAC, readDone)
	return func() {
		g.closing.Store(true)
		conn.Close()
		<-readDone
	}, nil
}

// drive launches the subscribers, holds them, hangs them up, calls
// closeFn (the access side is then quiet) and reports.
func (g *Gen) drive(ctx context.Context, closeFn func()) (*Report, error) {
	cfg := g.cfg
	g.start = time.Now()
	upCtx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	var wg sync.WaitGroup
	var upWG sync.WaitGroup
	sem := make(chan struct{}, cfg.Concurrency)
	var tick *time.Ticker
	if cfg.Rate > 0 {
		tick = time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
		defer tick.Stop()
	}
	hold := make(chan struct{})
launch:
	for _, s := range g.subs {
		if tick != nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
				break launch
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break launch
		}
		wg.Add(1)
		upWG.Add(1)
		go func() {
			defer wg.Done()
			s.run(upCtx, func() { <-sem; upWG.Done() }, hold)
		}()
	}
	upWG.Wait()
	setupEnd := time.Unix(0, g.lastUp.Load())
	if cfg.Hold >= 0 {
		select {
		case <-time.After(cfg.Hold):
		case <-ctx.Done():
		}
	} else {
		<-ctx.Done()
	}
	close(hold)
	wg.Wait()
	closeFn()
	return g.report(setupEnd)
}

func (g *Gen) report(setupEnd time.Time) (*Report, error) {
	r := &Report{Attempted: 0, Errors: g.errs}
	for _, s := range g.subs {
		if s.launched {
			r.Attempted++
		}
	}
	r.Up = len(g.setups)
	r.Failed = r.Attempted - r.Up
	if r.Up > 0 {
		r.SetupElapsed = setupEnd.Sub(g.start)
		if r.SetupElapsed > 0 {
			r.SetupRate = float64(r.Up) / r.SetupElapsed.Seconds()
		}
		slices.Sort(g.setups)
		r.SetupP50 = g.setups[len(g.setups)/2]
		r.SetupP99 = g.setups[len(g.setups)*99/100]
	}
	r.PingSent, r.PingRecv = int(g.pingSent.Load()), int(g.pingRecv.Load())
	r.DroppedByAC = int(g.dropped.Load())
	r.PADTRecv = int(g.padtRecv.Load())
	r.EchoAnswered = int(g.answered.Load())
	r.HoldPingSent, r.HoldPingLost, r.HoldWorstLost, r.HoldWorstSent, r.HoldWorstAt = g.holdPing.summary()
	if r.Up < r.Attempted {
		return r, fmt.Errorf("loadgen: %d of %d sessions failed", r.Failed, r.Attempted)
	}
	return r, nil
}

func (g *Gen) fail(reason string) {
	g.mu.Lock()
	g.errs[reason]++
	g.mu.Unlock()
}

func (g *Gen) upDone(d time.Duration) {
	g.mu.Lock()
	g.setups = append(g.setups, d)
	g.mu.Unlock()
	g.lastUp.Store(time.Now().UnixNano())
}

// read demultiplexes frames to subscribers by destination MAC.
func (g *Gen) read(byMAC map[[6]byte]*sub, done chan struct{}) {
	defer close(done)
	for {
		frames, err := g.conn.ReadBatch()
		if err != nil {
			if g.closing.Load() || isClosed(err) || errors.Is(err, io.EOF) {
				return
			}
			g.cfg.Log.Debug("read", "err", err)
			continue
		}
		for _, f := range frames {
			if len(f) < 14 {
				continue
			}
			s := byMAC[[6]byte(f[0:6])]
			if s == nil {
				continue
			}
			if t := s.fast.Load(); t != nil && t.fastPathFrame(f) {
				continue
			}
			select {
			case s.in <- slices.Clone(f):
			default:
				g.fail("inbox-full")
			}
		}
	}
}

func (g *Gen) write(frame []byte) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	return g.conn.WriteFrame(frame)
}

// frameHeader appends Ethernet (+tags) for a frame from s to dst.
func (g *Gen) frameHeader(b []byte, s *sub, dst net.HardwareAddr, etype uint16) []byte {
	var h ether.Header
	h.Dst, h.Src, h.EtherType = dst, s.mac, etype
	h.SetVLANs(g.cfg.VLANs)
	return ether.AppendHeader(b, h)
}

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// parseFrame splits a received frame into Ethernet header and PPPoE bytes.
func parseFrame(f []byte) (ether.Header, []byte, bool) {
	h, off, err := ether.Parse(f)
	if err != nil || (h.EtherType != 0x8863 && h.EtherType != 0x8864) {
		return h, nil, false
	}
	return h, f[off:], true
}

// ipv4Echo builds an IPv4 ICMP echo request.
func ipv4Echo(src, dst netip.Addr, id, seq uint16) []byte {
	b := make([]byte, 28+32)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], seq)
	b[8] = 64
	b[9] = 1
	s4, d4 := src.As4(), dst.As4()
	copy(b[12:16], s4[:])
	copy(b[16:20], d4[:])
	binary.BigEndian.PutUint16(b[10:], checksum(b[:20]))
	icmp := b[20:]
	icmp[0] = 8
	binary.BigEndian.PutUint16(icmp[4:], id)
	binary.BigEndian.PutUint16(icmp[6:], seq)
	for i := 8; i < len(icmp); i++ {
		icmp[i] = byte(i)
	}
	binary.BigEndian.PutUint16(icmp[2:], checksum(icmp))
	return b
}

// isEchoReply reports whether an IPv4 packet is an ICMP echo reply for id.
func isEchoReply(p []byte, id uint16) bool {
	if len(p) < 28 || p[0]>>4 != 4 || p[9] != 1 {
		return false
	}
	ihl := int(p[0]&15) * 4
	if len(p) < ihl+8 {
		return false
	}
	return p[ihl] == 0 && binary.BigEndian.Uint16(p[ihl+4:]) == id
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

var _ = pppoe.CodePADI
