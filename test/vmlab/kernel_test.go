//go:build vmlab

package vmlab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVMKernelDataplane: bngbox in the guest with dataplane: kernel (pppoe
// + ppp_generic, pppN interfaces), subscribers emulated from the host by
// bngbox loadgen on the tap. Sessions come up, a pppN per session carries
// the pings, `show sessions json` reports the kernel's counters, and the
// pppN interfaces go when the subscribers hang up.
func TestVMKernelDataplane(t *testing.T) {
	const sessions, pings = 2, 5
	h := newHost(t)
	vm := h.StartVM("kernel-bng", map[string]string{"sessions": fmt.Sprint(sessions), "pings": fmt.Sprint(pings)})
	vm.WaitLine("VMLAB-READY")
	pcap := filepath.Join(h.Dir, "tap.pcap")
	ts := h.Start(h.NS, "tshark", "-q", "-i", h.Tap, "-w", pcap)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ts.WaitOutput(ctx, "Capture started"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			ts.Stop(5 * time.Second)
			os.Chmod(h.Dir, 0o755)
			os.Chmod(pcap, 0o644)
			out, _ := exec.Command("tshark", "-r", pcap).Output()
			t.Logf("tap capture:\n%s", out)
		}
	})
	out, err := h.Try(h.NS, bin(t), "loadgen", "-i", h.Tap, "-n", fmt.Sprint(sessions), "--auth", "any",
		"--ping", bngIP, "--ping-count", fmt.Sprint(pings), "--hold", "20s", "--timeout", "120s", "-v")
	t.Logf("loadgen:\n%s", out)
	if err != nil {
		t.Errorf("loadgen: %v", err)
	}
	r := vm.Wait()

	if got := r.Get("dataplane"); got != "kernel" {
		t.Fatalf("guest daemon's dataplane = %q, want kernel", got)
	}
	if r.Get("sessions_ok") != "1" {
		t.Errorf("the guest did not see %d active sessions with %d packets each", sessions, pings)
	}
	var infos []struct {
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
	if err := json.Unmarshal([]byte(r.Get("sessions")), &infos); err != nil {
		t.Fatalf("show sessions json from the guest: %v: %q", err, r.Get("sessions"))
	}
	if len(infos) != sessions {
		t.Errorf("%d sessions, want %d", len(infos), sessions)
	}
	for _, in := range infos {
		if !strings.HasPrefix(in.Ifname, "ppp") || in.State != "active" {
			t.Errorf("session %+v: want an active pppN", in)
		}
		// pings echo requests in, as many replies out; at least an IPv4
		// and an ICMP header (28 bytes) each.
		if in.Stats.RxPackets < pings || in.Stats.TxPackets < pings || in.Stats.RxBytes < pings*28 || in.Stats.TxBytes < pings*28 {
			t.Errorf("session %s counters %+v: want at least %d packets each way", in.Ifname, in.Stats, pings)
		}
		if k := r.Get(in.Ifname + ".kernel_rx_packets"); k == "" || k == "0" {
			t.Errorf("%s: kernel rx_packets %q", in.Ifname, k)
		}
		if mtu := r.Get(in.Ifname + ".mtu"); mtu != "1492" {
			t.Errorf("%s: mtu %s, want 1492", in.Ifname, mtu)
		}
		if a := r.Get(in.Ifname + ".addr"); a != bngIP+"_"+in.IP+"/32" {
			t.Errorf("%s: address %q, want %s peer %s/32", in.Ifname, a, bngIP, in.IP)
		}
	}
	if got := r.Get("ppp_ifaces_after"); got != "" {
		t.Errorf("ppp interfaces left after hangup: %s", got)
	}
	if got := r.Get("acct_stops"); got != fmt.Sprint(sessions) {
		t.Errorf("accounting stops %s, want %d", got, sessions)
	}
}
