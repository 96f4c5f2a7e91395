#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl features without root or kernel.

load helpers

@test "features: --help has the uniform layout with output columns" {
	help_layout features
	run "$UBLKCTL" features --help
	grep -q '^Output columns:$' <<<"$output"
	grep -qE '^ +BIT  ' <<<"$output"
	grep -qE '^ +NAME  ' <<<"$output"
}

@test "features: an unknown column is a usage error" {
	usage_err "ublkctl: features: --output: unknown column 'NOPE'" features -o NOPE
}

@test "features: no driver: a clear message and exit 1" {
	need_no_driver
	no_driver features
	no_driver features -J
}

@test "features: positional arguments are refused" {
	usage_err "ublkctl: features: unexpected argument 'all'" features all
}

@test "features: --add-options without a driver: a clear message and exit 1" {
	need_no_driver
	no_driver features --add-options
}

@test "features: --add-options takes the columns of the features table" {
	usage_err "ublkctl: features: --output: unknown column 'NOPE'" features --add-options -o OPTION,NOPE
}
