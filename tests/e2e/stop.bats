#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl stop against real devices (VM).

load lib

# Skip when the driver under test lacks a feature (our module may; the
# kernel's ublk_drv has them all, where run-all counts a skip as a failure).
need_feature() {
	"$UBLKCTL" features -r --noheadings -o NAME | grep -qx "$1" ||
		skip "the driver lacks $1"
}

@test "stop: the device stays, dead, its server gone, its state file kept" {
	e2e_add -t null -r
	[ "$status" -eq 0 ]
	pid=$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o PID)
	run "$UBLKCTL" stop -n "$DEV_ID"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o STATE)" = dead ]
	[ ! -e "/sys/block/ublkb$DEV_ID" ]
	[ -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
	[ -f "$UBLKCTL_RUN_DIR/$DEV_ID.json" ]
	e2e_wait 5 bash -c "! [ -d /proc/$pid ] || grep -q '^State:.*Z' /proc/$pid/status"
}

@test "stop: --safe refuses while the block device is open" {
	need_feature SAFE_STOP_DEV
	e2e_add -t null
	[ "$status" -eq 0 ]
	exec 8<"/dev/ublkb$DEV_ID"
	run "$UBLKCTL" stop -n "$DEV_ID" --safe
	exec 8<&-
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: stop: device $DEV_ID: device is open" ]
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o STATE)" = live ]
	run "$UBLKCTL" stop -n "$DEV_ID" --safe
	[ "$status" -eq 0 ]
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o STATE)" = dead ]
}

@test "stop: a missing device fails naming it" {
	run "$UBLKCTL" stop -n 1048575
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: stop: device 1048575: no such device" ]
}

@test "stop: del still removes a stopped device" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	"$UBLKCTL" stop -n "$DEV_ID"
	run "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
}

@test "stop: stopping a stopped device succeeds, with and without --safe" {
	need_feature SAFE_STOP_DEV
	e2e_add -t null
	[ "$status" -eq 0 ]
	run "$UBLKCTL" stop -n "$DEV_ID"
	[ "$status" -eq 0 ]
	run "$UBLKCTL" stop -n "$DEV_ID"
	[ "$status" -eq 0 ]
	run "$UBLKCTL" stop -n "$DEV_ID" --safe
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
