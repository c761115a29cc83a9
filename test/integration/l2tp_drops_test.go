//go:build integration

package integration

// Topology: the L2TP lab of l2tp_test.go; junk is sent from sub to the
// LNS socket (10.255.0.1:1701) with bash's /dev/udp.

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// statDrops returns `show stat json` drops.
func (l *Lab) statDrops() map[string]uint64 {
	l.t.Helper()
	out, err := l.CLI("show", "stat", "json")
	if err != nil {
		l.t.Fatalf("show stat json: %v\n%s", err, out)
	}
	var st struct {
		Drops map[string]uint64 `json:"drops"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		l.t.Fatalf("show stat json: %v\n%s", err, out)
	}
	return st.Drops
}

// TestIntegrationL2TPDrops sends junk to the LNS: a short packet, a bad
// version, a control message and a data message for tunnels that do not
// exist; `show stat json` counts them by reason (every L2TP reason is
// listed, zero or not) and `show stat` lists the non-zero ones.
func TestIntegrationL2TPDrops(t *testing.T) {
	l := newL2TPLab(t, 1, "10s")
	l.StartDaemon()
	before := l.statDrops()
	for _, r := range []string{"malformed", "unknown_tunnel", "unknown_session", "out_of_window", "late_data"} {
		v, ok := before["l2tp-"+r]
		if !ok || v != 0 {
			t.Errorf("before: drops[l2tp-%s] = %d (present %v), want 0", r, v, ok)
		}
	}
	send := func(hexBytes string) {
		t.Helper()
		var esc strings.Builder
		for _, b := range strings.Fields(hexBytes) {
			esc.WriteString(`\x` + b)
		}
		if out, err := l.Try(l.Sub, "bash", "-c", `printf '`+esc.String()+`' > /dev/udp/`+lnsAddr+`/1701`); err != nil {
			t.Fatalf("send: %v\n%s", err, out)
		}
	}
	send("c8")                                                          // shorter than a header
	send("00 03 00 01 00 01")                                           // version 3
	send("c8 02 00 0c 12 34 00 00 00 00 00 00")                         // ZLB to a tunnel we do not have
	send("00 02 12 34 00 01 ff 03 00 21 45 00")                         // data to a tunnel we do not have
	send("c8 02 00 14 00 00 00 00 00 00 00 00 80 08 00 00 00 00 00 06") // tunnel 0, Hello: not an SCCRQ
	want := map[string]uint64{"l2tp-malformed": 3, "l2tp-unknown_tunnel": 2}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := l.statDrops()
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("drops = %v, want %v", got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, err := l.CLI("show", "stat")
	if err != nil || !strings.Contains(out, "l2tp-malformed:") || !strings.Contains(out, "l2tp-unknown_tunnel:") ||
		strings.Contains(out, "l2tp-late_data") {
		t.Errorf("show stat: %v\n%s", err, out)
	}
	// The LNS still works after the junk.
	lg, err := l.Loadgen(lac("-n", "1", "--ping", inetAddr)...)
	if err != nil || !strings.Contains(lg, "sessions up: 1/1") {
		t.Fatalf("loadgen after junk: %v\n%s", err, lg)
	}
}
