#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# systemd/ublkctl@.service by hand (no systemd in the VM): read the
# environment file as systemd does, run the unit's ExecStart command line,
# stop it with SIGTERM as `systemctl stop` does, run ExecStopPost, and
# check the device is gone.

load lib

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

# The unit with the binary under test in place of the installed one.
unit_line() {
	sed -n "s/^$1=//p" "$TOP/systemd/ublkctl@.service.in" |
		sed "s#@UBLKCTL_BIN@#$UBLKCTL#g"
}

# Export KEY=value lines of an environment file (systemd's syntax, the
# subset the example uses: comments, blank lines, optional quotes).
load_envfile() {
	local line k v
	while IFS= read -r line; do
		[[ $line =~ ^[[:space:]]*(#|$) ]] && continue
		k=${line%%=*}
		v=${line#*=}
		[[ $v == \"*\" ]] && v=${v:1:-1}
		export "$k=$v"
	done <"$1"
}

# Run a unit command line as systemd would: "${VAR}" is one word, "$VAR"
# is split at white space; a leading '-' means failure is ignored.
run_unit_cmd() {
	local cmd=$1
	cmd=${cmd#-}
	cmd=$(sed 's/\${\([A-Za-z_][A-Za-z0-9_]*\)}/"${\1}"/g' <<<"$cmd")
	set -f
	eval "$cmd"
}

conf() {
	cat >"$BATS_TEST_TMPDIR/dev.conf" <<-EOF2
	# test device
	ID=$1
	TARGET=null
	OPTIONS=-s 64M -d 64
	EOF2
	load_envfile "$BATS_TEST_TMPDIR/dev.conf"
	E2E_IDS+=("$1")
}

dev_live() {
	[ "$("$UBLKCTL" list -n "$1" -r --noheadings -o STATE 2>/dev/null)" = live ]
}

@test "systemd: ExecStart serves the device in the foreground; SIGTERM, ExecStopPost: gone" {
	local pid
	conf 310
	run_unit_cmd "exec $(unit_line ExecStart)" 3>&- &
	pid=$!
	e2e_wait 30 dev_live 310
	# The unit's main process is the server itself (Type=exec).
	[ "$("$UBLKCTL" list -n 310 -r --noheadings -o PID)" = "$pid" ]
	# $OPTIONS was split into words.
	[ "$("$UBLKCTL" list -n 310 -r --noheadings -b -o SIZE,DEPTH)" = "67108864 64" ]
	[ -b /dev/ublkb310 ]

	kill -TERM "$pid"
	# wait in this shell: `run` would wait from a subshell, whose child
	# the server is not.
	local rc=0
	wait "$pid" || rc=$?
	echo "ExecStart exit status after SIGTERM: $rc"
	[ "$rc" -eq 0 ]
	# SIGTERM alone stops and deletes the device.
	[ ! -e /sys/class/ublk-char/ublkc310 ]
	# ExecStopPost then finds nothing to do, and the unit ignores that.
	run run_unit_cmd "$(unit_line ExecStopPost)"
	[ ! -e /sys/class/ublk-char/ublkc310 ]
	[ ! -e "$UBLKCTL_RUN_DIR/310.json" ]
}

@test "systemd: a server killed with SIGKILL is cleaned up by ExecStopPost" {
	local pid
	conf 311
	run_unit_cmd "exec $(unit_line ExecStart)" 3>&- &
	pid=$!
	e2e_wait 30 dev_live 311
	kill -KILL "$pid"
	wait "$pid" || true
	run run_unit_cmd "$(unit_line ExecStopPost)"
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -e /sys/class/ublk-char/ublkc311 ]
	[ ! -e "$UBLKCTL_RUN_DIR/311.json" ]
}

@test "systemd: the unit refuses a config without ID (usage error, nothing made)" {
	local before
	before=$("$UBLKCTL" list -r --noheadings -o ID | wc -l)
	unset ID
	export TARGET=null OPTIONS=
	run run_unit_cmd "$(unit_line ExecStart)"
	[ "$status" -eq 2 ]
	[ "$("$UBLKCTL" list -r --noheadings -o ID | wc -l)" = "$before" ]
}
