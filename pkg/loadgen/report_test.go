package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestReportString(t *testing.T) {
	tests := []struct {
		name     string
		r        Report
		want     []string
		wantNone []string
	}{
		{
			name:     "plain",
			r:        Report{Attempted: 2, Up: 2, SetupElapsed: time.Second, SetupRate: 2},
			want:     []string{"sessions up: 2/2 (failed 0)"},
			wantNone: []string{"hold ping", "echo requests answered", "PADT from AC", "dropped by AC"},
		},
		{
			name: "auth failure",
			r:    Report{Attempted: 3, Failed: 3, Errors: map[string]int{"auth failed: authentication failed": 3}},
			want: []string{"sessions up: 0/3 (failed 3)", "auth failed: authentication failed: 3"},
		},
		{
			name:     "hold pings without loss",
			r:        Report{Attempted: 1, Up: 1, HoldPingSent: 50, EchoAnswered: 4, PADTRecv: 1, DroppedByAC: 1},
			want:     []string{"hold ping 50/50 lost 0", "echo requests answered: 4", "PADT from AC: 1", "dropped by AC while held: 1"},
			wantNone: []string{"worst second"},
		},
		{
			name: "hold pings with loss",
			r: Report{Attempted: 1, Up: 1, HoldPingSent: 50, HoldPingLost: 3,
				HoldWorstLost: 2, HoldWorstSent: 5, HoldWorstAt: 7 * time.Second},
			want: []string{"hold ping 47/50 lost 3 (worst second at 7s: 2/5 lost)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.r.String()
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("%q lacks %q", s, w)
				}
			}
			for _, w := range tt.wantNone {
				if strings.Contains(s, w) {
					t.Errorf("%q has %q", s, w)
				}
			}
		})
	}
}
