//go:build integration

package integration

// A RADIUS-authenticated session that moves more than 4 GiB, and the
// accounting FreeRADIUS writes for it, number for number:
//
//	sub ──────────(sub0 ↔ acc0)────────── bng ─────(up0 ↔ inet0)───── inet
//	loadgen --tun: lg1 100.64.200.9       bngbox: pppN                 iperf3 -s
//	iperf3 -c 198.51.100.2 -B <ip> -P 2     │ udp 127.0.0.1:1812/1813   198.51.100.2
//	  (upstream, > 2^32 bytes)              freeradius -f (detail file)
//
// bulk0001 authenticates with CHAP against FreeRADIUS (radUsers in
// radius_test.go); accounting goes to the same FreeRADIUS with an interim
// every 10 s.

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/dataplane"
)

// bulkPayload is what iperf3 sends (-n): more than 2^32 bytes of TCP
// payload alone, so the session's upstream counter passes 2^32 whatever
// the headers and retransmissions add.
const bulkPayload = "4100M" // 4100 MiB = 4,299,161,600 bytes

// sessionCounters is one session of `show sessions json`, with the 64-bit
// counters decoded as integers.
type sessionCounters struct {
	ID     string          `json:"id"`
	User   string          `json:"username"`
	IP     string          `json:"ip"`
	Ifname string          `json:"ifname"`
	State  string          `json:"state"`
	Stats  dataplane.Stats `json:"stats"`
}

// sessionCountersOf returns the session of user from `show sessions json`.
func sessionCountersOf(l *Lab, user string) (sessionCounters, bool) {
	l.t.Helper()
	out, err := l.CLI("show", "sessions", "json")
	if err != nil {
		l.t.Fatalf("show sessions: %v\n%s", err, out)
	}
	var ss []sessionCounters
	if err := json.Unmarshal([]byte(out), &ss); err != nil {
		l.t.Fatalf("show sessions json: %v\n%s", err, out)
	}
	for _, s := range ss {
		if s.User == user {
			return s, true
		}
	}
	return sessionCounters{}, false
}

// kernelStats is the kernel's count on a device (`ip -s -j link show`). On
// a TUN device rx is what the owner wrote into it and tx what the owner
// read from it.
func kernelStats(l *Lab, ns, dev string) dataplane.Stats {
	l.t.Helper()
	out := l.Exec(ns, "ip", "-s", "-j", "link", "show", "dev", dev)
	type dir struct {
		Bytes   uint64 `json:"bytes"`
		Packets uint64 `json:"packets"`
		Dropped uint64 `json:"dropped"`
	}
	var v []struct {
		Stats64 struct {
			RX dir `json:"rx"`
			TX dir `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		l.t.Fatalf("ip -s -j link show dev %s: %v\n%s", dev, err, out)
	}
	s := v[0].Stats64
	return dataplane.Stats{RxBytes: s.RX.Bytes, RxPackets: s.RX.Packets, TxBytes: s.TX.Bytes, TxPackets: s.TX.Packets}
}

// detailStats reassembles the 64-bit counters of an accounting record
// (RFC 2869 §5.1-5.2: Gigawords<<32 + Octets). Input is from the
// subscriber, like the dataplane's Rx.
func detailStats(t *testing.T, r map[string]string) dataplane.Stats {
	t.Helper()
	u := func(k string) uint64 {
		v, err := strconv.ParseUint(r[k], 10, 32)
		if err != nil {
			t.Errorf("%s record: %s = %q: %v", r["Acct-Status-Type"], k, r[k], err)
		}
		return v
	}
	return dataplane.Stats{
		RxBytes: u("Acct-Input-Gigawords")<<32 | u("Acct-Input-Octets"), RxPackets: u("Acct-Input-Packets"),
		TxBytes: u("Acct-Output-Gigawords")<<32 | u("Acct-Output-Octets"), TxPackets: u("Acct-Output-Packets"),
	}
}

// eventTime parses FreeRADIUS's rendering of Event-Timestamp ("Dec  7 2026
// 00:45:12 UTC"): local time of the FreeRADIUS process, which has our
// environment (TZ), so the abbreviation resolves in time.Local.
func eventTime(t *testing.T, r map[string]string) time.Time {
	t.Helper()
	ts, err := time.ParseInLocation("Jan _2 2006 15:04:05 MST", r["Event-Timestamp"], time.Local)
	if err != nil {
		t.Fatalf("%s record: Event-Timestamp: %v", r["Acct-Status-Type"], err)
	}
	return ts
}

// checkCounters compares an accounting record with bngbox's counters field
// by field, and checks the wire split of the octet counters.
func checkCounters(t *testing.T, what string, r map[string]string, want dataplane.Stats) {
	t.Helper()
	for _, f := range []struct {
		attr string
		want uint64
	}{
		{"Acct-Input-Octets", want.RxBytes & 0xffffffff},
		{"Acct-Input-Gigawords", want.RxBytes >> 32},
		{"Acct-Input-Packets", want.RxPackets},
		{"Acct-Output-Octets", want.TxBytes & 0xffffffff},
		{"Acct-Output-Gigawords", want.TxBytes >> 32},
		{"Acct-Output-Packets", want.TxPackets},
	} {
		if got := r[f.attr]; got != strconv.FormatUint(f.want, 10) {
			t.Errorf("%s: %s = %q, bngbox counts %d", what, f.attr, got, f.want)
		}
	}
	if got := detailStats(t, r); got != want {
		t.Errorf("%s: counters %+v, bngbox %+v", what, got, want)
	}
}

// TestIntegrationRADIUSGigawords: a CHAP subscriber authenticated by
// FreeRADIUS sends more than 4 GiB upstream through the session (iperf3
// over the loadgen's TUN device). bngbox's counters equal the kernel's on
// the session device; the Interim-Update sent after the traffic and the
// Stop carry exactly those counters, with Acct-Input-Gigawords ≥ 1.
func TestIntegrationRADIUSGigawords(t *testing.T) {
	requireRADIUSTools(t)
	requireTool(t, "iperf3")
	l := newLab(t, LabOptions{AAA: radiusAAA("radius", "10s"), Config: radiusConfig(t)})
	fr := newFreeRADIUS(t)
	fr.start(l)
	l.StartDaemon()

	lg := l.StartLoadgen("-n", "1", "--user", "bulk%04d", "--auth", "chap", "--tun", "--hold", "-1s", "-v")
	var ip string
	l.WaitFor("the loadgen's TUN device", 30*time.Second, func() bool {
		m := regexp.MustCompile(`tun lg1 (\S+) up`).FindStringSubmatch(lg.Out.String())
		if m != nil {
			ip = m[1]
		}
		return m != nil
	})
	var sess sessionCounters
	l.WaitFor("bulk0001 active", 10*time.Second, func() bool {
		var ok bool
		sess, ok = sessionCountersOf(l, "bulk0001")
		return ok && sess.State == "active"
	})
	if sess.IP != "100.64.200.9" || ip != sess.IP || sess.Ifname == "" {
		t.Fatalf("session %+v, loadgen TUN address %s; want 100.64.200.9 from RADIUS", sess, ip)
	}

	// > 2^32 bytes upstream, the faster direction through the two
	// userspace PPPoE ends. Two TCP streams: on a quiet machine one ran at
	// ~560 Mbit/s, two at ~750, four no faster; downstream ran at ~400.
	l.Start(l.Inet, "iperf3", "-s", "-B", inetAddr)
	args := []string{"iperf3", "-c", inetAddr, "-B", ip, "-n", bulkPayload, "-P", "2", "-J"}
	start := time.Now()
	var out string
	var err error
	for try := 0; try < 10; try++ { // the server may not listen yet
		// iperf3 -J can exit 0 with the refusal only in its JSON.
		if out, err = l.Try(l.Sub, args...); !strings.Contains(out, "unable to connect") {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	elapsed := time.Since(start)
	// sum_received is what the server counted until the client's end of
	// test, which may miss the last bytes in flight: it can be < 2^32.
	var res struct {
		End struct {
			SumSent     struct{ Bytes uint64 } `json:"sum_sent"`
			SumReceived struct{ Bytes uint64 } `json:"sum_received"`
		} `json:"end"`
	}
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.End.SumSent.Bytes <= 1<<32 {
		t.Fatalf("iperf3 (%v): %+v\n%s", err, res.End, tail(out, 2000))
	}
	t.Logf("iperf3: %d bytes sent, %d received in %v (%.0f Mbit/s)", res.End.SumSent.Bytes, res.End.SumReceived.Bytes,
		elapsed.Round(time.Millisecond), float64(res.End.SumReceived.Bytes)*8/elapsed.Seconds()/1e6)

	// The TCP teardown after iperf3 exits still crosses the session: wait
	// until the counters stand still. settled is a moment after a snapshot
	// whose counters never changed again (checked below).
	snap := func() sessionCounters {
		s, ok := sessionCountersOf(l, "bulk0001")
		if !ok {
			t.Fatal("bulk0001 session gone")
		}
		return s
	}
	prev := snap()
	prevAt := time.Now()
	var s1 sessionCounters
	var settled time.Time
	l.WaitFor("the session's counters to stand still", 30*time.Second, func() bool {
		time.Sleep(time.Second)
		cur := snap()
		if cur.Stats == prev.Stats {
			s1, settled = cur, prevAt
			return true
		}
		prev, prevAt = cur, time.Now()
		return false
	})
	t.Logf("bngbox counters after the traffic: %+v", s1.Stats)
	if s1.Stats.RxBytes <= 1<<32 {
		t.Fatalf("rx_bytes %d: the session did not carry more than 2^32 bytes upstream", s1.Stats.RxBytes)
	}
	if s1.Stats.RxBytes < res.End.SumReceived.Bytes {
		t.Errorf("rx_bytes %d < %d bytes of TCP payload iperf3 received through the session", s1.Stats.RxBytes, res.End.SumReceived.Bytes)
	}
	// bngbox counts IP packets it wrote into (rx) and read from (tx) the
	// session's TUN device: exactly what the kernel counts on that device.
	if k := kernelStats(l, l.BNG, s1.Ifname); k != s1.Stats {
		t.Errorf("kernel counters on %s %+v, bngbox %+v", s1.Ifname, k, s1.Stats)
	}

	// An Interim-Update generated after the counters settled.
	var interim map[string]string
	l.WaitFor("an Interim-Update after the traffic", 40*time.Second, func() bool {
		for _, r := range records(fr.detail(t), "Interim-Update", "bulk0001") {
			if r["Acct-Session-Id"] == s1.ID && eventTime(t, r).Unix() > settled.Unix() {
				interim = r
				return true
			}
		}
		return false
	})
	s2 := snap()
	if s2.Stats != s1.Stats {
		t.Fatalf("counters moved without traffic: %+v, then %+v", s1.Stats, s2.Stats)
	}
	if k := kernelStats(l, l.BNG, s2.Ifname); k != s2.Stats {
		t.Errorf("kernel counters on %s %+v, bngbox %+v", s2.Ifname, k, s2.Stats)
	}
	checkCounters(t, "Interim-Update after the traffic", interim, s2.Stats)
	if g, _ := strconv.ParseUint(interim["Acct-Input-Gigawords"], 10, 32); g < 1 {
		t.Errorf("Interim-Update: Acct-Input-Gigawords %q, want ≥ 1", interim["Acct-Input-Gigawords"])
	}

	// Hang up: the Stop carries the same counters.
	lg.Stop(10 * time.Second)
	if o := lg.Out.String(); !strings.Contains(o, "sessions up: 1/1") || strings.Contains(o, "dropped by AC") {
		t.Errorf("loadgen:\n%s", o)
	}
	var recs []map[string]string
	l.WaitFor("the Stop record", 30*time.Second, func() bool {
		recs = fr.detail(t)
		return len(records(recs, "Stop", "bulk0001")) > 0
	})
	starts, stops := records(recs, "Start", "bulk0001"), records(recs, "Stop", "bulk0001")
	if len(starts) != 1 || len(stops) != 1 {
		t.Fatalf("%d Start and %d Stop records for bulk0001, want 1 each", len(starts), len(stops))
	}
	stop := stops[0]
	if stop["Acct-Session-Id"] != s1.ID || starts[0]["Acct-Session-Id"] != s1.ID {
		t.Errorf("Acct-Session-Id start %q stop %q, session %s", starts[0]["Acct-Session-Id"], stop["Acct-Session-Id"], s1.ID)
	}
	if stop["Acct-Terminate-Cause"] != "User-Request" || stop["Framed-IP-Address"] != "100.64.200.9" || stop["Class"] != "0x62756c6b" {
		t.Errorf("Stop: cause %q, Framed-IP-Address %q, Class %q; want User-Request, 100.64.200.9, 0x62756c6b (\"bulk\")",
			stop["Acct-Terminate-Cause"], stop["Framed-IP-Address"], stop["Class"])
	}
	checkCounters(t, "Stop", stop, s2.Stats)
	if g, _ := strconv.ParseUint(stop["Acct-Input-Gigawords"], 10, 32); g < 1 {
		t.Errorf("Stop: Acct-Input-Gigawords %q, want ≥ 1", stop["Acct-Input-Gigawords"])
	}

	// Every interim of the session (some during the traffic): counters
	// only grow, up to the Stop's.
	var last dataplane.Stats
	interims := records(recs, "Interim-Update", "bulk0001")
	for i, r := range interims {
		st := detailStats(t, r)
		if r["Acct-Session-Id"] != s1.ID || r["Class"] != "0x62756c6b" {
			t.Errorf("interim %d: Acct-Session-Id %q Class %q", i, r["Acct-Session-Id"], r["Class"])
		}
		if st.RxBytes < last.RxBytes || st.RxPackets < last.RxPackets || st.TxBytes < last.TxBytes || st.TxPackets < last.TxPackets {
			t.Errorf("interim %d counters %+v went back from %+v", i, st, last)
		}
		last = st
	}
	if last != s2.Stats {
		t.Errorf("last interim %+v, final counters %+v", last, s2.Stats)
	}
	t.Logf("%d interims; Stop: Acct-Input-Gigawords %s Acct-Input-Octets %s Acct-Input-Packets %s, Acct-Output-Octets %s Acct-Output-Packets %s",
		len(interims), stop["Acct-Input-Gigawords"], stop["Acct-Input-Octets"], stop["Acct-Input-Packets"], stop["Acct-Output-Octets"], stop["Acct-Output-Packets"])
}

// requireTool fails the test when a program it runs is not installed.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is required: %v", name, err)
	}
}
