#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl resize against real devices (VM).

load lib

# Skip when the driver under test lacks a feature (our module may; the
# kernel's ublk_drv has them all, where run-all counts a skip as a failure).
need_feature() {
	"$UBLKCTL" features -r --noheadings -o NAME | grep -qx "$1" ||
		skip "the driver lacks $1"
}

@test "resize: the block layer sees the new size (sysfs, lsblk, list)" {
	need_feature UPDATE_SIZE
	e2e_add -t null -s 256M
	[ "$status" -eq 0 ]
	run "$UBLKCTL" resize -n "$DEV_ID" -s 1G
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(cat /sys/block/ublkb$DEV_ID/size)" = $((1 << 21)) ]
	[ "$(lsblk -dbno SIZE /dev/ublkb$DEV_ID | tr -d ' ')" = $((1 << 30)) ]
	[ "$("$UBLKCTL" list -J -b -n "$DEV_ID" | jq .ublkdevices[0].size)" = $((1 << 30)) ]
	run "$UBLKCTL" resize -n "$DEV_ID" -s 128M
	[ "$status" -eq 0 ]
	[ "$(cat /sys/block/ublkb$DEV_ID/size)" = $((1 << 18)) ]
}

@test "resize: the size must be a multiple of the logical block size" {
	need_feature UPDATE_SIZE
	e2e_add -t null --logical-block-size 4096
	[ "$status" -eq 0 ]
	run "$UBLKCTL" resize -n "$DEV_ID" -s 6K
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: resize: device $DEV_ID: --size: '6K': not a multiple of the logical block size (4096)" ]
}

@test "resize: loop may not outgrow its backing file" {
	need_feature UPDATE_SIZE
	f=$(e2e_backing 64M)
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	run "$UBLKCTL" resize -n "$DEV_ID" -s 128M
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: resize: device $DEV_ID: --size: '128M': larger than the backing file $f (67108864 bytes usable)" ]
	[ "$(cat /sys/block/ublkb$DEV_ID/size)" = $((64 << 11)) ]
	# Shrinking, and growing back within the file, are fine.
	run "$UBLKCTL" resize -n "$DEV_ID" -s 32M
	[ "$status" -eq 0 ]
	truncate -s 128M "$f"
	run "$UBLKCTL" resize -n "$DEV_ID" -s 128M
	[ "$status" -eq 0 ]
	[ "$(cat /sys/block/ublkb$DEV_ID/size)" = $((128 << 11)) ]
}

@test "resize: a stopped device is refused" {
	need_feature UPDATE_SIZE
	e2e_add -t null
	[ "$status" -eq 0 ]
	run "$UBLKCTL" stop -n "$DEV_ID"
	[ "$status" -eq 0 ]
	run "$UBLKCTL" resize -n "$DEV_ID" -s 64M
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: resize: device $DEV_ID: cannot resize: it is dead, not live" ]
}

@test "resize: a missing device fails naming it" {
	run "$UBLKCTL" resize -n 1048575 -s 64M
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: resize: device 1048575: no such device" ]
}
