#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl features against the running driver (VM).

load lib

@test "features: lists named bits in ascending order" {
	run "$UBLKCTL" features -r --noheadings -o BIT,NAME
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -ge 3 ]
	prev=-1
	for l in "${lines[@]}"; do
		read -r bit name <<<"$l"
		[ "$bit" -gt "$prev" ]
		prev=$bit
		[[ "$name" =~ ^[A-Z0-9_]+$ ]]
	done
	# Every driver that has GET_FEATURES has these.
	grep -qx '[0-9]* CMD_IOCTL_ENCODE' <<<"$output"
	grep -qx '3 USER_RECOVERY' <<<"$output"
}

@test "features: -J has numeric bits and names" {
	run "$UBLKCTL" features -J
	[ "$status" -eq 0 ]
	jq -e '.features | length > 0 and all(.[]; (.bit | type) == "number" and (.name | type) == "string")' <<<"$output"
}

@test "features: the flags a device gets are features of the driver" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	have=$("$UBLKCTL" features -J | jq -c '[.features[].name]')
	"$UBLKCTL" list -J -n "$DEV_ID" |
		jq -e --argjson have "$have" '.ublkdevices[0].flags - $have == []'
}
