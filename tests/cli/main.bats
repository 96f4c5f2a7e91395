#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Global options and command dispatch (no root, no kernel needed).

UBLKCTL=${UBLKCTL:-$BATS_TEST_DIRNAME/../../build/ublkctl}

@test "main: --help lists every command and exits 0" {
	run "$UBLKCTL" --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "Usage:" ]]
	for c in $("$UBLKCTL" --list-commands); do
		grep -qE "^ $c " <<<"$output"
	done
}

@test "main: -V prints the version" {
	run "$UBLKCTL" -V
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^ublkctl\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "main: no command is a usage error" {
	run "$UBLKCTL"
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == "ublkctl: no command given" ]]
	[[ "${lines[1]}" == "Try 'ublkctl --help'." ]]
}

@test "main: an unknown command is a usage error naming it" {
	run "$UBLKCTL" frobnicate
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == "ublkctl: 'frobnicate' is not a command" ]]
}

@test "main: commands are matched exactly, never by prefix" {
	run "$UBLKCTL" lis
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == "ublkctl: 'lis' is not a command" ]]
}

@test "main: an unknown global option is a usage error" {
	run "$UBLKCTL" --frob list
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == "ublkctl: unrecognized option '--frob'" ]]
}

@test "main: --list-commands prints one command per line" {
	run "$UBLKCTL" --list-commands
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -ge 8 ]
	for l in "${lines[@]}"; do [[ "$l" =~ ^[a-z]+$ ]]; done
	grep -qx add <<<"$output"
	grep -qx del <<<"$output"
}

@test "main: every command answers --help on stdout with exit 0" {
	for c in $("$UBLKCTL" --list-commands); do
		run "$UBLKCTL" "$c" --help
		[ "$status" -eq 0 ] || { echo "$c --help: exit $status"; false; }
		[[ "${lines[0]}" == "Usage:" ]] || { echo "$c: ${lines[0]}"; false; }
		grep -q "See ublkctl-$c(8)." <<<"$output" || { echo "$c: no See line"; false; }
	done
}

@test "main: every command rejects an unknown option with exit 2" {
	for c in $("$UBLKCTL" --list-commands); do
		run "$UBLKCTL" "$c" --no-such-option
		[ "$status" -eq 2 ] || { echo "$c: exit $status"; false; }
		grep -q "Try 'ublkctl $c --help'." <<<"$output" || { echo "$c: $output"; false; }
	done
}
