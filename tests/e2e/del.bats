#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl del against real devices (VM).

load lib

server_alive() {
	[ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

@test "del: removes the device, its state file and its server" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	pid=$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o PID)
	[ -f "$UBLKCTL_RUN_DIR/$DEV_ID.json" ]
	run "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
	[ ! -e "/dev/ublkb$DEV_ID" ]
	[ ! -e "$UBLKCTL_RUN_DIR/$DEV_ID.json" ]
	! server_alive "$pid"
}

@test "del: the id is free again when del returns" {
	e2e_add -t null -n 42
	[ "$status" -eq 0 ]
	run "$UBLKCTL" del -n 42
	[ "$status" -eq 0 ]
	e2e_add -t null -n 42
	[ "$status" -eq 0 ]
}

@test "del: a missing device fails naming it" {
	run "$UBLKCTL" del -n 1048575
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: del: device 1048575: no such device" ]
}

@test "del: while fio runs, returns in under 5 s" {
	f=$(e2e_backing 256M)
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	fio --name=load --filename="/dev/ublkb$DEV_ID" --ioengine=io_uring \
		--direct=1 --rw=randrw --bs=4k --iodepth=32 --time_based \
		--runtime=60 >/dev/null 2>&1 &
	fio_pid=$!
	sleep 2
	start=$SECONDS
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
	took=$((SECONDS - start))
	wait "$fio_pid" || true
	echo "del took ${took}s: $output"
	[ "$status" -eq 0 ]
	[ "$took" -lt 5 ]
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
}

@test "del: a device still held open fails at --timeout, then is freed" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	exec 8<"/dev/ublkb$DEV_ID"
	start=$SECONDS
	run "$UBLKCTL" del -n "$DEV_ID" --timeout 2
	took=$((SECONDS - start))
	exec 8<&-
	[ "$status" -eq 1 ]
	[[ "$output" == "ublkctl: del: device $DEV_ID: still in use after 2 s"* ]]
	[ "$took" -le 4 ]
	# Deleted all the same: gone from sysfs, state file removed.
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
	[ ! -e "$UBLKCTL_RUN_DIR/$DEV_ID.json" ]
}

@test "del: --async returns and the device goes away" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	run "$UBLKCTL" del -n "$DEV_ID" --async
	[ "$status" -eq 0 ]
	e2e_wait 5 bash -c "! [ -e /sys/class/ublk-char/ublkc$DEV_ID ]"
}

@test "del: -a deletes every device; 64 when only some fail" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	a=$DEV_ID
	e2e_add -t null
	[ "$status" -eq 0 ]
	b=$DEV_ID
	exec 8<"/dev/ublkb$b"
	run "$UBLKCTL" del -a --timeout 2
	exec 8<&-
	[ "$status" -eq 64 ]
	[[ "$output" == *"device $b: still in use"* ]]
	[[ "$output" != *"device $a:"* ]]
	[ ! -e "/sys/class/ublk-char/ublkc$a" ]
	run "$UBLKCTL" del -a
	[ "$status" -eq 0 ]
	[ -z "$(ls /sys/class/ublk-char)" ]
}

@test "del: -a with no devices succeeds quietly" {
	"$UBLKCTL" del -a
	run "$UBLKCTL" del -a
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "del: -a exits 32 when every device fails" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	exec 8<"/dev/ublkb$DEV_ID"
	run "$UBLKCTL" del -a --timeout 1
	exec 8<&-
	[ "$status" -eq 32 ]
}

@test "del: a device whose server was killed (recovery on) is deleted" {
	e2e_add -t null -r
	[ "$status" -eq 0 ]
	pid=$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o PID)
	kill -9 "$pid"
	e2e_wait 10 bash -c "[ \"\$('$UBLKCTL' list -r --noheadings -n $DEV_ID -o STATE)\" = quiesced ]"
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
	[ ! -e "$UBLKCTL_RUN_DIR/$DEV_ID.json" ]
}

@test "del: a hung server fails at --timeout with a clear error, never hangs" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	pid=$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o PID)
	kill -STOP "$pid"
	start=$SECONDS
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID" --timeout 2
	took=$((SECONDS - start))
	kill -CONT "$pid"
	echo "$output (${took}s)"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: del: device $DEV_ID: server (pid $pid) did not exit within 2 s" ]
	[ "$took" -le 4 ]
	# Running again, the server takes the SIGTERM del sent (and may delete
	# the device itself); del finishes whatever is left.
	e2e_wait 10 bash -c "! [ -d /proc/$pid ] || grep -q '^State:.*Z' /proc/$pid/status"
	if [ -e "/sys/class/ublk-char/ublkc$DEV_ID" ]; then
		run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
		echo "$output"
		[ "$status" -eq 0 ]
	fi
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
}

@test "del: without privilege, says which capability is missing" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 1 ]
	[[ "$output" == *"CAP_SYS_ADMIN"* ]]
	[ -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
}
