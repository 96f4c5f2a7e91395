#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# `cmake --install` into a DESTDIR puts everything in its place: binary,
# man pages, completions, udev rule, systemd unit, example config.
# Uses the build tree of $UBLKCTL; no root, no kernel.

load ../assert

UBLKCTL=${UBLKCTL:-$BATS_TEST_DIRNAME/../../build/ublkctl}
TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup_file() {
	BUILD=$(cd "$(dirname "$UBLKCTL")" && pwd)
	export BUILD
	[ -f "$BUILD/cmake_install.cmake" ] || return 0
	export DEST=$BATS_FILE_TMPDIR/root
	DESTDIR=$DEST cmake --install "$BUILD" --prefix /usr >"$BATS_FILE_TMPDIR/install.log" 2>&1
}

setup() {
	[ -f "$BUILD/cmake_install.cmake" ] || skip "no CMake build tree at $BUILD"
}

@test "install: the binary, runnable" {
	[ -x "$DEST/usr/sbin/ublkctl" ]
	run "$DEST/usr/sbin/ublkctl" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^ublkctl\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "install: every man page in man8, and man finds them" {
	local p c
	for p in "$TOP"/man/*.8; do
		cmp "$p" "$DEST/usr/share/man/man8/${p##*/}"
	done
	for c in $("$UBLKCTL" --list-commands); do
		[ -f "$DEST/usr/share/man/man8/ublkctl-$c.8" ] || { echo "no ublkctl-$c.8"; false; }
	done
	run env MANPATH="$DEST/usr/share/man" MANPAGER=cat PAGER=cat MANWIDTH=80 man 8 ublkctl-add
	[ "$status" -eq 0 ]
	grep -q 'ublkctl-add - create a ublk device' <<<"$output"
}

@test "install: bash completion where bash-completion loads it" {
	local f=$DEST/usr/share/bash-completion/completions/ublkctl
	[ -f "$f" ]
	run bash -c ". '$f' && complete -p ublkctl"
	[ "$status" -eq 0 ]
	[ "$output" = "complete -F _ublkctl ublkctl" ]
}

@test "install: zsh completion in vendor-completions, valid zsh" {
	local f=$DEST/usr/share/zsh/vendor-completions/_ublkctl
	[ -f "$f" ]
	[ "$(head -n 1 "$f")" = "#compdef ublkctl" ]
	command -v zsh >/dev/null || skip "no zsh"
	zsh -n "$f"
}

@test "install: udev rule names the installed binary" {
	local f=$DEST/usr/lib/udev/rules.d/60-ublkctl.rules
	[ -f "$f" ]
	refute grep -n '@[A-Z_]*@' "$f"
	grep -q '^PROGRAM="/usr/sbin/ublkctl list -n %n ' "$f"
	grep -q 'OWNER="%c{1}", GROUP="%c{2}"' "$f"
}

@test "install: systemd unit names the installed binary" {
	local f=$DEST/usr/lib/systemd/system/ublkctl@.service
	[ -f "$f" ]
	refute grep -n '@[A-Z_]*@' "$f"
	grep -qx 'ExecStart=/usr/sbin/ublkctl add --foreground --recover-existing -n ${ID} -t ${TARGET} $OPTIONS' "$f"
	grep -qx 'ExecStopPost=-/usr/sbin/ublkctl del -n ${ID} --keep-recoverable' "$f"
	grep -qx 'Restart=on-failure' "$f"
	grep -qx 'EnvironmentFile=/etc/ublkctl/%i.conf' "$f"
}

@test "install: example config sets what the unit uses" {
	local f=$DEST/usr/share/doc/ublkctl/example.conf v
	[ -f "$f" ]
	for v in ID TARGET OPTIONS; do
		grep -q "^$v=" "$f" || { echo "example.conf lacks $v"; false; }
	done
}

@test "install: systemd-analyze verify accepts the unit" {
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
	local d=$BATS_TEST_TMPDIR/units
	mkdir -p "$d"
	# The unit as installed, its binary path pointed into DESTDIR so the
	# executable check finds it; man pages from DESTDIR too.
	sed "s#/usr/sbin/ublkctl#$DEST/usr/sbin/ublkctl#g" \
		"$DEST/usr/lib/systemd/system/ublkctl@.service" >"$d/ublkctl@.service"
	run env MANPATH="$DEST/usr/share/man" SYSTEMD_LOG_LEVEL=warning \
		systemd-analyze verify "$d/ublkctl@.service"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
