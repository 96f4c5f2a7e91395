#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Completions against real devices (VM): device ids come from the driver.

load lib
load ../cli/bashcomp

e2e_setup_extra() {
	PATH=$(cd "$(dirname "$UBLKCTL")" && pwd):$PATH
	bashcomp_load
}

@test "completion: bash, del -n <TAB> offers the ids of the two devices present" {
	local a b
	e2e_add -t null -s 64M
	[ "$status" -eq 0 ]
	a=$DEV_ID
	e2e_add -t null -s 64M -n 300
	[ "$status" -eq 0 ]
	b=$DEV_ID
	[ "$b" = 300 ]

	run complete -p ublkctl
	[ "$output" = "complete -F _ublkctl ublkctl" ]

	bashcomp "ublkctl del -n "
	echo "candidates: $output"
	grep -qx "$a" <<<"$output"
	grep -qx 300 <<<"$output"
	# Exactly the devices the driver has.
	[ "$output" = "$("$UBLKCTL" list -r --noheadings -o ID)" ]

	bashcomp "ublkctl del -n 3"
	grep -qx 300 <<<"$output"
	bashcomp "ublkctl stop --id="
	grep -qx 300 <<<"$output"
	bashcomp "ublkctl list -n "
	grep -qx "$a" <<<"$output"
}

@test "completion: bash, a deleted device is no longer offered" {
	e2e_add -t null -s 64M -n 301
	[ "$status" -eq 0 ]
	bashcomp "ublkctl del -n 30"
	grep -qx 301 <<<"$output"
	"$UBLKCTL" del -n 301
	bashcomp "ublkctl del -n 30"
	refute grep -qx 301 <<<"$output"
}

@test "completion: zsh, del -n <TAB> offers the ids of the devices present" {
	command -v zsh >/dev/null || skip "no zsh"
	[ -e /dev/ptmx ] || skip "no pseudo-terminals here"
	e2e_add -t null -s 64M -n 302
	[ "$status" -eq 0 ]
	e2e_add -t null -s 64M -n 303
	[ "$status" -eq 0 ]
	run timeout 200 "$BATS_TEST_DIRNAME/../cli/zshcomp.zsh" \
		"$(cd "$BATS_TEST_DIRNAME/../../completions" && pwd)" "ublkctl del -n "
	echo "candidates: $output"
	grep -qx 302 <<<"$output"
	grep -qx 303 <<<"$output"
}
