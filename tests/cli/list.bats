#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl list without root or kernel: help, columns, usage errors.

load helpers

@test "list: --help has the uniform layout" {
	help_layout list
}

@test "list: --help lists every output column the spec names" {
	run "$UBLKCTL" list --help
	[ "$status" -eq 0 ]
	sed -n '/^Output columns:$/,/^$/p' <<<"$output" > "$BATS_TEST_TMPDIR/cols"
	for c in ID STATE TARGET SIZE QUEUES DEPTH FLAGS PID BACKING MAJ:MIN LOG-SEC MODE THREADS; do
		grep -qE "^ +$c  " "$BATS_TEST_TMPDIR/cols" || { echo "no $c"; false; }
	done
}

@test "list: --list-columns prints NAME<TAB>help, the same set as --help" {
	run "$UBLKCTL" list --list-columns
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -ge 11 ]
	for l in "${lines[@]}"; do [[ "$l" =~ ^[A-Z:-]+$'\t'.+ ]]; done
	names=$(cut -f1 <<<"$output" | sort)
	help=$("$UBLKCTL" list --help | sed -n '/^Output columns:$/,/^$/p' |
		awk 'NF > 1 { print $1 }' | grep -v '^Output' | sort)
	[ "$names" = "$help" ]
}

@test "list: -o rejects an unknown column naming it, before touching the kernel" {
	usage_err "ublkctl: list: --output: unknown column 'NOPE'" list -o ID,NOPE
}

@test "list: -o +COL rejects an unknown column too" {
	usage_err "ublkctl: list: --output: unknown column 'BOGUS'" list -o +BOGUS
}

@test "list: -o accepts column names case-insensitively" {
	need_no_driver
	no_driver list -o id,maj:min,log-sec
}

@test "list: --json and --raw together are a usage error" {
	usage_err "ublkctl: list: --json and --raw are mutually exclusive" list -J -r
}

@test "list: -n takes a checked device id" {
	usage_err "ublkctl: list: --id: '3x': not a number" list -n 3x
}

@test "list: no driver: a clear message and exit 1" {
	need_no_driver
	no_driver list
}

@test "list: no driver with -J: still the message, nothing on stdout" {
	need_no_driver
	run bash -c '"$0" list -J 2>/dev/null' "$UBLKCTL"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
}

@test "list: no driver with -n: the driver message, not 'no such device'" {
	need_no_driver
	no_driver list -n 7
}
