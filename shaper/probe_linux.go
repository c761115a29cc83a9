package shaper

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/vishvananda/netlink"
)

// probeAlias marks the throwaway device of the act_police probe, so that a
// crash during the probe is cleaned up like any leftover.
const probeAlias = ifbAliasPrefix + "probe"

// removeLeftovers deletes the IFB devices a previous run left behind.
func (n *Netlink) removeLeftovers(cfg Config) error {
	links, err := n.h.LinkList()
	if err != nil {
		return fmt.Errorf("shaper: list links: %w", err)
	}
	removed := 0
	for _, l := range links {
		if l.Type() != "ifb" || !ours(l) {
			continue
		}
		if err := n.h.LinkDel(l); err != nil && !isGone(err) {
			return fmt.Errorf("shaper: delete leftover %s: %w", l.Attrs().Name, err)
		}
		removed++
	}
	if removed > 0 {
		cfg.Logger.Info("shaper removed leftover ifb devices", "count", removed)
	}
	return nil
}

// resolveMode turns cfg.Upstream into police or ifb, probing the kernel.
func (n *Netlink) resolveMode(cfg Config) (Upstream, error) {
	perr := n.probePolice()
	switch cfg.Upstream {
	case UpstreamPolice:
		if perr != nil {
			return 0, fmt.Errorf("%w: upstream police needs the kernel's act_police (tc police action): %w", ErrNotSupported, perr)
		}
	case UpstreamIFB:
		if errors.Is(perr, errNoIFB) {
			return 0, fmt.Errorf("%w: upstream ifb needs the kernel's ifb driver: %w", ErrNotSupported, perr)
		}
	case UpstreamAuto:
		if perr == nil {
			cfg.Logger.Info("shaper upstream mode", "mode", "police", "reason", "kernel has act_police")
			return UpstreamPolice, nil
		}
		if errors.Is(perr, errNoIFB) {
			return 0, fmt.Errorf("%w: upstream shaping needs act_police or the ifb driver: %w", ErrNotSupported, perr)
		}
		cfg.Logger.Info("shaper upstream mode", "mode", "ifb", "reason", "kernel has no act_police", slogErr(perr))
		return UpstreamIFB, nil
	}
	cfg.Logger.Info("shaper upstream mode", "mode", cfg.Upstream.String(), "reason", "config")
	return cfg.Upstream, nil
}

var errNoIFB = errors.New("cannot create an ifb device")

// probePolice creates a throwaway IFB device bngprobeNNNNNNN, installs an ingress qdisc and
// a u32 filter with a police action on it, and deletes the device. It
// returns nil when the kernel accepted the police action, an error wrapping
// errNoIFB when even the IFB device could not be made.
func (n *Netlink) probePolice() error {
	name := fmt.Sprintf("bngprobe%07d", rand.IntN(1e7)) // unique enough for concurrent News
	if err := n.h.LinkAdd(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		return fmt.Errorf("%w: %w", errNoIFB, err)
	}
	link, err := n.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("%w: %w", errNoIFB, err)
	}
	defer n.h.LinkDel(link)
	if err := n.h.LinkSetAlias(link, probeAlias); err != nil {
		return fmt.Errorf("%w: set alias: %w", errNoIFB, err)
	}
	idx := link.Attrs().Index
	if err := n.h.QdiscReplace(makeIngress(idx)); err != nil {
		return fmt.Errorf("ingress qdisc: %w", err)
	}
	if err := n.h.FilterAdd(makeU32(idx, makePolice(tbf{Rate: 1e6, Burst: 3000}))); err != nil {
		return fmt.Errorf("police filter: %w", err)
	}
	return nil
}
