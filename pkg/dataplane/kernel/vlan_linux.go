package kernel

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The kernel's pppoe driver binds a session to a netdev and sees frames
// after the VLAN layer has untagged them, so a tagged subscriber needs a
// VLAN device per tag stack: <port>.<outer> (802.1Q, or 802.1ad under an
// inner tag) and, for QinQ, <port>.<outer>.<inner> (802.1Q) on top of it.
// Devices are shared by the sessions on the same tags, created on the
// first and deleted with the last; a device that already existed is used
// and left alone. Discovery still runs on the port's AF_PACKET socket,
// which sees the frames before the VLAN layer does.

// A vlanDev is one VLAN device used by sessions. A session holds a
// reference on its innermost device, and an inner device holds one on its
// outer device.
type vlanDev struct {
	name   string
	owned  bool     // created here: deleted with its last reference
	refs   int      // guarded by Dataplane.vlanMu
	parent *vlanDev // the outer device under an inner one; nil for the outer
}

// vlanName names the device for vid on parent: "<parent>.<vid>" when that
// fits IFNAMSIZ, else "vl<parent index>.<vid>".
func vlanName(parent string, parentIndex int, vid uint16) string {
	n := parent + "." + strconv.Itoa(int(vid))
	if len(n) < unix.IFNAMSIZ {
		return n
	}
	return "vl" + strconv.Itoa(parentIndex) + "." + strconv.Itoa(int(vid))
}

// vlanTPIDs returns the tag protocols for vlans (outer first): protos when
// given, else 802.1Q for one tag and 802.1ad + 802.1Q for two.
func vlanTPIDs(vlans, protos []uint16) ([]uint16, error) {
	if len(vlans) == 0 || len(vlans) > 2 {
		return nil, fmt.Errorf("kernel: %d VLAN tags (want 1 or 2)", len(vlans))
	}
	if protos == nil {
		if len(vlans) == 1 {
			return []uint16{unix.ETH_P_8021Q}, nil
		}
		return []uint16{unix.ETH_P_8021AD, unix.ETH_P_8021Q}, nil
	}
	if len(protos) != len(vlans) {
		return nil, fmt.Errorf("kernel: %d VLAN IDs but %d TPIDs", len(vlans), len(protos))
	}
	for _, p := range protos {
		if p != unix.ETH_P_8021Q && p != unix.ETH_P_8021AD {
			return nil, fmt.Errorf("kernel: VLAN TPID %#04x: the kernel's VLAN devices speak 0x8100 and 0x88a8 only", p)
		}
	}
	return protos, nil
}

// acquireVLAN returns the innermost VLAN device for a tag stack on port,
// creating what is missing, with a reference for the session.
func (d *Dataplane) acquireVLAN(port string, vlans, protos []uint16) (*vlanDev, error) {
	tpids, err := vlanTPIDs(vlans, protos)
	if err != nil {
		return nil, err
	}
	d.vlanMu.Lock()
	defer d.vlanMu.Unlock()
	parent := port
	var under *vlanDev
	for i, vid := range vlans {
		if vid == 0 || vid > 4094 {
			d.releaseVLANLocked(under)
			return nil, fmt.Errorf("kernel: VLAN ID %d out of range", vid)
		}
		v, err := d.vlanLocked(parent, vid, tpids[i], under)
		if err != nil {
			d.releaseVLANLocked(under)
			return nil, err
		}
		parent, under = v.name, v
	}
	return under, nil
}

// vlanLocked returns the device for vid on parent with a reference for the
// caller, creating it when needed; the caller's reference on under (its
// outer device) passes to the new device or, if the device existed, is
// dropped. On error the caller still holds under. The caller holds
// d.vlanMu.
func (d *Dataplane) vlanLocked(parent string, vid, tpid uint16, under *vlanDev) (*vlanDev, error) {
	pl, err := netlink.LinkByName(parent)
	if err != nil {
		return nil, fmt.Errorf("kernel: VLAN parent %s: %w", parent, err)
	}
	name := vlanName(parent, pl.Attrs().Index, vid)
	if v := d.vlans[name]; v != nil {
		v.refs++
		if under != nil {
			under.refs-- // v already holds its outer device; never the last reference
		}
		return v, nil
	}
	v := &vlanDev{name: name, refs: 1, parent: under}
	if l, err := netlink.LinkByName(name); err == nil {
		vl, ok := l.(*netlink.Vlan)
		if !ok || vl.VlanId != int(vid) || vl.ParentIndex != pl.Attrs().Index {
			return nil, fmt.Errorf("kernel: %s exists and is not VLAN %d on %s", name, vid, parent)
		}
	} else {
		vl := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: pl.Attrs().Index},
			VlanId: int(vid), VlanProtocol: netlink.VlanProtocol(tpid)}
		if err := netlink.LinkAdd(vl); err != nil {
			return nil, fmt.Errorf("kernel: ip link add %s link %s type vlan id %d proto %#04x: %w", name, parent, vid, tpid, err)
		}
		v.owned = true
		d.log.Debug("VLAN device created", "iface", name, "parent", parent, "vlan", vid, "tpid", tpid)
	}
	// The pppoe driver refuses a device that is down.
	l, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetUp(l)
	}
	if err != nil {
		if v.owned {
			netlink.LinkDel(&netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: name}})
		}
		return nil, fmt.Errorf("kernel: %s: set up: %w", name, err)
	}
	d.vlans[name] = v // holds the caller's reference on under
	return v, nil
}

// releaseVLAN drops one session's reference on v and its outer devices.
func (d *Dataplane) releaseVLAN(v *vlanDev) error {
	d.vlanMu.Lock()
	defer d.vlanMu.Unlock()
	return d.releaseVLANLocked(v)
}

// releaseVLANLocked drops a reference on v; a device left without
// references is forgotten (and deleted if it was created here), which
// drops its reference on the outer device. The caller holds d.vlanMu.
func (d *Dataplane) releaseVLANLocked(v *vlanDev) error {
	var errs []error
	for ; v != nil; v = v.parent {
		v.refs--
		if v.refs > 0 {
			return errors.Join(errs...)
		}
		delete(d.vlans, v.name)
		if v.owned {
			if err := netlink.LinkDel(&netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: v.name}}); err != nil {
				d.log.Warn("VLAN device delete failed", "iface", v.name, slog.Any("err", err))
				errs = append(errs, fmt.Errorf("kernel: ip link del %s: %w", v.name, err))
			}
		}
	}
	return errors.Join(errs...)
}
