# Helpers sourced by the scenarios.

# busybox sh prefers its own applets; iproute2 is called by path.
ip() { /sbin/ip "$@"; }
tc() { /sbin/tc "$@"; }

result() { echo "VMLAB-RESULT $*"; }
say() { echo "VMLAB-LOG $*"; }

# dumplog FILE prints FILE to the console, prefixed, for the harness log.
dumplog() {
	[ -f "$1" ] && sed "s|^|VMLAB-LOG $(basename "$1"): |" "$1"
}

# waitgone PID SECONDS waits for a process to exit; it fails on timeout.
waitgone() {
	n=0
	while kill -0 "$1" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}
