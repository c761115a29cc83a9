#!/bin/sh
# mkinitrd.sh builds the VM lab's kernel and initramfs from Debian packages.
#
#   mkinitrd.sh CACHE_DIR BNGBOX_BIN OUT_INITRD
#
# It prints "kernel=PATH" and "initrd=PATH" on success.
#
# The base image (kernel modules, busybox-static, pppd with its PPPoE and
# L2TP plugins, xl2tpd, iproute2, iperf3, radclient with the FreeRADIUS
# dictionaries, and their shared libraries) is
# built once from `apt-get download` + `dpkg -x` and cached in CACHE_DIR as
# base-<kernel>-<script hash>.cpio.gz. Every call then packs a small second
# archive with /init, the guest scenarios (guest/) and the bngbox binary,
# and concatenates the two (the kernel unpacks concatenated cpio archives in
# order). Set VMLAB_REFRESH=1 to pick the newest kernel again and rebuild.
#
# Shared libraries are found with ldd on the host, so the host must be the
# same Debian release as the packages (Debian 12, like the dev machines and
# CI).
set -eu

cache=$1 bngbox=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$cache/debs"
cache=$(cd "$cache" && pwd)
[ -f "$bngbox" ] || { echo "mkinitrd: no bngbox binary at $bngbox" >&2; exit 1; }
bngbox=$(cd "$(dirname "$bngbox")" && pwd)/$(basename "$bngbox")
case $out in /*) ;; *) out=$PWD/$out ;; esac

# Kernel modules the scenarios and the kernel dataplane need; their
# dependencies come from modules.dep.
MODULES="virtio_pci virtio_net pppoe ppp_async l2tp_ppp l2tp_ip l2tp_ip6 l2tp_eth
act_police act_mirred ifb sch_tbf sch_htb sch_ingress cls_u32 veth tun 8021q"
PKGS="busybox-static ppp xl2tpd iproute2 iperf3 libiperf0 freeradius-utils libfreeradius3 freeradius-common"

log() { echo "mkinitrd: $*" >&2; }

# The kernel: the newest linux-image-6.1.0-N-amd64, remembered in the cache.
if [ -z "${VMLAB_REFRESH:-}" ] && [ -s "$cache/kver" ]; then
	kver=$(cat "$cache/kver")
else
	kver=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
	kver=${kver#linux-image-}
	[ -n "$kver" ] || { log "no linux-image-6.1.0-*-amd64 package known to apt (apt-get update?)"; exit 1; }
	echo "$kver" >"$cache/kver"
fi
sum=$(sha256sum "$0" | cut -c1-12)
base=$cache/base-$kver-$sum.cpio.gz
kernel=$cache/vmlinuz-$kver

if [ ! -s "$base" ] || [ ! -s "$kernel" ]; then
	log "building the base image for $kver (once; cached in $cache)"
	cd "$cache/debs"
	need=""
	for p in linux-image-$kver $PKGS; do
		ls "${p}"_*.deb >/dev/null 2>&1 || need="$need $p"
	done
	if [ -n "$need" ]; then
		log "apt-get download$need"
		apt-get download $need >&2
	fi
	work=$(mktemp -d "$cache/build.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	x=$work/x r=$work/root
	mkdir -p "$x" "$r"
	for p in linux-image-$kver $PKGS; do
		dpkg -x "$(ls "${p}"_*.deb | sort -V | tail -1)" "$x"
	done
	cp "$x/boot/vmlinuz-$kver" "$kernel.tmp"

	# Layout. Debian 12 is usrmerged; keep /lib and /bin as real
	# directories, which is all the loader and busybox need.
	for d in bin sbin usr/bin usr/sbin lib/x86_64-linux-gnu lib64 usr/lib/x86_64-linux-gnu \
		proc sys dev tmp run etc/ppp etc/xl2tpd etc/vmlab etc/freeradius/3.0 var/log var/lib root; do
		mkdir -p "$r/$d"
	done
	ln -s ../run "$r/var/run"

	# busybox provides the shell and the small tools.
	cp "$x/bin/busybox" "$r/bin/busybox"
	for a in $("$r/bin/busybox" --list-full); do
		[ -e "$r/$a" ] || ln -s /bin/busybox "$r/$a"
	done
	# iproute2 replaces busybox's ip and tc (busybox ip has no netns).
	# busybox sh prefers its applets, so scripts call /sbin/ip by path.
	rm -f "$r/sbin/ip" "$r/sbin/tc" "$r/bin/ip"
	cp "$x/bin/ip" "$r/sbin/ip"
	cp "$x/sbin/tc" "$r/sbin/tc"
	cp "$x/usr/sbin/pppd" "$x/usr/sbin/xl2tpd" "$x/usr/sbin/xl2tpd-control" "$r/usr/sbin/"
	cp "$x/usr/bin/iperf3" "$r/usr/bin/"
	# radclient (CoA-Request) reads the dictionaries in /usr/share/freeradius
	# and an optional dictionary in its raddb, /etc/freeradius/3.0 (empty).
	cp "$x/usr/bin/radclient" "$r/usr/bin/"
	mkdir -p "$r/usr/share/freeradius"
	cp "$x"/usr/share/freeradius/dictionary* "$r/usr/share/freeradius/"
	mkdir -p "$r/usr/lib/pppd/2.4.9"
	cp "$x/usr/lib/pppd/2.4.9/pppoe.so" "$x/usr/lib/pppd/2.4.9/pppol2tp.so" "$r/usr/lib/pppd/2.4.9/"
	ln -s pppoe.so "$r/usr/lib/pppd/2.4.9/rp-pppoe.so"
	: >"$r/etc/ppp/options"
	echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
	echo "root:x:0:" >"$r/etc/group"

	# Shared libraries, by ldd (host libraries; packages' own first).
	# radclient finds libfreeradius-radius.so by its RUNPATH, /usr/lib/freeradius.
	for e in sbin/ip sbin/tc usr/sbin/pppd usr/sbin/xl2tpd usr/sbin/xl2tpd-control usr/bin/iperf3 usr/bin/radclient \
		usr/lib/pppd/2.4.9/pppoe.so usr/lib/pppd/2.4.9/pppol2tp.so; do
		LD_LIBRARY_PATH=$x/usr/lib/x86_64-linux-gnu:$x/usr/lib/freeradius ldd "$r/$e" >"$work/ldd" || { log "ldd $e failed"; exit 1; }
		if grep -q 'not found' "$work/ldd"; then log "ldd $e:"; cat "$work/ldd" >&2; exit 1; fi
		awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' "$work/ldd"
	done | sort -u >"$work/libs"
	while read -r lib; do
		case $lib in
		"$x"/*) dst=${lib#"$x"} ;;
		*) dst=$lib ;;
		esac
		mkdir -p "$r$(dirname "$dst")"
		cp -L "$lib" "$r$dst"
	done <"$work/libs"

	# Kernel modules, in load order (dependencies first).
	busybox depmod -b "$x" "$kver"
	mdir=lib/modules/$kver
	mkdir -p "$r/$mdir"
	: >"$work/order"
	for m in $MODULES; do
		line=$(grep -E "/${m}\.ko(\.xz)?:" "$x/$mdir/modules.dep") || { log "module $m not in $kver"; exit 1; }
		self=${line%%:*}
		# modules.dep lists the dependencies of a module; the last must load first.
		for d in $(echo "${line#*:}" | tr ' ' '\n' | tac) "$self"; do
			grep -qx "$d" "$work/order" || echo "$d" >>"$work/order"
		done
	done
	while read -r m; do
		mkdir -p "$r/$mdir/$(dirname "$m")"
		cp "$x/$mdir/$m" "$r/$mdir/$m"
	done <"$work/order"
	cp "$work/order" "$r/etc/vmlab/modules"
	cp "$x/$mdir/modules.builtin" "$x/$mdir/modules.order" "$r/$mdir/"
	busybox depmod -b "$r" "$kver"
	echo "$kver" >"$r/etc/vmlab/kver"

	(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) >"$base.tmp"
	mv "$base.tmp" "$base"
	mv "$kernel.tmp" "$kernel"
	for f in "$cache"/base-*.cpio.gz; do [ "$f" = "$base" ] || rm -f "$f"; done
	log "base image $(du -h "$base" | cut -f1), $(wc -l <"$work/order") modules"
	rm -rf "$work"
	trap - EXIT
fi

# The per-run overlay: /init, the scenarios, bngbox.
ov=$(mktemp -d)
trap 'rm -rf "$ov"' EXIT
mkdir -p "$ov/vmlab" "$ov/usr/bin"
cp "$here/guest/init" "$ov/init"
cp "$here"/guest/*.sh "$ov/vmlab/"
chmod 755 "$ov/init" "$ov"/vmlab/*.sh
cp "$bngbox" "$ov/usr/bin/bngbox"
(cd "$ov" && find . | cpio -o -H newc --quiet | gzip -1) >"$ov.cpio.gz"
cat "$base" "$ov.cpio.gz" >"$out"
rm -f "$ov.cpio.gz"
echo "kernel=$kernel"
echo "initrd=$out"
