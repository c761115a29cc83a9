package ippool

import (
	"errors"
	"net/netip"
	"testing"
)

func TestPool(t *testing.T) {
	p, err := New("t", netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.3"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Get()
	b, _ := p.Get()
	if a.String() != "10.0.0.1" || b.String() != "10.0.0.2" {
		t.Fatalf("got %v %v", a, b)
	}
	if err := p.Reserve(netip.MustParseAddr("10.0.0.3")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(); !errors.Is(err, ErrExhausted) {
		t.Fatalf("full pool: err = %v", err)
	}
	if err := p.Reserve(netip.MustParseAddr("10.0.0.3")); err == nil {
		t.Fatal("double reserve accepted")
	}
	if err := p.Reserve(netip.MustParseAddr("10.0.0.9")); err == nil {
		t.Fatal("reserve outside range accepted")
	}
	p.Put(a)
	if p.Used() != 2 {
		t.Fatalf("used = %d", p.Used())
	}
	c, err := p.Get()
	if err != nil || c != a {
		t.Fatalf("after put: %v %v", c, err)
	}
}

func TestPoolRoundRobin(t *testing.T) {
	p, _ := New("t", netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.10"))
	a, _ := p.Get()
	p.Put(a)
	b, _ := p.Get()
	if a == b {
		t.Errorf("freed address %v handed out again at once", a)
	}
}

func BenchmarkGetPut(b *testing.B) {
	p, _ := New("t", netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.255.254"))
	for b.Loop() {
		a, _ := p.Get()
		p.Put(a)
	}
}
