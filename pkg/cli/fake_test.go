package cli

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/bngbox/bngbox/pkg/mgmt"
	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/bngbox/bngbox/pkg/session"
)

// testNow is the fixed clock of the golden tests.
var testNow = time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)

// fakeAPI is an in-memory mgmt.API that records the mutating calls.
type fakeAPI struct {
	mu       sync.Mutex
	sessions []session.Info
	calls    []string // "terminate username=alice hard=false", ...
	level    string
}

var _ mgmt.API = (*fakeAPI)(nil)

func newFakeAPI() *fakeAPI {
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	return &fakeAPI{sessions: []session.Info{
		{ID: "0000000000000001", Type: "pppoe", State: session.Active, Ifname: "ppp0", User: "alice",
			IP: netip.MustParseAddr("100.64.0.2"), IPv6: netip.MustParsePrefix("2001:db8:100::/56"),
			Started: testNow.Add(-90 * time.Minute), Port: "eth1", VLANs: []uint16{100, 7}, MAC: mac,
			CallingSID: "02:00:00:00:00:01", CalledSID: "bng1", SID: 17,
			Stats: dataplane.Stats{RxBytes: 123456, RxPackets: 1000, TxBytes: 9876543, TxPackets: 7000},
			Rates: rate.Rates{Down: 50_000_000, Up: 10_000_000}, AuthRates: rate.Rates{Down: 50_000_000, Up: 10_000_000}},
		{ID: "0000000000000002", Type: "l2tp", State: session.Active, Ifname: "ppp10", User: "bob@isp",
			IP: netip.MustParseAddr("100.64.0.3"), Started: testNow.Add(-26*time.Hour - 5*time.Second), Port: "192.0.2.9",
			CallingSID: "0123456789", CalledSID: "lac1", SID: 4, Tunnel: "7/19",
			Stats: dataplane.Stats{RxBytes: 10, RxPackets: 1, TxBytes: 20, TxPackets: 2},
			Rates: rate.Rates{Down: 1_000_000, Up: 512_000}, AuthRates: rate.Rates{Down: 2_000_000, Up: 1_000_000}},
		{ID: "0000000000000003", Type: "pppoe", State: session.Starting, Ifname: "ppp2", User: "carol",
			Started: testNow.Add(-3 * time.Second), Port: "eth1", CallingSID: "02:00:00:00:00:03", SID: 18},
	}}
}

func (f *fakeAPI) record(s string) {
	f.calls = append(f.calls, s)
}

func (f *fakeAPI) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeAPI) Sessions(context.Context) ([]session.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]session.Info(nil), f.sessions...), nil
}

func (f *fakeAPI) match(sel mgmt.Selector) int {
	n := 0
	for i := range f.sessions {
		if sel.Match(&f.sessions[i]) {
			n++
		}
	}
	return n
}

func (f *fakeAPI) Terminate(_ context.Context, sel mgmt.Selector, hard bool) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.match(sel)
	if n == 0 {
		return 0, mgmt.ErrNotFound
	}
	f.record("terminate " + string(sel.Kind) + "=" + sel.Value + map[bool]string{true: " hard", false: ""}[hard])
	return n, nil
}

func (f *fakeAPI) SetRates(_ context.Context, sel mgmt.Selector, r rate.Rates, source string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.match(sel)
	if n == 0 {
		return 0, mgmt.ErrNotFound
	}
	f.record("setrates " + string(sel.Kind) + "=" + sel.Value + " " + r.String() + " " + source)
	return n, nil
}

func (f *fakeAPI) Change(_ context.Context, sel mgmt.Selector, c session.Change, source string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.match(sel)
	if n == 0 {
		return 0, mgmt.ErrNotFound
	}
	f.record("change " + string(sel.Kind) + "=" + sel.Value + " " + source)
	return n, nil
}

func (f *fakeAPI) RestoreRates(_ context.Context, sel mgmt.Selector, source string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.match(sel)
	if n == 0 {
		return 0, mgmt.ErrNotFound
	}
	f.record("restore " + string(sel.Kind) + "=" + sel.Value + " " + source)
	return n, nil
}

func (f *fakeAPI) Stats(context.Context) (mgmt.Stats, error) {
	return mgmt.Stats{Uptime: 26*time.Hour + 3*time.Minute, Starting: 1, Active: 2, SetupRate: 0.5,
		AuthOK: 42, AuthFail: 3, Drops: map[string]uint64{"pppoe-bad-tag": 2, "l2tp-short": 1, "pppoe-malformed": 0},
		HeapInUse: 12 << 20, RSS: 40 << 20, Goroutines: 57}, nil
}

func (f *fakeAPI) Pools(context.Context) ([]mgmt.Pool, error) {
	return []mgmt.Pool{{Name: "cgnat", Range: "100.64.0.0/22", Size: 1022, Used: 2},
		{Name: "v6pd", Range: "2001:db8:100::/40", Size: 65536, Used: 1}}, nil
}

func (f *fakeAPI) RADIUSServers(context.Context) ([]mgmt.RADIUSServer, error) {
	return []mgmt.RADIUSServer{
		{Address: "192.0.2.1:1812", Role: "auth", State: "alive", Requests: 45, Timeouts: 1, InFlight: 0, LatencyAvg: 1500 * time.Microsecond},
		{Address: "192.0.2.1:1813", Role: "acct", State: "dead", Requests: 90, Timeouts: 12, BadAuth: 1, InFlight: 3, LatencyAvg: 0},
	}, nil
}

func (f *fakeAPI) Tunnels(context.Context) ([]mgmt.Tunnel, error) {
	return []mgmt.Tunnel{{LocalID: 7, RemoteID: 19, Peer: "192.0.2.9:1701", Hostname: "lac1", State: "established", Sessions: 1}}, nil
}

func (f *fakeAPI) Reload(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("reload")
	return nil
}

func (f *fakeAPI) SetLogLevel(level string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.level = level
	f.record("loglevel " + level)
	return nil
}

func (f *fakeAPI) Version() mgmt.Version {
	return mgmt.Version{Version: "v0.1.0", Commit: "abc1234", GoVersion: "go1.26.0", Dataplane: "userspace"}
}
