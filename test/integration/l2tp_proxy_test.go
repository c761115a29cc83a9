//go:build integration

package integration

// Topology: the L2TP lab of l2tp_test.go (loadgen LAC in sub, bngbox LNS in
// bng, pings to inet), with the LAC sending proxy LCP and proxy
// authentication AVPs (loadgen --l2tp-proxy-auth).

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const proxyTakenOver = "PPP taken over from the LAC's proxy LCP/authentication"

// TestIntegrationL2TPProxyAuth: with l2tp.proxy-auth: accept, calls whose
// ICCN carries proxy LCP and PAP or CHAP credentials (hidden AVPs) come up
// without bngbox renegotiating: the credentials go to AAA (local users),
// the verdict goes to the subscriber, pings pass. A wrong proxied password
// is refused. With the default (renegotiate) the same calls come up
// through bngbox's own LCP and CHAP.
func TestIntegrationL2TPProxyAuth(t *testing.T) {
	const n = 20
	for _, tc := range []struct {
		name, policy string
		takeover     bool
	}{
		{"accept", "  proxy-auth: accept\n", true},
		{"renegotiate", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newL2TPLab(t, n, "10s", LabOptions{Config: tc.policy})
			d := l.StartDaemon()
			for i, auth := range []string{"chap", "pap"} {
				out, err := l.Loadgen(lac("-n", fmt.Sprint(n), "--tunnels", "2", "--auth", auth, "--l2tp-proxy-auth",
					"--ping", inetAddr, "--timeout", "60s")...)
				if err != nil || !strings.Contains(out, fmt.Sprintf("sessions up: %d/%d", n, n)) || !strings.Contains(out, fmt.Sprintf("ping %d/%d", n, n)) {
					t.Fatalf("%s: loadgen: %v\n%s", auth, err, out)
				}
				want := 0
				if tc.takeover {
					want = (i + 1) * n
				}
				if got := strings.Count(d.Out.String(), proxyTakenOver); got != want {
					t.Errorf("%s: %d sessions taken over from the proxy, want %d", auth, got, want)
				}
				l.WaitFor("sessions gone", 60*time.Second, func() bool { return len(l.Sessions()) == 0 })
			}
			acct := l.Acct()
			if s := count(acct, "start", ""); s != 2*n {
				t.Errorf("accounting starts %d, want %d", s, 2*n)
			}
			out, err := l.Loadgen(lac("-n", "1", "--auth", "chap", "--l2tp-proxy-auth", "--password", "wrong", "--timeout", "20s")...)
			if err == nil || !strings.Contains(out, "sessions up: 0/1") || !strings.Contains(out, "auth failed") {
				t.Errorf("wrong proxied password: %v\n%s", err, out)
			}
		})
	}
}
