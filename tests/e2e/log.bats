#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# A detached server logs to syslog, and a failed server leaves its reason
# in list's ERROR column. The syslog reader is busybox syslogd on /dev/log
# (a real syslog daemon: the records are what journald or rsyslog get).

load srv

e2e_setup_extra() {
	SYSLOG=$BATS_TEST_TMPDIR/syslog
	: >"$SYSLOG"
	# no fd of bats' own: it waits for those to close
	busybox syslogd -n -O "$SYSLOG" </dev/null >/dev/null 2>&1 3>&- &
	SYSLOGD=$!
	e2e_wait 10 test -S /dev/log
}

e2e_teardown_extra() {
	kill "$SYSLOGD" 2>/dev/null
	wait "$SYSLOGD" 2>/dev/null
	rm -f /dev/log
}

srv_state_is() {
	[ "$(srv_state "$1")" = "$2" ]
}

# The server of device $1 has exited (the kernel still names its pid).
srv_gone() {
	local pid
	pid=$(srv_pid "$1")
	[ -n "$pid" ] && ! proc_alive "$pid"
}

@test "log: a failing server thread goes to syslog and to list's ERROR" {
	local pid
	e2e_add -t fault --exit-after 20
	[ "$status" -eq 0 ]
	pid=$(srv_pid "$DEV_ID")
	[ -n "$pid" ]
	# request 20 makes the server fail; the reads after it fail
	dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=4k count=40 iflag=direct \
		status=none 2>/dev/null || true
	e2e_wait 30 srv_gone "$DEV_ID"
	e2e_wait 10 grep -q "a server thread failed" "$SYSLOG"
	cat "$SYSLOG" >&2
	# ident ublkctl with the server's pid, priority err, the device id first
	grep -E "daemon\.err ublkctl\[$pid\]: device $DEV_ID: fault: request 20: --exit-after" "$SYSLOG"
	grep -E "daemon\.err ublkctl\[$pid\]: device $DEV_ID: a server thread failed" "$SYSLOG"
	run "$UBLKCTL" list -n "$DEV_ID" --noheadings -o ERROR
	[ "$status" -eq 0 ]
	[[ "$output" == *"fault: request 20: --exit-after"* ]]
	run "$UBLKCTL" list -J -n "$DEV_ID"
	jq -e '.ublkdevices[0].error | test("--exit-after")' <<<"$output"
}

@test "log: with --recovery the device waits, and recover clears ERROR" {
	local reader
	e2e_add -t fault --recovery=reissue --exit-after 10
	[ "$status" -eq 0 ]
	# one of these requests makes the server fail; it and the rest are
	# issued again to the recovered server (reissue), so the reader
	# still succeeds
	timeout 120 dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=4k count=40 \
		iflag=direct status=none &
	reader=$!
	e2e_wait 30 srv_gone "$DEV_ID"
	e2e_wait 10 srv_state_is "$DEV_ID" quiesced
	proc_alive "$reader"
	[[ "$("$UBLKCTL" list -n "$DEV_ID" --noheadings -o ERROR)" == *--exit-after* ]]
	run timeout 60 "$UBLKCTL" recover -n "$DEV_ID"
	[ "$status" -eq 0 ]
	wait "$reader"
	[ "$(srv_state "$DEV_ID")" = live ]
	# no error: JSON null, the table's "-"
	[ "$(srv_field "$DEV_ID" error)" = null ]
	[ "$("$UBLKCTL" list -n "$DEV_ID" --noheadings -o ERROR)" = - ]
}

@test "log: a healthy detached server logs nothing" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=4k count=64 iflag=direct status=none
	run "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
	cat "$SYSLOG" >&2
	refute grep -q 'ublkctl\[' "$SYSLOG"
}
