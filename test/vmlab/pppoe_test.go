//go:build vmlab

package vmlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

const (
	vmUser = "vmuser@lab.test"
	vmPass = "vm-secret"
	bngIP  = "100.64.0.1"
	dns    = "192.0.2.53,192.0.2.54"
)

// startBNG runs the userspace daemon on the host namespace with the tap as
// its access interface. It returns the accounting file's path.
func (h *Host) startBNG(t *testing.T) string {
	t.Helper()
	users := fmt.Sprintf("users:\n  - {name: %q, password: %q}\n", vmUser, vmPass)
	os.WriteFile(filepath.Join(h.Dir, "users.yaml"), []byte(users), 0o600)
	acct := filepath.Join(h.Dir, "acct.jsonl")
	cfg := fmt.Sprintf(`log: {level: debug}
dataplane: userspace
pppoe:
  interfaces:
    - name: %s
ppp:
  auth: [chap, pap]
  lcp-echo-interval: 10s
  local-ip: %s
  dns: [%s]
pools:
  - {name: default, range: 100.64.0.0/24}
auth: {backend: local, users-file: users.yaml}
accounting: {file: acct.jsonl, interim-interval: 0s}
cli: {socket: %s}
`, h.Tap, bngIP, strings.ReplaceAll(dns, ",", ", "), filepath.Join(h.Dir, "cli.sock"))
	path := filepath.Join(h.Dir, "bngbox.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	d := h.Start(h.NS, bin(t), "run", "-c", path)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.WaitOutput(ctx, "bngbox running"); err != nil {
		t.Fatal(err)
	}
	return acct
}

// TestVMPPPoEClientUserspace: pppd with its PPPoE plugin in the guest, PAP
// then CHAP, against the userspace daemon on the host: address, DNS, ping
// to the BNG, clean hangup (PADT both ways, Acct-Stop User-Request).
func TestVMPPPoEClientUserspace(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatal("tshark is required (apt-get install tshark)")
	}
	h := newHost(t)
	acct := h.startBNG(t)
	pcap := filepath.Join(h.Dir, "disc.pcap")
	ts := h.Start(h.NS, "tshark", "-q", "-i", h.Tap, "-f", "ether proto 0x8863", "-w", pcap)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ts.WaitOutput(ctx, "Capture started"); err != nil {
		t.Fatal(err)
	}

	r := h.Boot("pppoe-client", map[string]string{"user": vmUser, "pass": vmPass, "auths": "pap,chap", "ping": bngIP})
	pool := netip.MustParsePrefix("100.64.0.0/24")
	for _, auth := range []string{"pap", "chap"} {
		want := map[string]string{"pppd_rc": "0", "peer": bngIP, "dns": dns, "ping": "ok", "hangup": "ok", "mtu": "1492"}
		for k, v := range want {
			if got := r.Get(auth + "." + k); got != v {
				t.Errorf("%s: %s = %q, want %q", auth, k, got, v)
			}
		}
		if a, err := netip.ParseAddr(r.Get(auth + ".local")); err != nil || !pool.Contains(a) || a.String() == bngIP {
			t.Errorf("%s: local address %q, want one from %v", auth, r.Get(auth+".local"), pool)
		}
		if r.Get(auth+".iface_left") != "" {
			t.Errorf("%s: ppp interface still there after hangup", auth)
		}
		t.Logf("%s: pppd start to ip-up %s s", auth, r.Get(auth+".up_seconds"))
	}

	// Accounting: one User-Request stop per session. The last one may
	// still be on its way when the guest powers off.
	var data []byte
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if data, _ = os.ReadFile(acct); strings.Count(string(data), `"type":"stop"`) >= 2 {
			break
		}
	}
	stops := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct {
			Type  string `json:"type"`
			User  string `json:"username"`
			Cause string `json:"terminate_cause"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Type != "stop" {
			continue
		}
		stops++
		if rec.User != vmUser || rec.Cause != "User-Request" {
			t.Errorf("accounting stop %s", line)
		}
	}
	if stops != 2 {
		t.Errorf("%d accounting stops, want 2:\n%s", stops, data)
	}

	// PADTs. bngbox sends one per session after the LCP Terminate
	// exchange. pppd 2.4.9's PPPoE plugin closes its discovery socket once
	// the session is up and so sends none on a normal hangup (it logs
	// "Sent PADT" only when discovery fails); its PADTs are counted and
	// logged, not required.
	time.Sleep(1500 * time.Millisecond)
	ts.Stop(5 * time.Second)
	os.Chmod(h.Dir, 0o755)
	os.Chmod(pcap, 0o644)
	out, err := exec.Command("tshark", "-r", pcap, "-Y", "pppoe.code == 0xa7", "-T", "fields", "-e", "eth.src", "-e", "pppoe.session_id").Output()
	if err != nil {
		t.Fatalf("tshark -r: %v\n%s", err, out)
	}
	fromGuest, fromBNG := map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || strings.Count(f[0], ":") != 5 {
			continue
		}
		if f[0] == guestMAC {
			fromGuest[f[1]] = true
		} else {
			fromBNG[f[1]] = true
		}
	}
	t.Logf("PADTs: from the BNG for sessions %v, from the guest for %v", keys(fromBNG), keys(fromGuest))
	if len(fromBNG) != 2 {
		all, _ := exec.Command("tshark", "-r", pcap).Output()
		t.Errorf("PADT from the BNG for %d sessions, want 2; discovery capture:\n%s", len(fromBNG), all)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
