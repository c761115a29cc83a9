//go:build vmlab

package vmlab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVML2TPKernel: a real LAC (xl2tpd + pppd with the pppol2tp plugin) in a
// guest namespace against bngbox as LNS in the guest with dataplane:
// kernel. The tunnel (with a secret) and the session come up, the session's
// data runs through a kernel L2TP tunnel and session and a pppN, pings
// (IPv4, and IPv6 to the link-local address IPv6CP gave) and iperf3 go
// through, the counters in `show sessions json` come from the kernel, and
// hanging up (CDN) and stopping the LAC (StopCCN) remove the pppN, the
// kernel session and the kernel tunnel.
func TestVML2TPKernel(t *testing.T) { testVML2TP(t, "kernel") }

// TestVML2TPUserspace is the same scenario with dataplane: userspace (TUN
// pppN, L2TP data in bngbox); no kernel tunnel may appear on the LNS side.
func TestVML2TPUserspace(t *testing.T) { testVML2TP(t, "userspace") }

func testVML2TP(t *testing.T, dp string) {
	const pings = 5
	h := newHost(t)
	r := h.Boot("l2tp-lns", map[string]string{"dataplane": dp, "pings": fmt.Sprint(pings)})
	for _, k := range []string{"lac_up_seconds", "lac_addr", "ppp_ifaces", "kernel_tunnels", "tunnels"} {
		t.Logf("%s = %s", k, r.Get(k))
	}
	if got := r.Get("dataplane"); got != dp {
		t.Fatalf("guest daemon's dataplane = %q, want %s", got, dp)
	}
	if r.Get("lac_up") != "1" {
		t.Fatalf("the LAC's ppp0 did not come up (see the console)")
	}
	if got := r.Get("ping_rx"); got != fmt.Sprint(pings) {
		t.Errorf("pings through the session: %s received, want %d", got, pings)
	}

	var sessions []struct {
		Type   string `json:"type"`
		State  string `json:"state"`
		Ifname string `json:"ifname"`
		IP     string `json:"ip"`
		Stats  struct {
			RxBytes   uint64 `json:"rx_bytes"`
			RxPackets uint64 `json:"rx_packets"`
			TxBytes   uint64 `json:"tx_bytes"`
			TxPackets uint64 `json:"tx_packets"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(r.Get("sessions")), &sessions); err != nil {
		t.Fatalf("show sessions json: %v: %q", err, r.Get("sessions"))
	}
	if len(sessions) != 1 {
		t.Fatalf("%d sessions, want 1: %s", len(sessions), r.Get("sessions"))
	}
	s := sessions[0]
	if s.Type != "l2tp" || s.State != "active" || !strings.HasPrefix(s.Ifname, "ppp") {
		t.Errorf("session %+v: want an active l2tp session on a pppN", s)
	}
	if got := r.Get("lac_addr"); got != s.IP+"_100.64.0.1/32" {
		t.Errorf("LAC's ppp0 has %q, want %s peer 100.64.0.1/32", got, s.IP)
	}
	// iperf3 both ways: data went through, and the session's counters
	// (kernel pppN or TUN) account at least the TCP payload.
	up, down := iperf3Received(t, r, "iperf3_up"), iperf3Received(t, r, "iperf3_down")
	if s.Stats.RxBytes < up.Bytes || s.Stats.TxBytes < down.Bytes {
		t.Errorf("session counters %+v: want rx ≥ %d and tx ≥ %d (iperf3 payload)", s.Stats, up.Bytes, down.Bytes)
	}
	t.Logf("iperf3 through the %s dataplane (TCG guest, not a benchmark): up %.1f Mbit/s (%d bytes), down %.1f Mbit/s (%d bytes)",
		dp, up.BitsPerSecond/1e6, up.Bytes, down.BitsPerSecond/1e6, down.Bytes)
	// Echo requests in, as many replies out: at least 28 bytes each.
	if s.Stats.RxPackets < pings || s.Stats.TxPackets < pings || s.Stats.RxBytes < pings*28 || s.Stats.TxBytes < pings*28 {
		t.Errorf("session counters %+v: want at least %d packets each way", s.Stats, pings)
	}
	if k := r.Get(s.Ifname + ".kernel_rx_packets"); k == "" || k == "0" {
		t.Errorf("%s: kernel rx_packets %q", s.Ifname, k)
	}
	if a := r.Get(s.Ifname + ".addr"); a != "100.64.0.1_"+s.IP+"/32" {
		t.Errorf("%s: address %q, want 100.64.0.1 peer %s/32", s.Ifname, a, s.IP)
	}

	// IPv6CP: our link-local address on pppN is the LAC's ppp0 peer, and
	// ping6 to it goes through. The kernel backend puts the pair
	// "fe80::L peer fe80::P/64" on pppN; the userspace one fe80::L/128 and
	// a /128 route to the peer.
	a6 := r.Get(s.Ifname + ".addr6")
	local6, _, _ := strings.Cut(a6, "/")
	local6, _, _ = strings.Cut(local6, "_")
	lacLocal6, lacPeer6, _ := strings.Cut(r.Get("lac_addr6"), "_") // pppd: fe80::P peer fe80::L/128
	if !strings.HasPrefix(local6, "fe80::") || lacPeer6 != local6+"/128" {
		t.Errorf("%s: IPv6 %q; LAC's ppp0 %q: want the LAC's peer to be our fe80:: address", s.Ifname, a6, r.Get("lac_addr6"))
	}
	if dp == "kernel" && a6 != local6+"_"+lacLocal6+"/64" {
		t.Errorf("%s: IPv6 %q, want %s peer %s/64", s.Ifname, a6, local6, lacLocal6)
	}
	if got := r.Get("ping6_rx"); got != "3" {
		t.Errorf("ping6 to our link-local through the session: %q received, want 3", got)
	}

	var tunnels []struct {
		Peer     string `json:"peer"`
		State    string `json:"state"`
		Sessions int    `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(r.Get("tunnels")), &tunnels); err != nil {
		t.Fatalf("show tunnels json: %v: %q", err, r.Get("tunnels"))
	}
	if len(tunnels) != 1 || tunnels[0].State != "established" || tunnels[0].Sessions != 1 || !strings.HasPrefix(tunnels[0].Peer, "100.126.0.2:") {
		t.Errorf("tunnels %+v: want one established tunnel from 100.126.0.2 with 1 session", tunnels)
	}
	wantK := "0"
	if dp == "kernel" {
		wantK = "1"
	}
	if got := r.Get("kernel_tunnels"); got != wantK {
		t.Errorf("kernel L2TP tunnels on the LNS side: %s, want %s", got, wantK)
	}
	if got := r.Get("kernel_sessions"); got != wantK {
		t.Errorf("kernel L2TP sessions on the LNS side: %s, want %s", got, wantK)
	}

	// CDN: the session, its pppN and the kernel session and tunnel go.
	if got := r.Get("sessions_after_cdn"); got != "0" {
		t.Errorf("sessions after the hangup: %q, want 0", got)
	}
	if got := r.Get("ppp_ifaces_after_cdn"); got != "" {
		t.Errorf("ppp interfaces left after the hangup: %s", got)
	}
	if got := r.Get("kernel_sessions_after_cdn"); got != "0" {
		t.Errorf("kernel L2TP sessions after the hangup: %q, want 0", got)
	}
	if got := r.Get("kernel_tunnels_after_cdn"); got != "0" {
		t.Errorf("kernel L2TP tunnels after the last session: %q, want 0", got)
	}
	// StopCCN from xl2tpd: no established tunnel left.
	if got := r.Get("tunnels_after_stopccn"); strings.Contains(got, "established") {
		t.Errorf("tunnels after StopCCN: %s", got)
	}
	if got := r.Get("stopccn_logged"); got == "" || got == "0" {
		t.Errorf("bngbox logged no tunnel down after xl2tpd stopped")
	}
	if got := r.Get("kernel_tunnels_after_stopccn"); got != "0" {
		t.Errorf("kernel L2TP tunnels after StopCCN: %q, want 0", got)
	}
	if got := r.Get("acct_stops"); got != "1" {
		t.Errorf("accounting stops %q, want 1", got)
	}
	// Two bngbox loadgens as LACs, 1 tunnel x 3 sessions each, up at once
	// (with dataplane kernel: 2 kernel tunnels, 6 kernel sessions), pings
	// through each, and nothing left after the CDNs.
	if got := r.Get("lg_active"); got != "6" {
		t.Errorf("loadgen LAC: %s active sessions, want 6", got)
	}
	if got := r.Get("lg_tunnels"); got != "2" {
		t.Errorf("loadgen LAC: %s established tunnels, want 2", got)
	}
	wantKT, wantKS := "0", "0"
	if dp == "kernel" {
		wantKT, wantKS = "2", "6"
	}
	if got := r.Get("lg_kernel_tunnels"); got != wantKT {
		t.Errorf("loadgen LAC: %s kernel tunnels, want %s", got, wantKT)
	}
	if got := r.Get("lg_kernel_sessions"); got != wantKS {
		t.Errorf("loadgen LAC: %s kernel sessions, want %s", got, wantKS)
	}
	if got := r.Get("lg_ppp_ifaces"); got != "6" {
		t.Errorf("loadgen LAC: %s ppp interfaces, want 6", got)
	}
	for _, g := range []string{"a", "b"} {
		if rep := r.Get("lg_" + g + "_report"); r.Get("lg_"+g+"_rc") != "0" || !strings.Contains(rep, "sessions_up:_3/3") || !strings.Contains(rep, "ping_9/9") {
			t.Errorf("loadgen LAC %s: rc %s, report %q; want 3/3 up and 9/9 pings", g, r.Get("lg_"+g+"_rc"), rep)
		}
	}
	// Two tunnels from one LAC UDP address: the kernel cannot tell them
	// apart, so the kernel dataplane refuses the second tunnel's session,
	// saying why; the userspace dataplane serves both.
	wantC, wantRefused := "sessions_up:_2/2", "0"
	if dp == "kernel" {
		wantC, wantRefused = "sessions_up:_1/2", "1"
	}
	if rep := r.Get("lg_c_report"); !strings.Contains(rep, wantC) {
		t.Errorf("loadgen LAC with 2 tunnels on one UDP port: report %q, want %s", rep, wantC)
	}
	if got := r.Get("lg_c_refused"); got != wantRefused {
		t.Errorf("sessions refused for a second tunnel from one LAC address: %s logged, want %s", got, wantRefused)
	}
	for _, k := range []string{"lg_sessions_after", "lg_kernel_tunnels_after", "lg_kernel_sessions_after"} {
		if got := r.Get(k); got != "0" {
			t.Errorf("%s = %q, want 0", k, got)
		}
	}
	if got := r.Get("lg_ppp_ifaces_after"); got != "" {
		t.Errorf("ppp interfaces left after the loadgen LAC hung up: %s", got)
	}
	if r.RC != "0" {
		t.Errorf("scenario exit code %s", r.RC)
	}
}

type iperf3Sum struct {
	Bytes         uint64  `json:"bytes"`
	BitsPerSecond float64 `json:"bits_per_second"`
}

// iperf3Received parses the iperf3 -J summary the guest reported under key
// and returns what the receiving side counted; it fails the test when the
// run failed or moved nothing.
func iperf3Received(t *testing.T, r *Result, key string) iperf3Sum {
	t.Helper()
	var out struct {
		Error string `json:"error"`
		End   struct {
			SumReceived iperf3Sum `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(r.Get(key)), &out); err != nil {
		t.Errorf("%s: %v: %.300q", key, err, r.Get(key))
		return iperf3Sum{}
	}
	if out.Error != "" || out.End.SumReceived.Bytes == 0 {
		t.Errorf("%s: error %q, %d bytes received", key, out.Error, out.End.SumReceived.Bytes)
	}
	return out.End.SumReceived
}

// TestVML2TPHostUserspace: the LAC (xl2tpd + pppd with pppol2tp, the
// guest kernel's l2tp_ppp) in the guest against bngbox as LNS on the host
// with dataplane: userspace, over the tap. The tunnel (with a secret) and
// the session come up, pings go through, the host's `show sessions json`
// and `show tunnels json` show them while the guest holds the session,
// and pppd's hangup (CDN) and xl2tpd's disconnect-lac (StopCCN) leave
// nothing behind (one Acct-Stop).
func TestVML2TPHostUserspace(t *testing.T) {
	const pings, lnsIP = 5, "100.126.0.1"
	h := newHost(t)
	h.Exec(h.NS, "ip", "addr", "add", lnsIP+"/24", "dev", h.Tap)
	os.WriteFile(filepath.Join(h.Dir, "users.yaml"), []byte("users:\n  - {name: user1, password: secret}\n"), 0o600)
	sock := filepath.Join(h.Dir, "cli.sock")
	cfg := fmt.Sprintf(`log: {level: debug}
dataplane: userspace
pppoe:
  interfaces:
    - name: %s
ppp:
  lcp-echo-interval: 10s
  local-ip: %s
pools:
  - {name: default, range: 100.64.0.0/24}
auth: {backend: local, users-file: users.yaml}
accounting: {file: acct.jsonl, interim-interval: 0s}
cli: {socket: %s}
l2tp:
  enabled: true
  listen: "%s:1701"
  hostname: lns-host
  require-auth: true
  secrets: [{peer: 100.126.0.2, secret: s3cret}]
`, h.Tap, bngIP, sock, lnsIP)
	path := filepath.Join(h.Dir, "bngbox.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	d := h.Start(h.NS, bin(t), "run", "-c", path)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.WaitOutput(ctx, "bngbox running"); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) string {
		out, err := h.Try(h.NS, append([]string{bin(t), "cli", "--socket", sock}, args...)...)
		if err != nil {
			t.Errorf("bngbox cli %v: %v\n%s", args, err, out)
		}
		return out
	}

	vm := h.StartVM("l2tp-lac", map[string]string{"lns": lnsIP, "ping": bngIP, "pings": fmt.Sprint(pings), "hold": "5"})
	vm.WaitLine("VMLAB-UP")
	var sessions []struct {
		Type   string `json:"type"`
		State  string `json:"state"`
		Ifname string `json:"ifname"`
		Port   string `json:"port"`
		Stats  struct {
			RxPackets uint64 `json:"rx_packets"`
			TxPackets uint64 `json:"tx_packets"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(cli("show", "sessions", "json")), &sessions); err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 || sessions[0].Type != "l2tp" || sessions[0].State != "active" || sessions[0].Port != "100.126.0.2" ||
		sessions[0].Stats.RxPackets < pings || sessions[0].Stats.TxPackets < pings {
		t.Errorf("host sessions %+v: want one active l2tp session from 100.126.0.2 with ≥ %d packets each way", sessions, pings)
	}
	if tun := cli("show", "tunnels", "json"); !strings.Contains(tun, `"established"`) || !strings.Contains(tun, "100.126.0.2:1701") {
		t.Errorf("host tunnels: %s", tun)
	}
	r := vm.Wait()
	if r.Get("lac_up") != "1" {
		t.Fatal("the guest's ppp0 did not come up (see the console)")
	}
	if got := r.Get("ping_rx"); got != fmt.Sprint(pings) {
		t.Errorf("pings: %s received, want %d", got, pings)
	}
	if a := r.Get("lac_addr"); !strings.HasPrefix(a, "100.64.0.") || !strings.HasSuffix(a, "_"+bngIP+"/32") {
		t.Errorf("guest ppp0 %q, want a pool address with peer %s", a, bngIP)
	}
	if r.Get("hangup") != "ok" {
		t.Errorf("pppd did not exit after SIGTERM")
	}
	// CDN and StopCCN: nothing left on the host.
	var tun, sess string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		sess, tun = cli("show", "sessions", "json"), cli("show", "tunnels", "json")
		if !strings.Contains(sess, `"state"`) && !strings.Contains(tun, `"established"`) {
			break
		}
	}
	if strings.Contains(sess, `"state"`) || strings.Contains(tun, `"established"`) {
		t.Errorf("after CDN and StopCCN: sessions %s, tunnels %s", sess, tun)
	}
	data, _ := os.ReadFile(filepath.Join(h.Dir, "acct.jsonl"))
	if n := strings.Count(string(data), `"type":"stop"`); n != 1 {
		t.Errorf("%d accounting stops, want 1:\n%s", n, data)
	}
}
