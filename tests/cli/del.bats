#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl del without root or kernel: help, usage errors, driver message.

load helpers

@test "del: --help has the uniform layout" {
	help_layout del
}

@test "del: needs -n or -a" {
	usage_err "ublkctl: del: no device given: use --id ID or --all" del
}

@test "del: -n and -a together are a usage error" {
	usage_err "ublkctl: del: --id and --all are mutually exclusive" del -n 1 -a
}

@test "del: --timeout is range-checked" {
	usage_err "ublkctl: del: --timeout: '0': out of range (1-3600)" del -n 1 --timeout 0
}

@test "del: no driver: a clear message and exit 1, for -n and for -a" {
	need_no_driver
	no_driver del -n 3
	no_driver del -a
	no_driver del -a --async
	no_driver del -n 3 --force
}

@test "del: --force is a usage error with an argument" {
	usage_err "ublkctl: del: option '--force' doesn't allow an argument" del -n 1 --force=yes
}
