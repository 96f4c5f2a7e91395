#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# --auto-zc (UBLK_F_AUTO_BUF_REG) and its fallback path.

load srv

@test "autozc: fio crc32c verify on loop" {
	loop_verify --auto-zc
}

@test "autozc: null target issues fixed-buffer NOPs" {
	e2e_add -t null --auto-zc
	[ "$status" -eq 0 ]
	srv_has_flag "$DEV_ID" AUTO_BUF_REG
	run dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=64k count=256 iflag=direct
	[ "$status" -eq 0 ]
	run dd if=/dev/zero of="/dev/ublkb$DEV_ID" bs=64k count=256 oflag=direct
	[ "$status" -eq 0 ]
}

@test "autozc: --auto-zc-fallback asks for zero copy too (manual registration)" {
	e2e_add -t null --auto-zc --auto-zc-fallback
	[ "$status" -eq 0 ]
	srv_has_flag "$DEV_ID" AUTO_BUF_REG
	srv_has_flag "$DEV_ID" ZERO_COPY
}

# The knob gives every FETCH/COMMIT an index outside the ring's buffer
# table: automatic registration fails, the kernel sets NEED_REG_BUF, and
# the server registers by hand. Without the fallback flag the same index
# would fail the request, so a clean verify proves the fallback path ran.
@test "autozc: forced NEED_REG_BUF, per-I/O: fallback serves all I/O, verify clean" {
	export UBLKCTL_TEST_FORCE_NEED_REG_BUF=1
	loop_verify --auto-zc --auto-zc-fallback
}

@test "autozc: forced NEED_REG_BUF, batch: fallback serves all I/O, verify clean" {
	export UBLKCTL_TEST_FORCE_NEED_REG_BUF=1
	loop_verify --batch --auto-zc --auto-zc-fallback
}

@test "autozc: forced NEED_REG_BUF on null: fixed NOPs after manual registration" {
	export UBLKCTL_TEST_FORCE_NEED_REG_BUF=1
	e2e_add -t null --auto-zc --auto-zc-fallback
	[ "$status" -eq 0 ]
	run dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=64k count=64 iflag=direct
	[ "$status" -eq 0 ]
}
