package aaa_test

import (
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/mgmt"
)

// TestSessionIDs: IDs are 16 hex digits, unique, and what the management
// API's selectors take for an Acct-Session-Id (not a username).
func TestSessionIDs(t *testing.T) {
	g := aaa.NewSessionIDs(time.Unix(1_800_000_000, 0))
	seen := map[string]bool{}
	for range 1000 {
		s := g.Next()
		if len(s) != 16 || seen[s] {
			t.Fatalf("bad or duplicate session ID %q", s)
		}
		if sel, err := mgmt.ParseSelector(s); err != nil || sel.Kind != mgmt.BySID {
			t.Fatalf("session ID %q parses as %+v, %v", s, sel, err)
		}
		seen[s] = true
	}
	if first := aaa.NewSessionIDs(time.Unix(1_800_000_000, 0)).Next(); first != "6b49d20000000001" {
		t.Errorf("first ID %q, want the start time then 1", first)
	}
}
