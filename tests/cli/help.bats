#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl help: runs man on the right page (a fake man records the call).

load helpers

setup() {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho "man $*"\n' > "$BATS_TEST_TMPDIR/bin/man"
	chmod +x "$BATS_TEST_TMPDIR/bin/man"
}

@test "help: --help has the uniform layout" {
	help_layout help
}

@test "help: CMD shows ublkctl-CMD(8) for every command" {
	for c in $("$UBLKCTL" --list-commands); do
		PATH=$BATS_TEST_TMPDIR/bin:$PATH run "$UBLKCTL" help "$c"
		[ "$status" -eq 0 ] || { echo "$c: $output"; false; }
		[[ "$output" =~ ^man\ (-l\ .*/)?ublkctl-$c(\.8)?$ ]] || { echo "$c: $output"; false; }
	done
}

@test "help: no command shows ublkctl(8)" {
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run "$UBLKCTL" help
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^man\ (-l\ .*/)?ublkctl(\.8)?$ ]]
}

@test "help: an unknown command is a usage error" {
	usage_err "ublkctl: help: 'frob' is not a command" help frob
}

@test "help: commands are matched exactly" {
	usage_err "ublkctl: help: 'lis' is not a command" help lis
}

@test "help: without man: exit 1 and a pointer to --help" {
	mkdir -p "$BATS_TEST_TMPDIR/empty"
	PATH=$BATS_TEST_TMPDIR/empty run "$UBLKCTL" help list
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "ublkctl: help: cannot run man: No such file or directory" ]
	[ "${lines[1]}" = "Try 'ublkctl list --help'." ]
}
