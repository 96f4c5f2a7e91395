#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl list against real devices (VM).

load lib

@test "list: -J has every spec column, numbers as numbers, FLAGS an array" {
	e2e_add -t null -q 2 -d 64 -s 64M
	[ "$status" -eq 0 ]
	run "$UBLKCTL" list -J -n "$DEV_ID"
	[ "$status" -eq 0 ]
	echo "$output"
	# QUEUES as the block layer sees them (add may grant fewer).
	nq=$(ls "/sys/block/ublkb$DEV_ID/mq" | wc -l)
	jq -e --argjson id "$DEV_ID" --argjson nq "$nq" '
		.ublkdevices | length == 1 and (.[0] |
		.id == $id and .state == "live" and .target == "null" and
		.size == "64M" and .queues == $nq and .depth == 64 and
		(.pid | type) == "number" and .pid > 0 and
		."log-sec" == 512 and (."maj:min" | test("^[0-9]+:[0-9]+$")) and
		.backing == null and (.flags | type) == "array")' <<<"$output"
}

@test "list: -J -b gives SIZE as a number of bytes" {
	e2e_add -t null -s 64M
	[ "$status" -eq 0 ]
	run "$UBLKCTL" list -J -b -n "$DEV_ID"
	[ "$status" -eq 0 ]
	[ "$(jq '.ublkdevices[0].size' <<<"$output")" = 67108864 ]
}

@test "list: every device appears in the JSON list with the spec keys" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	keys=$("$UBLKCTL" list -J | jq -r --argjson id "$DEV_ID" \
		'.ublkdevices[] | select(.id == $id) | keys_unsorted | join(" ")')
	for k in id state target size queues depth flags pid backing maj:min log-sec; do
		grep -qw -- "$k" <<<"$keys" || { echo "missing $k in: $keys"; false; }
	done
}

@test "list: loop shows its target and backing file" {
	f=$(e2e_backing 32M)
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	run "$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o TARGET,BACKING
	[ "$status" -eq 0 ]
	[ "$output" = "loop $f" ]
}

@test "list: MAJ:MIN and SIZE agree with sysfs" {
	e2e_add -t null -s 96M
	[ "$status" -eq 0 ]
	run "$UBLKCTL" list -r --noheadings -b -n "$DEV_ID" -o MAJ:MIN,SIZE
	[ "$status" -eq 0 ]
	want="$(cat /sys/block/ublkb$DEV_ID/dev) $(($(cat /sys/block/ublkb$DEV_ID/size) * 512))"
	[ "$output" = "$want" ]
}

@test "list: ids above 127 are found" {
	e2e_add -t null -n 300
	[ "$status" -eq 0 ]
	[ "$DEV_ID" = 300 ]
	run "$UBLKCTL" list -J
	jq -e '[.ublkdevices[].id] | index(300) != null' <<<"$output"
}

@test "list: -o +COL appends, extras are correct" {
	e2e_add -t null --logical-block-size 4096
	[ "$status" -eq 0 ]
	run "$UBLKCTL" list -r -n "$DEV_ID" -o ID,+LOG-SEC,CHAR,BLOCK,RO
	[ "$status" -eq 2 ]	# '+' only leads the list
	run "$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o +CHAR,BLOCK,RO,PHY-SEC
	[ "$status" -eq 0 ]
	read -r -a f <<<"$output"
	[ "${f[0]}" = "$DEV_ID" ]
	[ "${f[6]}" = 4096 ]
	[ "${f[-4]}" = "/dev/ublkc$DEV_ID" ]
	[ "${f[-3]}" = "/dev/ublkb$DEV_ID" ]
	[ "${f[-2]}" = 0 ]
}

@test "list: -n on a missing device fails naming it" {
	run "$UBLKCTL" list -n 1048575
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: list: device 1048575: no such device" ]
}

@test "list: no devices: JSON is an empty array, text is empty" {
	[ -z "$(ls /sys/class/ublk-char 2>/dev/null)" ] || skip "other devices exist"
	run "$UBLKCTL" list -J
	[ "$status" -eq 0 ]
	[ "$(jq '.ublkdevices | length' <<<"$output")" = 0 ]
	run "$UBLKCTL" list
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "list: RO is a JSON boolean" {
	e2e_add -t null --read-only
	[ "$status" -eq 0 ]
	[ "$("$UBLKCTL" list -J -n "$DEV_ID" -o ID,RO | jq .ublkdevices[0].ro)" = true ]
	e2e_add -t null
	[ "$status" -eq 0 ]
	[ "$("$UBLKCTL" list -J -n "$DEV_ID" -o ID,RO | jq .ublkdevices[0].ro)" = false ]
}

@test "list: without privilege, says which capability is missing" {
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$UBLKCTL" list
	[ "$status" -eq 1 ]
	[[ "$output" == *"CAP_SYS_ADMIN"* ]]
}

@test "list: MODE names the data path as add's options do" {
	e2e_add -t null --copy
	[ "$status" -eq 0 ]
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o MODE)" = copy ]
	e2e_add -t null --user-copy
	[ "$status" -eq 0 ]
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o MODE)" = user-copy ]
	e2e_add -t null --batch
	[ "$status" -eq 0 ]
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o MODE)" = batch ]
	e2e_add -t null --batch --auto-zc
	[ "$status" -eq 0 ]
	[ "$("$UBLKCTL" list -J -n "$DEV_ID" | jq -r '.ublkdevices[0].mode')" = batch-auto-zc ]
}

@test "list: MODE by default, FLAGS and THREADS on request, never twice" {
	e2e_add -t null -q 2
	[ "$status" -eq 0 ]
	run "$UBLKCTL" list -n "$DEV_ID"
	[ "$status" -eq 0 ]
	read -r -a head <<<"${lines[0]}"
	[ "${head[-1]}" = MODE ]
	[[ " ${head[*]} " != *" FLAGS "* && " ${head[*]} " != *" THREADS "* ]]
	run "$UBLKCTL" list -n "$DEV_ID" -o +FLAGS,THREADS,MODE,ID
	[ "$status" -eq 0 ]
	read -r -a head <<<"${lines[0]}"
	[ "$(printf '%s\n' "${head[@]}" | sort | uniq -d)" = "" ]
	[ "${head[-2]}" = FLAGS ]
	[ "${head[-1]}" = THREADS ]
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o THREADS)" = 2 ]
	# JSON keeps every key it had (flags) and adds mode and error, each once.
	keys=$("$UBLKCTL" list -J -n "$DEV_ID" -o +FLAGS | jq -r '.ublkdevices[0] | keys_unsorted | join(" ")')
	[ "$keys" = "id state target size queues depth log-sec maj:min pid backing flags mode error" ]
}

@test "list: piped, one line per device however long its cells" {
	e2e_add -t null --batch --auto-zc -r
	[ "$status" -eq 0 ]
	e2e_add -t null --user-copy -r
	[ "$status" -eq 0 ]
	run bash -c '"$0" list -o +FLAGS | cat' "$UBLKCTL"
	[ "$status" -eq 0 ]
	echo "$output"
	[ "${#lines[@]}" -eq $(($(ls /sys/class/ublk-char | wc -l) + 1)) ]
	[[ "$output" == *USER_RECOVERY* ]]
}
