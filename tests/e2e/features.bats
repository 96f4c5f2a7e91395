#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl features against the running driver (VM).

load srv

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

@test "features: --add-options: PRESENT is whether -J lists the row's feature" {
	have=$("$UBLKCTL" features -J | jq -c '[.features[].name]')
	run "$UBLKCTL" features --add-options -J
	[ "$status" -eq 0 ]
	jq -e --argjson have "$have" '.features | length > 0 and
		all(.[]; (.present | type) == "boolean" and
			.present == (.name as $n | $have | index($n) != null))' <<<"$output"
}

@test "features: --add-options: this driver (ublk_drv 7.3 or our module) has every feature an option of add needs" {
	run "$UBLKCTL" features --add-options -r --noheadings -o OPTION,NAME,PRESENT
	[ "$status" -eq 0 ]
	echo "$output" >&2
	[ "${#lines[@]}" -ge 8 ]
	grep -qx -- '--shmem-zc SHMEM_ZC present' <<<"$output"
	absent=$(grep -v ' present$' <<<"$output" || true)
	[ -z "$absent" ]
}

@test "features: --add-options: one row per flag option of add, named as add --help names it" {
	run "$UBLKCTL" features --add-options -r --noheadings -o OPTION,NAME,SINCE
	[ "$status" -eq 0 ]
	grep -qx -- '--no-part-scan NO_AUTO_PART_SCAN 7.0' <<<"$output"
	grep -qx -- '--batch BATCH_IO 7.0' <<<"$output"
	grep -qx -- '--recovery=reissue USER_RECOVERY_REISSUE 6.1' <<<"$output"
	grep -qx -- '--nthreads PER_IO_DAEMON 6.16' <<<"$output"
	grep -qx -- '-t\\x20zoned ZONED 6.6' <<<"$output"
	help=$("$UBLKCTL" add --help)
	# raw output escapes the space of "-t TARGET" rows; the target is
	# listed under "Targets:" in add --help
	while read -r opt _; do
		case $opt in
		-t\\x20*) grep -q "^ ${opt#-t\\x20} " <<<"$help" ;;
		*) grep -q -- "${opt%%=*}" <<<"$help" ;;
		esac
	done <<<"$output"
}

@test "features: add --shmem-zc follows GET_FEATURES: refused without SHMEM_ZC, granted with it" {
	local shm=/dev/shm/ublkctl-e2e-$$
	truncate -s 64M "$shm"
	e2e_add -t null --shmem-zc "$shm"
	echo "add: $output" >&2
	if "$UBLKCTL" features -r --noheadings -o NAME | grep -qx SHMEM_ZC; then
		[ "$status" -eq 0 ]
		srv_has_flag "$DEV_ID" SHMEM_ZC
		run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
		[ "$status" -eq 0 ]
	else
		[ "$status" -eq 1 ]
		[ "$output" = "ublkctl: add: --shmem-zc: this kernel lacks SHMEM_ZC" ]
	fi
	rm -f "$shm"
	[ -z "$(ls /sys/class/ublk-char 2>/dev/null)" ]
	[ -z "$(ls "$UBLKCTL_RUN_DIR" 2>/dev/null)" ]
}

@test "features: the driver reports every UBLK_F_* bit of the running kernel's ublk_cmd.h (our module as ublk_drv)" {
	# the source tree the VM kernel was built from (tests/vm/build-kernel)
	src=$(cat "${UBLKCTL_VM_CACHE:-/var/tmp/ublkctl-vm}/plain/.ublkctl-src")
	hdr=$src/include/uapi/linux/ublk_cmd.h
	[ -f "$hdr" ]
	want=$(sed -n 's/^#define UBLK_F_[A-Z0-9_]*[[:space:]]*(1U\{0,1\}LL* << \([0-9]*\)).*/\1/p' "$hdr" | sort -n | tr '\n' ' ')
	have=$("$UBLKCTL" features -r --noheadings -o BIT | sort -n | tr '\n' ' ')
	echo "header: $want" >&2
	echo "driver: $have" >&2
	[ "$(wc -w <<<"$want")" -ge 21 ]
	[ "$have" = "$want" ]
}
