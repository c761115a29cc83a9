//go:build vmlab

package vmlab

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// Rates of the scenario's user (local users file rates: 10M/5M).
const (
	policeDown = 10e6
	policeUp   = 5e6
	// ipTCPHeaders is what each full-size packet carries besides TCP
	// payload: IPv4 (20) + TCP (20) + timestamps (12). tbf and police on
	// pppN count IP packet bytes, so goodput × mtu/(mtu−52) is the rate
	// they saw (as in test/integration/shaper_test.go).
	ipTCPHeaders = 52
	sessionMTU   = 1492
	// iperfRuns per direction and step; a direction passes when one run is
	// within ±10 %. Three, not two: while the host was busy the 10 ms tbf
	// downstream lost 10–28 % in single runs (a late dequeue timer in the
	// TCG guest; −10.0 and −18.0 % in one pair), and since the CoA and
	// restore steps each direction is judged three times per test.
	iperfRuns = 3
)

// policeBurstTime is the scenario's shaper police-burst-time override,
// VMLAB_POLICE_BURST_TIME, "" for the default (200ms; the tbf keeps its
// 10ms burst-time): police has no queue, so its bucket must absorb the
// bursts of a TCP sender. With a 10 ms police bucket (6250 B at 5 Mbit/s)
// a single TCP flow in the guest got about half the rate (cwnd stuck at two
// segments, a SACK recovery every ~10 ms, ~6 RTOs per run); with 200 ms
// (125000 B) within 6 %. See docs/shaper.md.
func policeBurstTime() string { return os.Getenv("VMLAB_POLICE_BURST_TIME") }

// policeBurst is the police bucket (bytes) bngbox derives for bps:
// rate × police-burst-time, at least two MTUs.
func policeBurst(t *testing.T, bps float64) string {
	t.Helper()
	d := 300 * time.Millisecond
	if s := policeBurstTime(); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("VMLAB_POLICE_BURST_TIME: %v", err)
		}
	}
	return fmt.Sprintf("burst %db", max(int64(bps/8*d.Seconds()), 2*sessionMTU))
}

// TestVMKernelPPPdPolice: bngbox in the guest with the kernel dataplane and
// shaper {enabled: true, upstream: police}; the real pppd with its PPPoE
// plugin in a second namespace of the guest behind a veth. The session
// comes up, a pppN exists, pings and iperf3 go through it, the upload is
// policed to 5 Mbit/s (ingress police on pppN; TCP and UDP) and the
// download shaped to 10 Mbit/s (tbf), each TCP direction within ±10 % in at
// least one of three runs. Then a CoA-Request sent with radclient
// (Mikrotik-Rate-Limit 1M/2M) is acknowledged and changes the session to
// 2 Mbit/s down, 1 up, and `bngbox cli shaper restore` back to 10/5: after
// each, `show sessions json` has the new rates, tc has the new tbf and
// policer, both TCP directions are measured again (±10 %, best of three), and
// the session is the same one (id, pppN, pppd up, counters growing).
// Finally pppd's hangup removes pppN, and so does stopping bngbox.
func TestVMKernelPPPdPolice(t *testing.T) {
	h := newHost(t)
	params := map[string]string{"iperf_runs": fmt.Sprint(iperfRuns), "iperf_seconds": "4", "udp_rate": "8M"}
	if bt := policeBurstTime(); bt != "" {
		params["police_burst_time"] = bt
	}
	r := h.Boot("kernel-pppd", params)

	if got := r.Get("dataplane"); got != "kernel" {
		t.Fatalf("guest daemon's dataplane = %q, want kernel", got)
	}
	if got := r.Get("shaper"); got != "police" {
		t.Errorf("shaper upstream mode %q, want police", got)
	}
	if got := r.Get("pppd_rc"); got != "0" {
		t.Fatalf("pppd exit code %q, want 0 (session up)", got)
	}
	local, peer, _ := strings.Cut(r.Get("sub_addr"), "_")
	if a, err := netip.ParseAddr(local); err != nil || !netip.MustParsePrefix("100.64.0.0/24").Contains(a) || peer != bngIP+"/32" {
		t.Errorf("pppd's ppp0: %q, want a pool address with peer %s/32", r.Get("sub_addr"), bngIP)
	}
	dev := r.Get("ppp_ifaces")
	if !strings.HasPrefix(dev, "ppp") || strings.Contains(dev, ",") {
		t.Fatalf("bngbox side interfaces %q, want one pppN", dev)
	}
	if got := r.Get("ping_rx"); got != "5" {
		t.Errorf("%s/5 pings through the session", got)
	}
	first := sessionIn(t, r, "sessions")
	if first.Ifname != dev || first.State != "active" || first.Rates != (vmRates{policeDown, policeUp}) {
		t.Errorf("session %+v: want active on %s with rates 10M/5M", first, dev)
	}

	// tc's view of pppN: the police action on ingress, the tbf as root.
	filter := strings.ReplaceAll(r.Get("filter"), "|", "\n")
	t.Logf("tc -s filter show dev %s ingress:\n%s", dev, filter)
	if !strings.Contains(filter, "police") || !strings.Contains(filter, "rate 5Mbit") || !strings.Contains(filter, "action drop") {
		t.Errorf("no police 5Mbit action on %s's ingress:\n%s", dev, filter)
	}
	qdisc := strings.ReplaceAll(r.Get("qdisc"), "|", "\n")
	t.Logf("tc -s qdisc show dev %s:\n%s", dev, qdisc)
	if !strings.Contains(qdisc, "qdisc tbf 1: root") || !strings.Contains(qdisc, "rate 10Mbit") || !strings.Contains(qdisc, "qdisc ingress ffff:") {
		t.Errorf("no tbf 10Mbit root and ingress qdisc on %s:\n%s", dev, qdisc)
	}

	checkTCPRates(t, r, "", policeDown, policeUp)

	// UDP offered at 8 Mbit/s: what the policer passes, without TCP's
	// reaction to its drops. 1400-byte datagrams are 1428-byte IP packets.
	udp := iperf3Received(t, r, "iperf3_udp")
	udpIP := udp.BitsPerSecond * (1400 + 28) / 1400
	udpDev := (udpIP - policeUp) / policeUp
	t.Logf("up, UDP offered at 8 Mbit/s: goodput %.2f Mbit/s, IP %.2f Mbit/s (%+.1f %%)", udp.BitsPerSecond/1e6, udpIP/1e6, udpDev*100)
	if math.Abs(udpDev) > 0.10 {
		t.Errorf("UDP through the policer: IP rate %.2f Mbit/s, want 5 Mbit/s ±10 %%", udpIP/1e6)
	}

	liveChanges(t, r, dev, local)

	// Teardown.
	if got := r.Get("ppp_ifaces_after_hangup"); got != "" {
		t.Errorf("pppN left after pppd hung up: %s", got)
	}
	if got := r.Get("pppd2_rc"); got != "0" {
		t.Errorf("second pppd exit code %q, want 0", got)
	}
	if got := r.Get("ppp_ifaces2"); !strings.HasPrefix(got, "ppp") {
		t.Errorf("second session: bngbox side interfaces %q, want a pppN", got)
	}
	if r.Get("police2") != "1" {
		t.Errorf("second session: no police filter on %s", r.Get("ppp_ifaces2"))
	}
	// pppd 2.4.9 does not notice a PADT once the session is up (and LCP
	// echoes are off here), so it is only logged.
	t.Logf("second pppd exited after bngbox stopped: %s", r.Get("pppd2_exit"))
	if got := r.Get("ppp_ifaces_after_stop"); got != "" {
		t.Errorf("pppN left after bngbox stopped: %s", got)
	}
	if r.Get("daemon_stop") != "" {
		t.Errorf("bngbox did not stop on SIGTERM")
	}
	if got := r.Get("acct_stops"); got != "2" {
		t.Errorf("accounting stops %s, want 2", got)
	}
	if r.RC != "0" {
		t.Errorf("scenario exit code %s", r.RC)
	}
}

// vmRates and vmSession are what the tests read of `show sessions json`.
type vmRates struct {
	Down float64 `json:"down_bps"`
	Up   float64 `json:"up_bps"`
}

type vmSession struct {
	ID        string  `json:"id"`
	Ifname    string  `json:"ifname"`
	State     string  `json:"state"`
	Rates     vmRates `json:"rates"`
	AuthRates vmRates `json:"auth_rates"`
	Stats     struct {
		RxBytes uint64 `json:"rx_bytes"`
		TxBytes uint64 `json:"tx_bytes"`
	} `json:"stats"`
}

// sessionIn parses the guest's one-session `show sessions json` under key.
func sessionIn(t *testing.T, r *Result, key string) vmSession {
	t.Helper()
	var ss []vmSession
	if err := json.Unmarshal([]byte(r.Get(key)), &ss); err != nil || len(ss) != 1 {
		t.Errorf("%s: show sessions json: %v: %q", key, err, r.Get(key))
		return vmSession{}
	}
	return ss[0]
}

// checkTCPRates judges the runs of one step (iperf3_up[_step].N,
// iperf3_down[_step].N): goodput corrected to the IP rate the police/tbf
// saw; a direction passes when one of its runs is within ±10 %.
func checkTCPRates(t *testing.T, r *Result, step string, down, up float64) {
	t.Helper()
	if step != "" {
		step = "_" + step
	}
	for _, d := range []struct {
		dir  string
		want float64
	}{{"up", up}, {"down", down}} {
		var got []string
		ok := false
		for i := 1; i <= iperfRuns; i++ {
			sum := iperf3Received(t, r, fmt.Sprintf("iperf3_%s%s.%d", d.dir, step, i))
			ipRate := sum.BitsPerSecond * sessionMTU / (sessionMTU - ipTCPHeaders)
			dev := (ipRate - d.want) / d.want
			got = append(got, fmt.Sprintf("goodput %.2f Mbit/s, IP %.2f Mbit/s (%+.1f %%)", sum.BitsPerSecond/1e6, ipRate/1e6, dev*100))
			ok = ok || math.Abs(dev) <= 0.10
		}
		t.Logf("%s%s (%g Mbit/s): %s", d.dir, step, d.want/1e6, strings.Join(got, "; "))
		if d.dir == "up" {
			// sub's TCP loss recovery, cumulative since boot, after each run.
			for _, l := range strings.Split(r.Log, "\n") {
				if strings.Contains(l, "VMLAB-LOG after up"+step+".") {
					t.Logf("  %s", strings.TrimSpace(l[strings.Index(l, "after "):]))
				}
			}
		}
		if !ok {
			t.Errorf("%s%s: no run within ±10 %% of %g Mbit/s: %s", d.dir, step, d.want/1e6, strings.Join(got, "; "))
		}
	}
}

// liveChanges checks the CoA step (radclient, Mikrotik-Rate-Limit 1M/2M:
// 2M down, 1M up) and the restore step (shaper restore: back to the
// authorized 10M/5M) of the kernel-pppd scenario. dev is the session's
// pppN, local the subscriber's address.
func liveChanges(t *testing.T, r *Result, dev, local string) {
	t.Helper()
	if r.Get("coa_rc") != "0" || r.Get("coa_reply") != "Received CoA-ACK" {
		t.Errorf("radclient CoA-Request: exit %s, reply %q, want a CoA-ACK", r.Get("coa_rc"), r.Get("coa_reply"))
	}
	if r.Get("restore_rc") != "0" {
		t.Errorf("bngbox cli shaper restore user1: exit %s: %s", r.Get("restore_rc"), r.Get("restore_out"))
	}
	prev := sessionIn(t, r, "sessions_pre_coa")
	id := prev.ID
	for _, st := range []struct {
		name      string
		down, up  float64
		tbf, pol  string
		authRates vmRates
	}{
		{"coa", 2e6, 1e6, "rate 2Mbit ", "rate 1Mbit " + policeBurst(t, 1e6), vmRates{policeDown, policeUp}},
		{"restore", policeDown, policeUp, "rate 10Mbit ", "rate 5Mbit " + policeBurst(t, policeUp), vmRates{policeDown, policeUp}},
	} {
		s := sessionIn(t, r, "sessions_"+st.name)
		t.Logf("%s: session %s on %s, rates %+v, auth_rates %+v", st.name, s.ID, s.Ifname, s.Rates, s.AuthRates)
		if s.ID != id || s.Ifname != dev || s.State != "active" {
			t.Errorf("%s: session %s on %s (%s), want %s on %s still active", st.name, s.ID, s.Ifname, s.State, id, dev)
		}
		if s.Rates != (vmRates{st.down, st.up}) || s.AuthRates != st.authRates {
			t.Errorf("%s: rates %+v, auth_rates %+v; want %+v and %+v", st.name, s.Rates, s.AuthRates, vmRates{st.down, st.up}, st.authRates)
		}
		filter, qdisc := strings.ReplaceAll(r.Get("filter_"+st.name), "|", "\n"), strings.ReplaceAll(r.Get("qdisc_"+st.name), "|", "\n")
		if !strings.Contains(filter, st.pol) || !strings.Contains(qdisc, "qdisc tbf 1: root") || !strings.Contains(qdisc, st.tbf) {
			t.Errorf("%s: want tbf %q and police %q on %s:\n%s\n%s", st.name, st.tbf, st.pol, dev, qdisc, filter)
		}
		checkTCPRates(t, r, st.name, st.down, st.up)

		after := sessionIn(t, r, "sessions_"+st.name+"_after")
		t.Logf("%s: rx_bytes %d → %d, tx_bytes %d → %d", st.name, prev.Stats.RxBytes, after.Stats.RxBytes, prev.Stats.TxBytes, after.Stats.TxBytes)
		if after.ID != id || after.Stats.RxBytes <= prev.Stats.RxBytes || after.Stats.TxBytes <= prev.Stats.TxBytes {
			t.Errorf("%s: session %s counters rx %d → %d, tx %d → %d: want the same session with growing counters",
				st.name, after.ID, prev.Stats.RxBytes, after.Stats.RxBytes, prev.Stats.TxBytes, after.Stats.TxBytes)
		}
		prev = after
		if r.Get("pppd_up_"+st.name) != "1" || r.Get("sub_ppp0_"+st.name) != local {
			t.Errorf("%s: pppd up %q, sub's ppp0 %q: want pppd running with %s", st.name, r.Get("pppd_up_"+st.name), r.Get("sub_ppp0_"+st.name), local)
		}
		if got := r.Get("ppp_ifaces_" + st.name); got != dev {
			t.Errorf("%s: bngbox side interfaces %q, want %s", st.name, got, dev)
		}
	}
}
