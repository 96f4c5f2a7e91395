#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The bash and zsh completions, driven as the shells drive them (no root,
# no kernel: device ids are tested in tests/e2e/completion.bats). The
# dynamic words must come from the binary being completed, so a fake
# `ublkctl` earlier in PATH proves where they come from.

UBLKCTL=${UBLKCTL:-$BATS_TEST_DIRNAME/../../build/ublkctl}
COMPDIR=$(cd "$BATS_TEST_DIRNAME/../../completions" && pwd)

load bashcomp

setup() {
	[ -x "$UBLKCTL" ] || skip "no $UBLKCTL (build first)"
	PATH=$(cd "$(dirname "$UBLKCTL")" && pwd):$PATH
	bashcomp_load
}

# A stand-in ublkctl that answers the questions the completions ask with
# words no real build has: a new command, target, column and device ids.
fake_ublkctl() {
	local d=$BATS_TEST_TMPDIR/fake
	mkdir -p "$d"
	cat >"$d/ublkctl" <<'EOF'
#!/bin/sh
case "$*" in
--list-commands) printf 'add\nlist\nfrobnicate\n' ;;
"list -r --noheadings -o ID") printf '7\n42\n' ;;
"list --list-columns") printf 'ID\tdevice id\nWIBBLE\ta fake column\n' ;;
"add --help") printf 'Usage:\n ublkctl add\n\nx\n\nOptions:\n -h, --help  help\n\nTargets:\n null   n\n nvram  a fake target\n     --slot N  s\n\nSee ublkctl-add(8).\n' ;;
*) exit 2 ;;
esac
EOF
	chmod +x "$d/ublkctl"
	PATH=$d:$PATH
}

zsh_candidates() {
	timeout 30 "$BATS_TEST_DIRNAME/zshcomp.zsh" "$COMPDIR" "$1"
}

@test "bash: the script registers _ublkctl for ublkctl" {
	run complete -p ublkctl
	[ "$status" -eq 0 ]
	[ "$output" = "complete -F _ublkctl ublkctl" ]
}

@test "bash: ublkctl a<TAB> completes to add" {
	bashcomp "ublkctl a"
	[ "$output" = add ]
}

@test "bash: ublkctl <TAB> offers every command" {
	bashcomp "ublkctl "
	[ "$output" = "$(ublkctl --list-commands)" ]
}

@test "bash: ublkctl --<TAB> offers the global options" {
	bashcomp "ublkctl --"
	grep -qx -- --debug <<<"$output"
	grep -qx -- --version <<<"$output"
	refute grep -qx -- --queues <<<"$output"
}

@test "bash: ublkctl add --<TAB> offers add's options" {
	bashcomp "ublkctl add --"
	local o
	for o in --type --id --queues --depth --nthreads --size --batch \
		--auto-zc --auto-zc-fallback --recovery --foreground --help; do
		grep -qx -- "$o" <<<"$output" || { echo "missing $o"; false; }
	done
	refute grep -qx -- --all <<<"$output"
}

@test "bash: ublkctl add --b<TAB> completes to --batch and --buffered" {
	bashcomp "ublkctl add --b"
	[ "$output" = $'--batch\n--buffered' ]
}

@test "bash: ublkctl add -t <TAB> offers the targets" {
	bashcomp "ublkctl add -t "
	[ "$output" = $'null\nloop\nstripe\nfault\nnbd\nzoned' ]
	bashcomp "ublkctl add --type="
	[ "$output" = $'null\nloop\nstripe\nfault\nnbd\nzoned' ]
}

@test "bash: after -t loop only loop's target options join add's" {
	bashcomp "ublkctl add -t loop --"
	grep -qx -- --file <<<"$output"
	grep -qx -- --offset <<<"$output"
	refute grep -qx -- --delay-us <<<"$output"
	bashcomp "ublkctl add -t fault --"
	grep -qx -- --delay-us <<<"$output"
	refute grep -qx -- --file <<<"$output"
}

@test "bash: after -t stripe its options join add's; without -t each option once" {
	bashcomp "ublkctl add -t stripe --"
	grep -qx -- --chunk-size <<<"$output"
	grep -qx -- --file <<<"$output"
	refute grep -qx -- --offset <<<"$output"
	bashcomp "ublkctl add --"
	[ "$(grep -cx -- --file <<<"$output")" = 1 ]
	grep -qx -- --chunk-size <<<"$output"
}

@test "bash: ublkctl add --recovery=<TAB> offers the modes" {
	bashcomp "ublkctl add --recovery="
	[ "$output" = $'requeue\nreissue\nfail-io' ]
}

@test "bash: ublkctl add -t loop -f <TAB> completes file names" {
	mkdir -p "$BATS_TEST_TMPDIR/imgs"
	touch "$BATS_TEST_TMPDIR/imgs/disk.img"
	cd "$BATS_TEST_TMPDIR/imgs"
	bashcomp "ublkctl add -t loop -f di"
	[ "$output" = disk.img ]
}

@test "bash: ublkctl list -o <TAB> offers every column" {
	bashcomp "ublkctl list -o "
	[ "$output" = "$(ublkctl list --list-columns | cut -f1)" ]
}

@test "bash: list -o completes inside a list, after +, and across MAJ:MIN" {
	bashcomp "ublkctl list -o ID,ST"
	[ "$output" = "ID,STATE" ]
	bashcomp "ublkctl list -o +FL"
	[ "$output" = "+FLAGS" ]
	bashcomp "ublkctl list --output=+FL"
	[ "$output" = "+FLAGS" ]
	# readline replaces only the part after the ':' word break.
	bashcomp "ublkctl list -o ID,MAJ:"
	[ "$output" = "MIN" ]
}

@test "bash: features -o <TAB> offers its columns (from its --help)" {
	bashcomp "ublkctl features -o "
	[ "$output" = $'BIT\nNAME\nDESCRIPTION\nSINCE\nOPTION\nPRESENT' ]
}

@test "bash: ublkctl help <TAB> offers the commands" {
	bashcomp "ublkctl help "
	[ "$output" = "$(ublkctl --list-commands)" ]
}

@test "bash: del -n <TAB> without a driver offers nothing, quietly" {
	[ -e /dev/ublk-control ] && skip "a ublk driver is loaded here"
	bashcomp "ublkctl del -n "
	[ -z "$output" ]
}

@test "bash: the dynamic words come from the binary being completed" {
	fake_ublkctl
	bashcomp "ublkctl f"
	[ "$output" = frobnicate ]
	bashcomp "ublkctl del -n "
	[ "$output" = $'7\n42' ]
	bashcomp "ublkctl list -o W"
	[ "$output" = WIBBLE ]
	bashcomp "ublkctl add -t "
	[ "$output" = $'null\nnvram' ]
	# A path to a binary is honoured too.
	PATH=${PATH#*:}
	bashcomp "$BATS_TEST_TMPDIR/fake/ublkctl del -n 4"
	[ "$output" = 42 ]
}

@test "zsh: the script parses (zsh -n)" {
	command -v zsh >/dev/null || skip "no zsh"
	zsh -n "$COMPDIR/_ublkctl"
}

@test "zsh: compinit finds it; ublkctl a<TAB>, add -t <TAB>, list -o <TAB>" {
	command -v zsh >/dev/null || skip "no zsh"
	run zsh_candidates "ublkctl a"
	[ "$output" = add ]
	run zsh_candidates "ublkctl add -t "
	[ "$output" = $'null\nloop\nstripe\nfault\nnbd\nzoned' ]
	run zsh_candidates "ublkctl list -o "
	[ "$output" = "$(ublkctl list --list-columns | cut -f1)" ]
	run zsh_candidates "ublkctl list -o ID,MA"
	[ "$output" = $'MAJ:MIN\nMAX-IO' ]
}

@test "zsh: add options follow the target; --recovery= offers the modes" {
	command -v zsh >/dev/null || skip "no zsh"
	run zsh_candidates "ublkctl add -t fault --"
	grep -qx -- --delay-us <<<"$output"
	refute grep -qx -- --file <<<"$output"
	run zsh_candidates "ublkctl add --recovery="
	[ "$output" = $'requeue\nreissue\nfail-io' ]
}

@test "zsh: the dynamic words come from the binary being completed" {
	command -v zsh >/dev/null || skip "no zsh"
	fake_ublkctl
	run zsh_candidates "ublkctl f"
	[ "$output" = frobnicate ]
	run zsh_candidates "ublkctl del -n "
	[ "$output" = $'7\n42' ]
	run zsh_candidates "ublkctl add -t "
	[ "$output" = $'null\nnvram' ]
}
