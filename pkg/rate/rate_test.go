package rate

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rates
		bad  bool
	}{
		{in: "10M/5M", want: Rates{Down: 10e6, Up: 5e6}},
		{in: "512k/256K", want: Rates{Down: 512e3, Up: 256e3}},
		{in: "1.5M/1G", want: Rates{Down: 1.5e6, Up: 1e9}},
		{in: "1000/2000", want: Rates{Down: 1000, Up: 2000}},
		{in: "10M", bad: true},
		{in: "10Mx/5M", bad: true},
		{in: "-1/5M", bad: true},
		{in: "/5M", bad: true},
		{in: "1 0/5M", bad: true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("Parse(%q) err = %v, want bad=%v", tc.in, err, tc.bad)
			continue
		}
		if !tc.bad && got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, r := range []Rates{{Down: 10e6, Up: 5e6}, {Down: 2e9, Up: 512e3}, {Down: 1234, Up: 1}} {
		got, err := Parse(r.String())
		if err != nil || got != r {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", r.String(), got, err, r)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"10M/5M", "1.5k/2G", "x", "/", "1e3/1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		if r.Down > 1e12 || r.Up > 1e12 {
			t.Fatalf("Parse(%q) = %+v beyond bound", s, r)
		}
	})
}
