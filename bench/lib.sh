# Shared by the bench scripts (sourced).

# freeradius_conf DIR SECRET: writes DIR/radiusd.conf (and DIR/acct, run,
# log) from the one FreeRADIUS template the tests use too,
# internal/radtest/radiusd.conf: files + pap + chap, detail accounting,
# Message-Authenticator on every reply, auth/acct on 127.0.0.1:1812/1813,
# no per-login log lines. The users file (DIR/users) is the caller's.
freeradius_conf() {
	mkdir -p "$1/acct" "$1/run" "$1/log"
	sed -e "s|@DIR@|$1|g" -e "s|@SECRET@|$2|g" -e "s|@AUTH_PORT@|1812|g" -e "s|@ACCT_PORT@|1813|g" -e "s|@LOG_AUTH@|no|g" \
		"$(dirname "${BASH_SOURCE[0]}")/../internal/radtest/radiusd.conf" > "$1/radiusd.conf"
}
