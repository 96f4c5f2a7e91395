#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The udev rule, applied by the real systemd-udevd: needs `tests/vm/run
# --udev` (udevd running, the project's rule in /etc/udev/rules.d).
# Unprivileged devices are made by user 65534 (nobody), a second user 65533
# tries to use them; a local site rule opens /dev/ublk-control to users, as
# the rule's comment says a site would.

load lib

OWNER=65534
OTHER=65533
SITE_RULE=/etc/udev/rules.d/59-ublkctl-test-control.rules

# as UID CMD...: run CMD as that user and group, no supplementary groups,
# with its own runtime directory (where ublkctl keeps its state files).
as() {
	local uid=$1; shift
	mkdir -p "/tmp/run-$uid" && chown "$uid:$uid" "/tmp/run-$uid"
	setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		env XDG_RUNTIME_DIR="/tmp/run-$uid" UBLKCTL_RUN_DIR= "$@"
}

owner_of() {
	stat -c '%u:%g' "$1"
}

e2e_setup_extra() {
	udevadm control --ping || {
		echo "systemd-udevd is not running: run this file with tests/vm/run --udev" >&2
		return 1
	}
	echo 'KERNEL=="ublk-control", MODE="0666"' > "$SITE_RULE"
	udevadm control --reload
	udevadm trigger --action=change /dev/ublk-control 2>/dev/null ||
		udevadm trigger --action=change --sysname-match=ublk-control
	udevadm settle --timeout=60
	UNPRIV_IDS=()
}

e2e_teardown_extra() {
	local id
	for id in "${UNPRIV_IDS[@]}"; do
		[ -e "/sys/class/ublk-char/ublkc$id" ] || continue
		as "$OWNER" timeout 60 "$UBLKCTL" del -n "$id" --force >/dev/null 2>&1 ||
			timeout 60 "$UBLKCTL" del -n "$id" --force >/dev/null 2>&1
	done
	rm -f "$SITE_RULE"
	udevadm control --reload
}

# unpriv_add ARGS...: `ublkctl add --unprivileged ARGS` as $OWNER; sets DEV_ID.
unpriv_add() {
	run as "$OWNER" timeout 120 "$UBLKCTL" add --unprivileged "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	DEV_ID=$(awk 'NR == 2 { print $1 }' <<<"$output")
	[[ "$DEV_ID" =~ ^[0-9]+$ ]]
	UNPRIV_IDS+=("$DEV_ID")
	udevadm settle --timeout=60
}

@test "udev: the site rule opens /dev/ublk-control to users" {
	[ "$(stat -c %a /dev/ublk-control)" = 666 ]
}

@test "udev: a device root adds stays root's" {
	e2e_add -t null -s 64M
	[ "$status" -eq 0 ]
	udevadm settle --timeout=60
	# udev's default rules give block nodes the disk group; no user gets them
	[ "$(owner_of "/dev/ublkc$DEV_ID")" = 0:0 ]
	[[ "$(owner_of "/dev/ublkb$DEV_ID")" =~ ^0:(0|$(getent group disk | cut -d: -f3))$ ]]
}

@test "udev: an unprivileged device's nodes belong to its owner, who can verify I/O and delete it" {
	local img=/tmp/run-$OWNER/disk.img
	as "$OWNER" truncate -s 64M "$img"
	unpriv_add -t loop -f "$img"
	[ "$(owner_of "/dev/ublkc$DEV_ID")" = "$OWNER:$OWNER" ]
	[ "$(owner_of "/dev/ublkb$DEV_ID")" = "$OWNER:$OWNER" ]
	run as "$OWNER" timeout 240 fio --name=verify --filename="/dev/ublkb$DEV_ID" \
		--ioengine=io_uring --direct=1 --rw=randwrite --bs=4k --iodepth=16 \
		--size=16M --verify=crc32c --verify_fatal=1
	echo "$output"
	[ "$status" -eq 0 ]
	run as "$OWNER" timeout 60 "$UBLKCTL" del -n "$DEV_ID"
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
}

@test "udev: another user can neither open nor delete an unprivileged device" {
	unpriv_add -t null -s 64M
	run as "$OTHER" dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=4k count=1 iflag=direct
	[ "$status" -ne 0 ]
	run as "$OTHER" timeout 60 "$UBLKCTL" del -n "$DEV_ID"
	echo "$output"
	[ "$status" -ne 0 ]
	[ -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
	run as "$OWNER" timeout 60 "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
}
