#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# stripe target: data integrity in each data mode with requests that cross
# chunk boundaries, where the data lands on the members, the size rule,
# DISCARD and WRITE_ZEROES on the members, a file system, recovery.

load srv

# stripe_members N [SIZE]: N sparse members of SIZE (default 32M), their
# paths as -f options in $MEMBER_ARGS and themselves in $MEMBERS.
stripe_members() {
	local i
	MEMBERS=() MEMBER_ARGS=()
	for ((i = 0; i < $1; i++)); do
		MEMBERS+=("$(e2e_backing "${2:-32M}" "m$i")")
		MEMBER_ARGS+=(-f "${MEMBERS[i]}")
	done
}

# stripe_verify N ARGS...: a stripe of N 32M members with ARGS, fio
# randwrite + crc32c verify with 4k-256k blocks (crossing 64K chunks).
stripe_verify() {
	local n=$1
	shift
	stripe_members "$n"
	e2e_add -t stripe "${MEMBER_ARGS[@]}" "$@"
	echo "add $*: $output" >&2
	[ "$status" -eq 0 ]
	[ "$(srv_state "$DEV_ID")" = live ]
	e2e_fio_verify "$DEV_ID" --bsrange=4k-256k --size=24M
	echo "fio: $output" >&2
	[ "$status" -eq 0 ]
	[ "$(cut -d';' -f5 <<<"${lines[0]}")" = 0 ]
}

@test "stripe: fio crc32c verify, copy mode, 2 members" {
	stripe_verify 2 --copy
	[ "$(srv_mode "$DEV_ID")" = copy ]
}

@test "stripe: fio crc32c verify, --batch, 3 members" {
	stripe_verify 3 --batch
	[ "$(srv_mode "$DEV_ID")" = batch ]
}

@test "stripe: fio crc32c verify, --auto-zc, 3 members" {
	stripe_verify 3 --auto-zc
	[ "$(srv_mode "$DEV_ID")" = auto-zc ]
}

@test "stripe: fio crc32c verify, --batch --auto-zc (the default), 2 members" {
	stripe_verify 2
	[ "$(srv_mode "$DEV_ID")" = "$(fast_mode stripe)" ]
	[ "$(srv_mode "$DEV_ID")" = batch-auto-zc ]
}

@test "stripe: fio crc32c verify, --zero-copy, 4 members, 4K chunks (16-piece chains)" {
	stripe_verify 4 --zero-copy --chunk-size 4K
	[ "$(srv_mode "$DEV_ID")" = zero-copy ]
	# 15 chunks at most per request
	[ "$("$UBLKCTL" list -b -r --noheadings -n "$DEV_ID" -o MAX-IO)" = 61440 ]
}

@test "stripe: fio crc32c verify, --user-copy --buffered, 3 members" {
	stripe_verify 3 --user-copy --buffered
	[ "$(srv_mode "$DEV_ID")" = user-copy ]
}

@test "stripe: fio crc32c verify, --batch --auto-zc-fallback with every registration failing" {
	UBLKCTL_TEST_FORCE_NEED_REG_BUF=1 stripe_verify 3 --batch --auto-zc \
		--auto-zc-fallback
}

@test "stripe: chunk k lands on member k % n at (k / n) x chunk" {
	local k n=3 chunk=65536 dev
	stripe_members "$n" 8M
	e2e_add -t stripe "${MEMBER_ARGS[@]}"
	[ "$status" -eq 0 ]
	dev=/dev/ublkb$DEV_ID
	head -c $((8 * chunk)) /dev/urandom >"$BATS_TEST_TMPDIR/pat"
	dd if="$BATS_TEST_TMPDIR/pat" of="$dev" bs=$chunk count=8 oflag=direct status=none
	for ((k = 0; k < 8; k++)); do
		cmp -n $chunk "$BATS_TEST_TMPDIR/pat" "${MEMBERS[k % n]}" \
			--ignore-initial=$((k * chunk)):$((k / n * chunk))
	done
	# and a write across chunks 2-4 at an odd block offset reads back
	head -c $((2 * chunk)) /dev/urandom >"$BATS_TEST_TMPDIR/pat2"
	dd if="$BATS_TEST_TMPDIR/pat2" of="$dev" bs=$((2 * chunk)) \
		seek=$(((2 * 16 + 3) * 4096)) oflag=direct,seek_bytes status=none
	cmp -n $((2 * chunk)) "$BATS_TEST_TMPDIR/pat2" "$dev" \
		--ignore-initial=0:$(((2 * 16 + 3) * 4096))
	# its head is in chunk 2 (member 2, its chunk 0), 3 blocks in
	cmp -n 4096 "$BATS_TEST_TMPDIR/pat2" "${MEMBERS[2]}" --ignore-initial=0:$((3 * 4096))
}

@test "stripe: size is n x the smallest member in whole chunks; list shows the members" {
	local a b c want
	a=$(e2e_backing 10M m0)
	b=$(e2e_backing $((7 * 1048576 + 100 * 1024)) m1)
	c=$(e2e_backing 9M m2)
	e2e_add -t stripe -f "$a" -f "$b" -f "$c"
	[ "$status" -eq 0 ]
	want=$((3 * ((7 * 1048576 + 100 * 1024) / 65536 * 65536)))
	[ "$(blockdev --getsize64 "/dev/ublkb$DEV_ID")" = "$want" ]
	[ "$(srv_field "$DEV_ID" backing)" = "stripe 64K: $a,$b,$c" ]
	# and the state file keeps every member, in order, for recover
	[ "$(jq -c .config.file "$UBLKCTL_RUN_DIR/$DEV_ID.json")" = "[\"$a\",\"$b\",\"$c\"]" ]
	[ "$(jq .config.\"chunk-size\" "$UBLKCTL_RUN_DIR/$DEV_ID.json")" = 65536 ]
	# a smaller --size is taken, a larger one refused
	run timeout 60 "$UBLKCTL" add -t stripe -f "$a" -f "$b" -f "$c" -s $((want + 512))
	[ "$status" -eq 2 ]
}

@test "stripe: discard punches holes in the members; zeroout reads back zeroes" {
	local dev before after
	stripe_members 2 16M
	[ "$(stat -f -c %T "${MEMBERS[0]}")" = tmpfs ]
	e2e_add -t stripe "${MEMBER_ARGS[@]}"
	[ "$status" -eq 0 ]
	dev=/dev/ublkb$DEV_ID
	[ "$(cat "/sys/block/ublkb$DEV_ID/queue/discard_max_bytes")" -gt 0 ]
	dd if=/dev/urandom of="$dev" bs=1M count=32 oflag=direct status=none
	before=$(du -k "${MEMBERS[0]}" | cut -f1)
	[ "$before" -ge 16000 ]
	# 8M of the device, an odd start: 4M (less two partial chunks) per member
	blkdiscard -o $((1024 * 1024 + 8192)) -l 8M "$dev"
	after=$(du -k "${MEMBERS[0]}" | cut -f1)
	echo "member 0: $before K before, $after K after" >&2
	[ "$after" -le $((before - 3900)) ]
	[ "$(du -k "${MEMBERS[1]}" | cut -f1)" -le $((before - 3900)) ]
	cmp -n 8M "$dev" /dev/zero --ignore-initial=$((1024 * 1024 + 8192)):0
	# the data around it stayed
	refute cmp -s -n 8192 "$dev" /dev/zero --ignore-initial=1M:0
	# WRITE_ZEROES with NOUNMAP: ZERO_RANGE, tmpfs lacks it: punched
	blkdiscard -z -o 20M -l 3M "$dev"
	cmp -n 3M "$dev" /dev/zero --ignore-initial=20M:0
	refute cmp -s -n 1M "$dev" /dev/zero --ignore-initial=24M:0
	refute e2e_kmsg_has "operation not supported|I/O error"
}

@test "stripe: mkfs.ext4, mount, write, umount, fsck clean" {
	stripe_members 3 48M
	e2e_add -t stripe "${MEMBER_ARGS[@]}" --chunk-size 128K
	[ "$status" -eq 0 ]
	mkfs_cycle "$DEV_ID"
}

@test "stripe: recover after kill -9 brings back every member in order" {
	local old dev
	stripe_members 3 8M
	# relative paths: the state file must keep them absolute
	cd "$BATS_TEST_TMPDIR"
	e2e_add -t stripe -f m0.img -f m1.img -f m2.img --chunk-size 16K -r
	[ "$status" -eq 0 ]
	dev=/dev/ublkb$DEV_ID
	head -c 4M /dev/urandom >"$BATS_TEST_TMPDIR/pat"
	dd if="$BATS_TEST_TMPDIR/pat" of="$dev" bs=1M oflag=direct status=none
	old=$(srv_pid "$DEV_ID")
	kill -9 "$old"
	e2e_wait 20 bash -c "[ \"\$(\"$UBLKCTL\" list -J | jq -r '.ublkdevices[] | select(.id == $DEV_ID) | .state')\" = quiesced ]"
	# from another directory: the saved paths are absolute
	run bash -c "cd / && timeout 60 '$UBLKCTL' recover -n $DEV_ID"
	echo "recover: $output" >&2
	[ "$status" -eq 0 ]
	[ "$(srv_state "$DEV_ID")" = live ]
	[ "$(srv_pid "$DEV_ID")" != "$old" ]
	[[ "$(srv_field "$DEV_ID" backing)" == "stripe 16K: ${MEMBERS[0]},${MEMBERS[1]},${MEMBERS[2]}" ]]
	cmp -n 4M "$BATS_TEST_TMPDIR/pat" "$dev"
}

@test "stripe: resize within n x the smallest member, not beyond" {
	stripe_members 3 8M
	e2e_add -t stripe "${MEMBER_ARGS[@]}" -s 16M
	[ "$status" -eq 0 ]
	run timeout 30 "$UBLKCTL" resize -n "$DEV_ID" -s 24M
	[ "$status" -eq 0 ]
	[ "$(cat "/sys/block/ublkb$DEV_ID/size")" = $((24 << 11)) ]
	run timeout 30 "$UBLKCTL" resize -n "$DEV_ID" -s 25M
	echo "$output" >&2
	[ "$status" -ne 0 ]
	[ "$output" = "ublkctl: resize: device $DEV_ID: --size: '25M': larger than the stripe (25165824 bytes usable)" ]
	# a member grows, the smallest sets the limit
	truncate -s 16M "${MEMBERS[0]}" "${MEMBERS[1]}"
	run timeout 30 "$UBLKCTL" resize -n "$DEV_ID" -s 25M
	[ "$status" -ne 0 ]
}
