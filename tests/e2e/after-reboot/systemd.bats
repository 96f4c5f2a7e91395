#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Run by tests/vm/run --systemd after the reboot that the last test of
# tests/e2e/systemd.bats asks for: the unit it enabled (ublkctl@boot,
# device 344 on a loop file that survived the reboot) came back at boot.

UBLKCTL=${UBLKCTL:-$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)/build/ublkctl}
load ../lib

@test "systemd: after a reboot, the enabled ublkctl@boot is up again with the data written before" {
	[ "${UBLKCTL_VM_BOOT:-1}" -gt 1 ]
	E2E_IDS+=(344)
	e2e_wait 60 bash -c '[ "$(systemctl show -P ActiveState ublkctl@boot.service)" = active ]'
	e2e_wait 30 bash -c "[ \"\$(\"$UBLKCTL\" list -n 344 -r --noheadings -o STATE)\" = live ]"
	[ "$("$UBLKCTL" list -n 344 -r --noheadings -o PID)" = \
		"$(systemctl show -P MainPID ublkctl@boot.service)" ]
	# started by the boot, not by hand: multi-user.target pulled it in
	systemctl show -P WantedBy ublkctl@boot.service | grep -qw multi-user.target
	cmp -n 1048576 /var/lib/ublkctl-test/pattern \
		<(dd if=/dev/ublkb344 bs=1M count=1 iflag=direct status=none)
	run systemctl disable --now ublkctl@boot
	[ "$status" -eq 0 ]
	[ ! -e /sys/class/ublk-char/ublkc344 ]
}
