package shaper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/bngbox/bngbox/pkg/rate"
)

// Commands for ppp0 with the default config (10ms burst time, 50ms latency,
// MTU 1500). 10M: 1.25 MB/s, burst 12500, limit 62500+12500.
const (
	down10   = "tc qdisc replace dev ppp0 root handle 1: tbf rate 10mbit burst 12500b limit 75000b"
	down2chg = "tc qdisc change dev ppp0 root handle 1: tbf rate 2mbit burst 3000b limit 15500b"
	down10ch = "tc qdisc change dev ppp0 root handle 1: tbf rate 10mbit burst 12500b limit 75000b"
	downDel  = "tc qdisc del dev ppp0 root handle 1: tbf"
	ingAdd   = "tc qdisc replace dev ppp0 handle ffff: ingress"
	ingDel   = "tc qdisc del dev ppp0 handle ffff: ingress"
	// Police buckets hold 300 ms of rate (PoliceBurstTime), not 10 ms.
	police5 = "tc filter replace dev ppp0 parent ffff: protocol all prio 1 handle 800::800 u32 match u32 0 0 action police rate 5mbit burst 187500b mtu 65535 drop"
	police1 = "tc filter replace dev ppp0 parent ffff: protocol all prio 1 handle 800::800 u32 match u32 0 0 action police rate 1mbit burst 37500b mtu 65535 drop"
	// ppp0 is the fake's first interface: ifindex 2, class 1:3.
	class5   = "tc class replace dev bngifb0 parent 1: classid 1:3 htb rate 5mbit ceil 5mbit burst 6250b cburst 6250b quantum 62500"
	class1   = "tc class replace dev bngifb0 parent 1: classid 1:3 htb rate 1mbit ceil 1mbit burst 3000b cburst 3000b quantum 12500"
	leaf5    = "tc qdisc replace dev bngifb0 parent 1:3 bfifo limit 37500b"
	leaf1    = "tc qdisc replace dev bngifb0 parent 1:3 bfifo limit 9250b"
	classDel = "tc class del dev bngifb0 classid 1:3"
	redirect = "tc filter replace dev ppp0 parent ffff: protocol all prio 1 handle 800::800 u32 match u32 0 0 action mirred egress redirect dev bngifb0"
)

// ifbSetup0 is what NewFake (like New) does in ifb mode.
var ifbSetup0 = []string{
	"ip link add bngifb0 txqueuelen 100 type ifb",
	"ip link set dev bngifb0 alias bngbox-shaper:shared addrgenmode none up",
	"tc qdisc replace dev bngifb0 root handle 1: htb r2q 10",
	"tc filter replace dev bngifb0 parent 1: protocol all prio 1 handle 1 bpf name bngbox_class (classid 1:(skb->ingress_ifindex % 0xfff0 + 1))",
}

// newFake returns a Fake whose setup transcript (ifb mode) is checked and
// taken.
func newFake(t testing.TB, mode Upstream) *Fake {
	t.Helper()
	f := NewFake(Config{Upstream: mode})
	want := []string(nil)
	if mode == UpstreamIFB {
		want = ifbSetup0
	}
	if got := f.Take(); !equal(got, want) {
		t.Fatalf("setup transcript:\n got %q\nwant %q", got, want)
	}
	return f
}

var (
	r10x5 = rate.Rates{Down: 10e6, Up: 5e6}
	r2x1  = rate.Rates{Down: 2e6, Up: 1e6}
)

// step is one call and the commands it must produce.
type step struct {
	clear bool
	r     rate.Rates
	want  []string
}

func TestFakeTranscript(t *testing.T) {
	tests := []struct {
		name  string
		mode  Upstream
		steps []step
	}{
		{
			name: "police set",
			mode: UpstreamPolice,
			steps: []step{
				{r: r10x5, want: []string{down10, ingAdd, police5}},
			},
		},
		{
			name: "auto means police on the fake",
			mode: UpstreamAuto,
			steps: []step{
				{r: r10x5, want: []string{down10, ingAdd, police5}},
			},
		},
		{
			name: "ifb set",
			mode: UpstreamIFB,
			steps: []step{
				{r: r10x5, want: []string{down10, class5, leaf5, ingAdd, redirect}},
			},
		},
		{
			name: "same again is no ops",
			mode: UpstreamIFB,
			steps: []step{
				{r: r10x5, want: []string{down10, class5, leaf5, ingAdd, redirect}},
				{r: r10x5, want: nil},
				{r: r10x5, want: nil},
			},
		},
		{
			name: "change down only",
			mode: UpstreamIFB,
			steps: []step{
				{r: r10x5, want: []string{down10, class5, leaf5, ingAdd, redirect}},
				{r: rate.Rates{Down: 2e6, Up: 5e6}, want: []string{down2chg}},
			},
		},
		{
			name: "change up only ifb",
			mode: UpstreamIFB,
			steps: []step{
				{r: r10x5, want: []string{down10, class5, leaf5, ingAdd, redirect}},
				{r: rate.Rates{Down: 10e6, Up: 1e6}, want: []string{class1, leaf1}},
			},
		},
		{
			name: "change up only police",
			mode: UpstreamPolice,
			steps: []step{
				{r: r10x5, want: []string{down10, ingAdd, police5}},
				{r: rate.Rates{Down: 10e6, Up: 1e6}, want: []string{police1}},
			},
		},
		{
			name: "change both then restore",
			mode: UpstreamIFB,
			steps: []step{
				{r: r10x5, want: []string{down10, class5, leaf5, ingAdd, redirect}},
				{r: r2x1, want: []string{down2chg, class1, leaf1}},
				{r: r10x5, want: []string{down10ch, class5, leaf5}},
			},
		},
		{
			name: "clear ifb removes redirect before class",
			mode: UpstreamIFB,
			steps: []step{
				{r: r10x5, want: []string{down10, class5, leaf5, ingAdd, redirect}},
				{clear: true, want: []string{downDel, ingDel, classDel}},
				{clear: true, want: nil},
			},
		},
		{
			name: "clear police",
			mode: UpstreamPolice,
			steps: []step{
				{r: r10x5, want: []string{down10, ingAdd, police5}},
				{clear: true, want: []string{downDel, ingDel}},
			},
		},
		{
			name: "clear of an unknown interface is no ops",
			mode: UpstreamIFB,
			steps: []step{
				{clear: true, want: nil},
			},
		},
		{
			name: "zero is unlimited: set zero removes everything",
			mode: UpstreamIFB,
			steps: []step{
				{r: r10x5, want: []string{down10, class5, leaf5, ingAdd, redirect}},
				{r: rate.Rates{}, want: []string{downDel, ingDel, classDel}},
				{r: rate.Rates{}, want: nil},
			},
		},
		{
			name: "zero down removes only the root tbf",
			mode: UpstreamIFB,
			steps: []step{
				{r: r10x5, want: []string{down10, class5, leaf5, ingAdd, redirect}},
				{r: rate.Rates{Up: 5e6}, want: []string{downDel}},
				{r: r10x5, want: []string{down10}},
			},
		},
		{
			name: "zero up removes only the upstream",
			mode: UpstreamIFB,
			steps: []step{
				{r: r10x5, want: []string{down10, class5, leaf5, ingAdd, redirect}},
				{r: rate.Rates{Down: 10e6}, want: []string{ingDel, classDel}},
				{r: r10x5, want: []string{class5, leaf5, ingAdd, redirect}},
			},
		},
		{
			name: "down only never touches ingress",
			mode: UpstreamPolice,
			steps: []step{
				{r: rate.Rates{Down: 10e6}, want: []string{down10}},
				{clear: true, want: []string{downDel}},
			},
		},
		{
			name: "explicit bursts override the derived ones",
			mode: UpstreamPolice,
			steps: []step{
				{r: rate.Rates{Down: 10e6, Up: 5e6, DownBurst: 20000, UpBurst: 9000}, want: []string{
					"tc qdisc replace dev ppp0 root handle 1: tbf rate 10mbit burst 20000b limit 82500b",
					ingAdd,
					"tc filter replace dev ppp0 parent ffff: protocol all prio 1 handle 800::800 u32 match u32 0 0 action police rate 5mbit burst 9000b mtu 65535 drop",
				}},
				{r: r10x5, want: []string{down10ch, police5}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.mode)
			for i, s := range tt.steps {
				var err error
				if s.clear {
					err = f.Clear(context.Background(), "ppp0")
				} else {
					err = f.Set(context.Background(), "ppp0", s.r)
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got := f.Take(); !equal(got, s.want) {
					t.Errorf("step %d (clear=%v rates=%v): transcript (-want +got):\n-%s\n+%s",
						i, s.clear, s.r, strings.Join(s.want, "\n-"), strings.Join(got, "\n+"))
				}
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A failed op leaves the earlier ones recorded; the next Set resumes
// after the last success instead of redoing or skipping anything.
func TestFakePartialFailureResumes(t *testing.T) {
	f := newFake(t, UpstreamIFB)
	boom := errors.New("boom")
	f.FailWith(func(cmd string) error {
		if strings.HasPrefix(cmd, "tc qdisc replace dev ppp0 handle ffff:") {
			return boom
		}
		return nil
	})
	err := f.Set(context.Background(), "ppp0", r10x5)
	if !errors.Is(err, boom) {
		t.Fatalf("Set error = %v, want boom", err)
	}
	// The plan stops at the failure, the resync redoes all and fails there
	// again.
	if got, want := f.Take(), []string{down10, class5, leaf5, down10, class5, leaf5}; !equal(got, want) {
		t.Fatalf("before failure got %q, want %q", got, want)
	}
	f.FailWith(nil)
	if err := f.Set(context.Background(), "ppp0", r10x5); err != nil {
		t.Fatal(err)
	}
	if got, want := f.Take(), []string{ingAdd, redirect}; !equal(got, want) {
		t.Fatalf("resume got %q, want %q", got, want)
	}
	st := f.Stats()
	if st.Sets != 2 || st.Failed != 1 || st.OpsFailed != 2 || st.OpsApplied != 8 || st.Resyncs != 1 || st.Shaped != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// When the kernel lost what was recorded (here: the in-place change fails
// because the interface was recreated), Set re-applies everything with
// idempotent ops and succeeds.
func TestFakeResync(t *testing.T) {
	for _, tt := range []struct {
		name string
		mode Upstream
		to   rate.Rates
		want []string
	}{
		{"ifb change", UpstreamIFB, r2x1, []string{
			"tc qdisc replace dev ppp0 root handle 1: tbf rate 2mbit burst 3000b limit 15500b",
			class1, leaf1, ingAdd, redirect,
		}},
		{"ifb up removed", UpstreamIFB, rate.Rates{Down: 2e6}, []string{
			"tc qdisc replace dev ppp0 root handle 1: tbf rate 2mbit burst 3000b limit 15500b",
			ingDel, classDel,
		}},
		{"police down removed", UpstreamPolice, rate.Rates{Up: 1e6}, []string{
			downDel, ingAdd, police1,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.mode)
			ctx := context.Background()
			if err := f.Set(ctx, "ppp0", r10x5); err != nil {
				t.Fatal(err)
			}
			f.Take()
			failed := false
			f.FailWith(func(cmd string) error {
				if !failed {
					failed = true
					return errors.New("no such qdisc")
				}
				return nil
			})
			if err := f.Set(ctx, "ppp0", tt.to); err != nil {
				t.Fatalf("Set with resync: %v", err)
			}
			if got := f.Take(); !equal(got, tt.want) {
				t.Errorf("resync transcript:\n got %q\nwant %q", got, tt.want)
			}
			if st := f.Stats(); st.Resyncs != 1 || st.Failed != 0 {
				t.Errorf("stats %+v", st)
			}
			// The recorded state is right again: same rates = no ops.
			if err := f.Set(ctx, "ppp0", tt.to); err != nil {
				t.Fatal(err)
			}
			if got := f.Take(); len(got) != 0 {
				t.Errorf("after resync, same again: %q", got)
			}
		})
	}
}

func TestFakeErrors(t *testing.T) {
	f := NewFake(Config{Upstream: UpstreamPolice})
	ctx := context.Background()
	for _, name := range []string{"", "a-name-that-is-too-long", "a/b", "a b"} {
		if err := f.Set(ctx, name, r10x5); !errors.Is(err, ErrBadInterface) {
			t.Errorf("Set(%q) = %v, want ErrBadInterface", name, err)
		}
	}
	f.FailWith(func(string) error { return errors.New("no such device") })
	if err := f.Set(ctx, "ppp1", r10x5); err == nil {
		t.Error("Set with failing first op succeeded")
	}
	if st := f.Stats(); st.Shaped != 0 || st.OpsFailed != 2 || st.Resyncs != 1 || st.Failed != 5 {
		t.Errorf("after a failed first op: %+v, want nothing tracked", st)
	}
	f.FailWith(nil)
	if err := f.Set(ctx, "ppp0", rate.Rates{Down: 4}); !errors.Is(err, ErrBadRate) {
		t.Errorf("Set 4 bit/s = %v, want ErrBadRate", err)
	}
	if err := f.Set(ctx, "ppp0", rate.Rates{Up: 40e9}); !errors.Is(err, ErrBadRate) {
		t.Errorf("police 40G = %v, want ErrBadRate", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.Set(cctx, "ppp0", r10x5); !errors.Is(err, context.Canceled) {
		t.Errorf("Set with cancelled ctx = %v", err)
	}
	if got := f.Take(); len(got) != 0 {
		t.Errorf("failed calls recorded %q", got)
	}
	f.Close()
	if err := f.Set(ctx, "ppp0", r10x5); !errors.Is(err, ErrClosed) {
		t.Errorf("Set after Close = %v", err)
	}
}

func TestClassMinor(t *testing.T) {
	for idx, want := range map[int]uint16{1: 2, 2: 3, 0xffef: 0xfff0, 0xfff0: 1, 0xfff0 + 5: 6, 1<<31 - 1: uint16((1<<31-1)%0xfff0 + 1)} {
		if got := classMinor(idx); got != want {
			t.Errorf("classMinor(%d) = %#x, want %#x", idx, got, want)
		}
	}
	for name, want := range map[string]int{"bngifb0": 0, "bngifb15": 15, "bngifbx": -1, "ifb0": -1} {
		if got := sharedIndex(name); got != want {
			t.Errorf("sharedIndex(%q) = %d, want %d", name, got, want)
		}
	}
}

// Two interfaces with the same class number: the second gets a second
// shared IFB. An interface recreated under the same name (new ifindex)
// moves to its new class: new class first, then the old one goes.
func TestFakeClassClash(t *testing.T) {
	f := newFake(t, UpstreamIFB)
	ctx := context.Background()
	f.SetIndex("ppp0", 5)
	f.SetIndex("ppp1", 5+classModulus)
	for _, iface := range []string{"ppp0", "ppp1"} {
		if err := f.Set(ctx, iface, rate.Rates{Up: 1e6}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"tc class replace dev bngifb0 parent 1: classid 1:6 htb rate 1mbit ceil 1mbit burst 3000b cburst 3000b quantum 12500",
		"tc qdisc replace dev bngifb0 parent 1:6 bfifo limit 9250b",
		"tc qdisc replace dev ppp0 handle ffff: ingress",
		"tc filter replace dev ppp0 parent ffff: protocol all prio 1 handle 800::800 u32 match u32 0 0 action mirred egress redirect dev bngifb0",
		"ip link add bngifb1 txqueuelen 100 type ifb",
		"ip link set dev bngifb1 alias bngbox-shaper:shared addrgenmode none up",
		"tc qdisc replace dev bngifb1 root handle 1: htb r2q 10",
		"tc filter replace dev bngifb1 parent 1: protocol all prio 1 handle 1 bpf name bngbox_class (classid 1:(skb->ingress_ifindex % 0xfff0 + 1))",
		"tc class replace dev bngifb1 parent 1: classid 1:6 htb rate 1mbit ceil 1mbit burst 3000b cburst 3000b quantum 12500",
		"tc qdisc replace dev bngifb1 parent 1:6 bfifo limit 9250b",
		"tc qdisc replace dev ppp1 handle ffff: ingress",
		"tc filter replace dev ppp1 parent ffff: protocol all prio 1 handle 800::800 u32 match u32 0 0 action mirred egress redirect dev bngifb1",
	}
	if got := f.Take(); !equal(got, want) {
		t.Fatalf("clash transcript:\n got %q\nwant %q", got, want)
	}
	f.SetIndex("ppp0", 7)
	if err := f.Set(ctx, "ppp0", rate.Rates{Up: 1e6}); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"tc class replace dev bngifb0 parent 1: classid 1:8 htb rate 1mbit ceil 1mbit burst 3000b cburst 3000b quantum 12500",
		"tc qdisc replace dev bngifb0 parent 1:8 bfifo limit 9250b",
		"tc class del dev bngifb0 classid 1:6",
	}
	if got := f.Take(); !equal(got, want) {
		t.Fatalf("move transcript:\n got %q\nwant %q", got, want)
	}
	// Gone: Clear only deletes the class.
	f.SetIndex("ppp0", 0)
	if err := f.Clear(ctx, "ppp0"); err != nil {
		t.Fatal(err)
	}
	if got, want := f.Take(), []string{"tc class del dev bngifb0 classid 1:8"}; !equal(got, want) {
		t.Fatalf("clear of a gone iface: got %q, want %q", got, want)
	}
	if err := f.Clear(ctx, "ppp1"); err != nil {
		t.Fatal(err)
	}
	f.Take()
	f.e.mu.Lock()
	for k, m := range f.e.slots {
		if len(m) != 0 {
			t.Errorf("slots of bngifb%d left: %v", k, m)
		}
	}
	f.e.mu.Unlock()
	if st := f.Stats(); st.Shaped != 0 {
		t.Errorf("Shaped = %d", st.Shaped)
	}
}

func TestParseUpstream(t *testing.T) {
	for s, want := range map[string]Upstream{"": UpstreamAuto, "auto": UpstreamAuto, "police": UpstreamPolice, "ifb": UpstreamIFB} {
		got, err := ParseUpstream(s)
		if err != nil || got != want {
			t.Errorf("ParseUpstream(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseUpstream("htb"); err == nil {
		t.Error("ParseUpstream(htb) succeeded")
	}
}

// Different interfaces from many goroutines, and the same interface from
// several: run with -race. Each interface ends cleared with balanced ops.
func TestFakeConcurrent(t *testing.T) {
	f := NewFake(Config{Upstream: UpstreamIFB})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			iface := fmt.Sprintf("ppp%d", g%4) // two goroutines per interface
			for i := range 50 {
				r := r10x5
				if i%2 == 1 {
					r = r2x1
				}
				if err := f.Set(ctx, iface, r); err != nil {
					t.Error(err)
				}
			}
			if err := f.Clear(ctx, iface); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range 4 { // the other goroutine may have set after a Clear
		if err := f.Clear(ctx, fmt.Sprintf("ppp%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Every class was deleted, and its number given back.
	last := map[string]string{}
	for _, l := range f.Take() {
		if _, id, ok := strings.Cut(l, " classid "); ok && strings.HasPrefix(l, "tc class ") {
			last[strings.Fields(id)[0]] = l
		}
	}
	if len(last) != 4 {
		t.Errorf("%d classes used, want 4: %v", len(last), last)
	}
	for id, l := range last {
		if !strings.HasPrefix(l, "tc class del") {
			t.Errorf("class %s: last op %q", id, l)
		}
	}
	f.e.mu.Lock()
	if n := len(f.e.slots[0]); n != 0 {
		t.Errorf("%d class numbers still reserved", n)
	}
	f.e.mu.Unlock()
	if st := f.Stats(); st.Shaped != 0 {
		t.Errorf("Shaped = %d after clearing all", st.Shaped)
	}
}

func BenchmarkSetFake(b *testing.B) {
	f := NewFake(Config{Upstream: UpstreamIFB})
	ctx := context.Background()
	rs := []rate.Rates{r10x5, r2x1, {Down: 10e6, Up: 1e6}, {}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := f.Set(ctx, "ppp0", rs[i%len(rs)]); err != nil {
			b.Fatal(err)
		}
		if i%64 == 0 {
			f.Take()
		}
	}
}
