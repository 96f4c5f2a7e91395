#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl@.service driven by the real systemd: needs `tests/vm/run
# --systemd` (systemd is PID 1, the unit is installed in /etc/systemd/system
# naming the binary under test). Devices come from /etc/ublkctl/NAME.conf
# as an administrator writes them; the last test enables a unit, and the
# guest reboots into tests/e2e/after-reboot/systemd.bats, which checks that
# the boot brought the device back.

load lib

CONF_DIR=/etc/ublkctl

e2e_setup_extra() {
	[ "$(cat /proc/1/comm)" = systemd ] || {
		echo "systemd is not PID 1: run this file with tests/vm/run --systemd" >&2
		return 1
	}
	mkdir -p "$CONF_DIR"
	UNITS=()
}

e2e_teardown_extra() {
	local u
	for u in "${UNITS[@]}"; do
		systemctl stop "$u" 2>/dev/null
		systemctl reset-failed "$u" 2>/dev/null
	done
	return 0
}

# conf NAME ID TARGET OPTIONS...: /etc/ublkctl/NAME.conf (ID empty: none).
conf() {
	local name=$1 id=$2 target=$3
	shift 3
	{
		echo "# written by tests/e2e/systemd.bats"
		[ -z "$id" ] || echo "ID=$id"
		echo "TARGET=$target"
		echo "OPTIONS=$*"
	} >"$CONF_DIR/$name.conf"
	UNITS+=("ublkctl@$name.service")
	[ -z "$id" ] || E2E_IDS+=("$id")
}

prop() {	# prop UNIT PROPERTY
	systemctl show -P "$2" "$1"
}

dev_live() {
	[ "$("$UBLKCTL" list -n "$1" -r --noheadings -o STATE 2>/dev/null)" = live ]
}

# served_by ID UNIT: device ID is live and its server is UNIT's main process.
served_by() {
	dev_live "$1" &&
		[ "$("$UBLKCTL" list -n "$1" -r --noheadings -o PID)" = "$(prop "$2" MainPID)" ]
}

restarted() {	# restarted UNIT N: systemd restarted UNIT N times
	[ "$(prop "$1" NRestarts)" -ge "$2" ]
}

@test "systemd: systemd-analyze verify accepts the installed unit" {
	local man=$BATS_TEST_TMPDIR/man
	conf verify 340 null
	# Documentation= names the manual pages: the project's, as installed
	mkdir -p "$man/man8"
	cp "$BATS_TEST_DIRNAME"/../../man/*.8 "$man/man8/"
	run env MANPATH="$man" systemd-analyze verify \
		/etc/systemd/system/ublkctl@.service ublkctl@verify.service
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "systemd: systemctl start serves NAME.conf's device, I/O verifies, systemctl stop deletes it" {
	local f
	f=$(e2e_backing 64M)
	conf data 341 loop -f "$f" -q 2 -d 64
	run systemctl start ublkctl@data
	echo "$output"
	[ "$status" -eq 0 ]
	e2e_wait 30 served_by 341 ublkctl@data.service
	# $OPTIONS was split into words
	[ "$("$UBLKCTL" list -n 341 -r --noheadings -o QUEUES,DEPTH)" = "2 64" ]
	e2e_fio_verify 341
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cut -d';' -f5 <<<"${lines[0]}")" = 0 ]

	run systemctl stop ublkctl@data
	[ "$status" -eq 0 ]
	[ "$(prop ublkctl@data.service ActiveState)" = inactive ]
	[ "$(prop ublkctl@data.service Result)" = success ]
	[ ! -e /sys/class/ublk-char/ublkc341 ]
	[ ! -e "$UBLKCTL_RUN_DIR/341.json" ]
}

@test "systemd: a config without ID fails the unit once (usage error: no restart)" {
	conf noid "" null -s 64M
	systemctl start ublkctl@noid || true
	e2e_wait 30 bash -c '[ "$(systemctl show -P ActiveState ublkctl@noid.service)" = failed ]'
	[ "$(prop ublkctl@noid.service ExecMainStatus)" = 2 ]
	[ "$(prop ublkctl@noid.service NRestarts)" = 0 ]
	journalctl -b -u ublkctl@noid.service --no-pager |
		grep -qF "ublkctl: add: --id: '': not a number"
}

@test "systemd: a killed server without recovery: the dead device is deleted, the restarted unit adds it again" {
	local old
	conf plain 342 null -s 64M
	systemctl start ublkctl@plain
	e2e_wait 30 served_by 342 ublkctl@plain.service
	old=$(prop ublkctl@plain.service MainPID)
	kill -KILL "$old"
	e2e_wait 60 restarted ublkctl@plain.service 1
	e2e_wait 30 served_by 342 ublkctl@plain.service
	[ "$(prop ublkctl@plain.service MainPID)" != "$old" ]
	# a new device: no recovery flag, and ExecStopPost did delete the old one
	run "$UBLKCTL" list -n 342 -r --noheadings -o FLAGS
	refute grep -q USER_RECOVERY <<<"$output"
	journalctl -b -u ublkctl@plain.service --no-pager >&2
}

@test "systemd: with --recovery, a killed server comes back by itself and fio under it verifies clean" {
	local f old fio_pid rc=0
	f=$(e2e_backing 64M)
	conf crash 343 loop -f "$f" --recovery=reissue --batch
	systemctl start ublkctl@crash
	e2e_wait 30 served_by 343 ublkctl@crash.service
	old=$(prop ublkctl@crash.service MainPID)
	timeout 240 fio --name=verify --filename=/dev/ublkb343 \
		--ioengine=io_uring --direct=1 --rw=randwrite --bs=4k \
		--iodepth=16 --size=32M --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --output-format=terse \
		>"$BATS_TEST_TMPDIR/fio.out" 2>&1 &
	fio_pid=$!
	sleep 2
	kill -KILL "$old"
	e2e_wait 60 restarted ublkctl@crash.service 1
	e2e_wait 30 served_by 343 ublkctl@crash.service
	[ "$(prop ublkctl@crash.service MainPID)" != "$old" ]
	wait "$fio_pid" || rc=$?
	cat "$BATS_TEST_TMPDIR/fio.out" >&2
	journalctl -b -u ublkctl@crash.service --no-pager >&2
	[ "$rc" -eq 0 ]
	[ "$(head -n1 "$BATS_TEST_TMPDIR/fio.out" | cut -d';' -f5)" = 0 ]
	# recovered, not re-added: the same device, its recovery flag kept
	"$UBLKCTL" list -n 343 -r --noheadings -o FLAGS | grep -q USER_RECOVERY
	journalctl -b -u ublkctl@crash.service --no-pager |
		grep -q 'device 343: kept for recovery'
	systemctl stop ublkctl@crash
	[ ! -e /sys/class/ublk-char/ublkc343 ]
}

# Last: the guest reboots once this file is done.
@test "systemd: systemctl enable links the unit into multi-user.target; the guest reboots to check the boot" {
	[ -n "${UBLKCTL_VM_AFTER_REBOOT:-}" ] ||
		skip "no reboot here: run this file with tests/vm/run --systemd"
	local img=/var/lib/ublkctl-test/boot.img
	mkdir -p "${img%/*}"
	truncate -s 16M "$img"
	conf boot 344 loop -f "$img"
	run systemctl enable --now ublkctl@boot
	echo "$output"
	[ "$status" -eq 0 ]
	[ -L /etc/systemd/system/multi-user.target.wants/ublkctl@boot.service ]
	e2e_wait 30 served_by 344 ublkctl@boot.service
	# data written now must be read back after the reboot
	dd if=/dev/urandom of="${img%/*}/pattern" bs=1M count=1 status=none
	dd if="${img%/*}/pattern" of=/dev/ublkb344 bs=1M oflag=direct status=none
	# the device is the system's now: the shutdown stops it, the boot starts it
	UNITS=() E2E_IDS=()
	printf 'UBLKCTL=%q bats --tap %q\n' "$UBLKCTL" \
		"$BATS_TEST_DIRNAME/after-reboot/systemd.bats" >"$UBLKCTL_VM_AFTER_REBOOT"
}
