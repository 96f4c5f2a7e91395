#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl resize without root or kernel.

load helpers

@test "resize: --help has the uniform layout" {
	help_layout resize
}

@test "resize: needs a size" {
	usage_err "ublkctl: resize: no size given: use --size SIZE" resize -n 1
}

@test "resize: needs a device" {
	usage_err "ublkctl: resize: no device given: use --id ID" resize -s 1G
}

@test "resize: the size must be whole sectors" {
	usage_err "ublkctl: resize: --size: '1000': not a multiple of 512 bytes" resize -n 1 -s 1000
}

@test "resize: a zero size is out of range" {
	run "$UBLKCTL" resize -n 1 -s 0
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == "ublkctl: resize: --size: '0': out of range (1-"* ]]
}

@test "resize: no driver: a clear message and exit 1" {
	need_no_driver
	no_driver resize -n 1 -s 64M
}
