#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl quiesce against real devices (VM).

load lib

# Skip when the driver under test lacks a feature (our module may; the
# kernel's ublk_drv has them all, where run-all counts a skip as a failure).
need_feature() {
	"$UBLKCTL" features -r --noheadings -o NAME | grep -qx "$1" ||
		skip "the driver lacks $1"
}

@test "quiesce: refused on a device without recovery, naming why" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	run "$UBLKCTL" quiesce -n "$DEV_ID"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: quiesce: device $DEV_ID: cannot quiesce: it was not created with recovery and the QUIESCE flag (add --recovery)" ]
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o STATE)" = live ]
}

@test "quiesce: a recovery device goes quiesced and its server exits" {
	need_feature QUIESCE
	e2e_add -t null -r
	[ "$status" -eq 0 ]
	"$UBLKCTL" list -J -n "$DEV_ID" | jq -e '.ublkdevices[0].flags | index("QUIESCE")' ||
		skip "add -r did not request UBLK_F_QUIESCE"
	pid=$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o PID)
	run "$UBLKCTL" quiesce -n "$DEV_ID" --timeout 5000
	[ "$status" -eq 0 ]
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o STATE)" = quiesced ]
	e2e_wait 5 bash -c "! [ -d /proc/$pid ] || grep -q '^State:.*Z' /proc/$pid/status"
}

@test "quiesce: a missing device fails naming it" {
	run "$UBLKCTL" quiesce -n 1048575
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: quiesce: device 1048575: no such device" ]
}
