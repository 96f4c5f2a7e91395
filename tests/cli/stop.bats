#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl stop and quiesce without root or kernel.

load helpers

@test "stop: --help has the uniform layout" {
	help_layout stop
}

@test "stop: needs a device" {
	usage_err "ublkctl: stop: no device given: use --id ID" stop --safe
}

@test "stop: no driver: a clear message and exit 1" {
	need_no_driver
	no_driver stop -n 1
	no_driver stop -n 1 --safe
}

@test "quiesce: --help has the uniform layout" {
	help_layout quiesce
}

@test "quiesce: needs a device" {
	usage_err "ublkctl: quiesce: no device given: use --id ID" quiesce
}

@test "quiesce: no driver: a clear message and exit 1" {
	need_no_driver
	no_driver quiesce -n 1 --timeout 500
}
