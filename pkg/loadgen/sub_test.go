package loadgen

import "testing"

func TestTUNName(t *testing.T) {
	if got := TUNName(12); got != "lg12" {
		t.Errorf("TUNName(12) = %q", got)
	}
}
