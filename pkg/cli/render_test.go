package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/session"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var testEnv = &env{now: func() time.Time { return testNow }}

// run executes line against a fresh fake and returns the output, with the
// error (if any) formatted as the shell would print it.
func run(t *testing.T, api *fakeAPI, line string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	_, err := testEnv.exec(context.Background(), api, strings.Fields(line), &out)
	if err != nil {
		out.WriteString(FormatError(err))
	}
	return out.String(), err
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name, line string
	}{
		{"sessions", "show sessions"},
		{"sessions_columns", "show sessions columns ifname,user,sid,rx-bytes,tx-bytes,rx-pkts,tx-pkts,tunnel,called-sid"},
		{"sessions_match_order", "show sessions match type pppoe order uptime"},
		{"sessions_json", "show sessions match username ^alice$ json"},
		{"session", "show session alice"},
		{"session_json", "show session ppp10 json"},
		{"stat", "show stat"},
		{"stat_json", "show stat json"},
		{"tunnels", "show tunnels"},
		{"pools", "show pools"},
		{"pools_json", "show pools json"},
		{"radius", "show radius"},
		{"version", "version"},
		{"help", "help"},
		{"terminate", "terminate alice"},
		{"shaper_set", "shaper set all 10M/2M"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := run(t, newFakeAPI(), tt.line)
			if err != nil {
				t.Fatalf("%s: %v", tt.line, err)
			}
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s: output differs from %s\n--- got:\n%s--- want:\n%s", tt.line, path, got, want)
			}
		})
	}
}

// The JSON of show sessions must parse back into the sessions.
func TestSessionsJSONRoundTrip(t *testing.T) {
	api := newFakeAPI()
	got, err := run(t, api, "show sessions json")
	if err != nil {
		t.Fatal(err)
	}
	var ss []session.Info
	if err := json.Unmarshal([]byte(got), &ss); err != nil {
		t.Fatalf("unmarshal: %v\n%s", err, got)
	}
	if len(ss) != len(api.sessions) {
		t.Fatalf("got %d sessions, want %d", len(ss), len(api.sessions))
	}
	byID := map[string]session.Info{}
	for _, s := range ss {
		byID[s.ID] = s
	}
	for _, want := range api.sessions {
		g := byID[want.ID]
		if g.User != want.User || g.IP != want.IP || g.IPv6 != want.IPv6 || g.Stats != want.Stats || g.Rates != want.Rates || !g.Started.Equal(want.Started) {
			t.Errorf("session %s: got %+v, want %+v", want.ID, g, want)
		}
	}
}

func TestEmptyListsJSON(t *testing.T) {
	api := &fakeAPI{}
	got, err := run(t, api, "show sessions json")
	if err != nil {
		t.Fatal(err)
	}
	if got != "[]\n" {
		t.Errorf("got %q, want []", got)
	}
}

func TestSanitize(t *testing.T) {
	api := newFakeAPI()
	api.sessions[0].User = "evil\x1b[2J"
	got, err := run(t, api, "show sessions columns username")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "\x1b") || !strings.Contains(got, `evil\x1b[2J`) {
		t.Errorf("escape not neutralized:\n%q", got)
	}
}
