#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# 50 add/del cycles leave nothing behind: no device, state file or process.

load lib

# Live ublkctl processes other than bats' own children (zombies excluded:
# a detached server is reaped by whoever is init).
live_servers() {
	ps -eo stat=,comm= | awk '$1 !~ /^Z/ && $2 == "ublkctl"' | wc -l
}

@test "cycles: 50 add/del of null and loop leave nothing behind" {
	f=$(e2e_backing 64M)
	before=$(live_servers)
	for i in $(seq 1 50); do
		if [ $((i % 2)) = 0 ]; then
			e2e_add -t loop -f "$f"
		else
			e2e_add -t null -q 2
		fi
		[ "$status" -eq 0 ] || { echo "cycle $i: add: $output"; false; }
		run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
		[ "$status" -eq 0 ] || { echo "cycle $i: del: $output"; false; }
	done
	[ -z "$(ls /sys/class/ublk-char 2>/dev/null)" ]
	[ -z "$(ls "$UBLKCTL_RUN_DIR" 2>/dev/null)" ]
	[ "$(live_servers)" = "$before" ]
	[ "$("$UBLKCTL" list -J | jq '.ublkdevices | length')" = 0 ]
}
