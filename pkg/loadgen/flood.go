package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/bngbox/bngbox/internal/afpacket"
	"github.com/bngbox/bngbox/internal/ether"
	"github.com/bngbox/bngbox/pppoe"
)

// FloodConfig describes a PADI flood: discovery initiations from random
// source MACs, none of which ever follows up, as a misbehaving or hostile
// access segment produces. It tests that the AC's PADI rate limits protect
// established sessions and keep discovery usable.
type FloodConfig struct {
	Interface string
	Rate      float64       // PADIs per second
	Duration  time.Duration // how long to flood (default 10 s)
	VLANs     []uint16      // tags to send with (outer first)
}

// FloodReport is the outcome of a flood.
type FloodReport struct {
	Sent        int
	WriteErrors int // frames the socket refused (e.g. ENOBUFS)
	Elapsed     time.Duration
	Rate        float64 // PADIs sent per second over Elapsed
	PADOs       int     // PADOs received (answers to flood PADIs)
}

func (r *FloodReport) String() string {
	return fmt.Sprintf("flood: sent %d PADIs in %.2fs (%.0f/s), write errors %d, PADOs received %d",
		r.Sent, r.Elapsed.Seconds(), r.Rate, r.WriteErrors, r.PADOs)
}

// randomMAC fills mac with a random locally administered unicast address.
func randomMAC(mac []byte, r *rand.Rand) {
	v := r.Uint64()
	for i := range 6 {
		mac[i] = byte(v >> (8 * i))
	}
	mac[0] = mac[0]&0xfc | 0x02
}

// padiFrame returns a broadcast PADI from src (Service-Name empty, a
// Host-Uniq) with the given VLAN tags, and the offset of the source MAC in
// it, so that callers can rewrite the source per frame.
func padiFrame(src net.HardwareAddr, vlans []uint16) ([]byte, int) {
	p := pppoe.Packet{Code: pppoe.CodePADI}
	p.Add(pppoe.TagServiceName, nil)
	p.Add(pppoe.TagHostUniq, []byte{0xf1, 0x00, 0xd0, 0x01})
	var h ether.Header
	h.Dst, h.Src, h.EtherType = broadcast, src, 0x8863
	h.SetVLANs(vlans)
	return p.Append(ether.AppendHeader(nil, h)), 6
}

// floodSchedule returns how many frames are due after elapsed at rate,
// given sent so far, capped at burst so a stalled sender does not try to
// catch up all at once.
func floodSchedule(elapsed time.Duration, rate float64, sent, burst int) int {
	due := int(rate*elapsed.Seconds()) - sent
	return max(0, min(due, burst))
}

// Flood sends PADIs at cfg.Rate from random source MACs for cfg.Duration
// (or until ctx ends) and counts the PADOs that come back.
func Flood(ctx context.Context, cfg FloodConfig) (*FloodReport, error) {
	if cfg.Rate <= 0 {
		return nil, errors.New("loadgen: flood rate must be > 0")
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	conn, err := afpacket.Listen(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	var padoCount atomic.Int64
	var closing atomic.Bool
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			frames, err := conn.ReadBatch()
			if err != nil {
				if closing.Load() || isClosed(err) || errors.Is(err, io.EOF) {
					return
				}
				continue
			}
			for _, f := range frames {
				if isPADO(f) {
					padoCount.Add(1)
				}
			}
		}
	}()

	r := &FloodReport{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x9e3779b97f4a7c15))
	frame, macOff := padiFrame(net.HardwareAddr{2, 0, 0, 0, 0, 1}, cfg.VLANs)
	burst := max(int(cfg.Rate/100), 64) // at most 10 ms worth at once
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	for ctx.Err() == nil {
		n := floodSchedule(time.Since(start), cfg.Rate, r.Sent+r.WriteErrors, burst)
		for range n {
			randomMAC(frame[macOff:macOff+6], rng)
			if err := conn.WriteFrame(frame); err != nil {
				r.WriteErrors++
				continue
			}
			r.Sent++
		}
		time.Sleep(time.Millisecond)
	}
	r.Elapsed = time.Since(start)
	if r.Elapsed > 0 {
		r.Rate = float64(r.Sent) / r.Elapsed.Seconds()
	}
	time.Sleep(200 * time.Millisecond) // late PADOs
	closing.Store(true)
	conn.Close()
	<-readDone
	r.PADOs = int(padoCount.Load())
	return r, nil
}

// isPADO reports whether f is a PADO frame (any tags).
func isPADO(f []byte) bool {
	_, body, ok := parseFrame(f)
	if !ok || len(body) < 2 {
		return false
	}
	return body[0] == 0x11 && pppoe.Code(body[1]) == pppoe.CodePADO
}
