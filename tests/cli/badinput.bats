#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Bad-input matrix for list, del, features, resize, stop, quiesce, help:
# each case is refused with exit 2 and one line naming the option and the
# reason, before any side effect (these run with no ublk driver at all, so
# reaching the kernel would show up as exit 1).

load helpers

@test "bad input: list -n with letters" {
	usage_err "ublkctl: list: --id: 'abc': not a number" list -n abc
}

@test "bad input: list -n negative" {
	usage_err "ublkctl: list: --id: '-1': not a number" list -n -1
}

@test "bad input: list -n above the largest id" {
	usage_err "ublkctl: list: --id: '1048576': out of range (0-1048575)" list -n 1048576
}

@test "bad input: list -n overflowing 64 bits" {
	usage_err "ublkctl: list: --id: '99999999999999999999999': number too large" list -n 99999999999999999999999
}

@test "bad input: list -o with an empty column name" {
	usage_err "ublkctl: list: --output: 'ID,,STATE': empty column name" list -o ID,,STATE
}

@test "bad input: list -o without its argument" {
	usage_err "ublkctl: list: option '--output' requires an argument" list -o
}

@test "bad input: list with an unknown short option" {
	usage_err "ublkctl: list: invalid option -- 'Z'" list -Z
}

@test "bad input: list with a positional argument" {
	usage_err "ublkctl: list: unexpected argument '3'" list 3
}

@test "bad input: del --id without its argument" {
	usage_err "ublkctl: del: option '--id' requires an argument" del --id
}

@test "bad input: del -n with a trailing unit" {
	usage_err "ublkctl: del: --id: '1x': not a number" del -n 1x
}

@test "bad input: del --timeout with a unit" {
	usage_err "ublkctl: del: --timeout: '5s': not a number" del -n 1 --timeout 5s
}

@test "bad input: del --timeout too long" {
	usage_err "ublkctl: del: --timeout: '3601': out of range (1-3600)" del -a --timeout 3601
}

@test "bad input: del -a with a positional id" {
	usage_err "ublkctl: del: unexpected argument '3'" del -a 3
}

@test "bad input: features -J with -r" {
	usage_err "ublkctl: features: --json and --raw are mutually exclusive" features -J -r
}

@test "bad input: features with an unknown long option" {
	usage_err "ublkctl: features: unrecognized option '--bogus'" features --bogus
}

@test "bad input: resize -s with an unknown unit" {
	usage_err "ublkctl: resize: --size: '1Q': not a size (use bytes or K, M, G, T)" resize -n 1 -s 1Q
}

@test "bad input: resize -s negative" {
	usage_err "ublkctl: resize: --size: '-4096': not a number" resize -n 1 -s -4096
}

@test "bad input: resize -s overflowing with its unit" {
	usage_err "ublkctl: resize: --size: '17179869184G': size too large" resize -n 1 -s 17179869184G
}

@test "bad input: resize -s not whole sectors" {
	usage_err "ublkctl: resize: --size: '4097': not a multiple of 512 bytes" resize -n 1 -s 4097
}

@test "bad input: resize -n empty" {
	usage_err "ublkctl: resize: --id: '': not a number" resize -n '' -s 1M
}

@test "bad input: stop with a positional argument" {
	usage_err "ublkctl: stop: unexpected argument 'now'" stop -n 1 now
}

@test "bad input: stop --safe takes no value" {
	usage_err "ublkctl: stop: option '--safe' doesn't allow an argument" stop -n 1 --safe=yes
}

@test "bad input: quiesce --timeout zero" {
	usage_err "ublkctl: quiesce: --timeout: '0': out of range (1-3600000)" quiesce -n 1 --timeout 0
}

@test "bad input: quiesce --timeout with letters" {
	usage_err "ublkctl: quiesce: --timeout: '1e3': not a number" quiesce -n 1 --timeout 1e3
}

@test "bad input: help with two commands" {
	usage_err "ublkctl: help: unexpected argument 'del'" help list del
}

@test "bad input: every command words a bad or missing -n alike" {
	for cmd in del list stop quiesce resize recover; do
		usage_err "ublkctl: $cmd: option '--id' requires an argument" "$cmd" --id
		usage_err "ublkctl: $cmd: --id: 'x': not a number" "$cmd" -n x
	done
	for cmd in stop quiesce recover; do
		usage_err "ublkctl: $cmd: no device given: use --id ID" "$cmd"
	done
}

@test "bad input: sizes as util-linux reads them; a fraction needs a unit" {
	usage_err "ublkctl: add: --size: '1.5': not a size (use bytes or K, M, G, T)" add -t null -s 1.5
	usage_err "ublkctl: add: --size: '1Gi': not a size (use bytes or K, M, G, T)" add -t null -s 1Gi
	usage_err "ublkctl: resize: --size: '1.5B': not a size (use bytes or K, M, G, T)" resize -n 1 -s 1.5B
}

@test "bad input: add words a missing argument as every command does" {
	usage_err "ublkctl: add: option '--file' requires an argument" add -t loop -f
	usage_err "ublkctl: add: option '--type' requires an argument" add --type
}
