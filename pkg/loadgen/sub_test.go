package loadgen

import "testing"

func TestFormatIdx(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{format: "user%04d", want: "user0007"},
		{format: "shaped", want: "shaped"},
		{format: "pw%d", want: "pw7"},
		{format: "", want: ""},
	} {
		if got := formatIdx(tc.format, 7); got != tc.want {
			t.Errorf("formatIdx(%q, 7) = %q, want %q", tc.format, got, tc.want)
		}
	}
}

func TestTUNName(t *testing.T) {
	if got := TUNName(12); got != "lg12" {
		t.Errorf("TUNName(12) = %q", got)
	}
}
