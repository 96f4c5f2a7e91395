#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl add against the real driver: each target, what add leaves behind
# on success and on failure, --foreground, flags the kernel grants.

load srv

@test "add: null device is live, listed, and its state file holds argv and the normalized config" {
	e2e_add -t null -q 1 -d 64 -s 256M
	echo "$output" >&2
	[ "$status" -eq 0 ]
	# add prints the device as list does
	[[ "${lines[0]}" == *ID*STATE* ]]
	[[ "${lines[1]}" =~ ^\ *$DEV_ID\  ]]
	[ "$(srv_state "$DEV_ID")" = live ]
	[ "$(srv_field "$DEV_ID" queues)" = 1 ]
	[ "$(srv_field "$DEV_ID" depth)" = 64 ]
	[ -b "/dev/ublkb$DEV_ID" ]
	[ "$(blockdev --getsize64 "/dev/ublkb$DEV_ID")" = $((256 << 20)) ]
	st=$UBLKCTL_RUN_DIR/$DEV_ID.json
	[ "$(jq -r .version "$st")" = 1 ]
	[ "$(jq -r .target "$st")" = null ]
	[ "$(jq -r .pid "$st")" = "$(srv_pid "$DEV_ID")" ]
	# argv as typed; the configuration normalized (sizes in bytes).
	[ "$(jq -c .argv "$st")" = '["-t","null","-q","1","-d","64","-s","256M"]' ]
	# the data path add picked is part of it (see the default-mode test)
	[ "$(jq -c '.config | del(.["user-copy"], .batch)' "$st")" = '{"type":"null","queues":1,"depth":64,"size":268435456,"max-io-size":524288}' ]
	[ "$(jq -r '.config["user-copy"] // false' "$st")" = "$([[ $(fast_mode) == *user-copy ]] && echo true || echo false)" ]
}

@test "add: without a data-path option the fastest mode GET_FEATURES allows; each option means just what it says" {
	local want
	echo "features: $("$UBLKCTL" features -r --noheadings -o NAME | tr '\n' ' ')" >&2
	for t in null loop fault; do
		want=$(fast_mode "$t")
		echo "$t: want $want" >&2
		args=(-t "$t")
		[ "$t" = loop ] && args+=(-f "$(e2e_backing 64M "$t")")
		e2e_add "${args[@]}"
		[ "$status" -eq 0 ]
		[ "$(srv_mode "$DEV_ID")" = "$want" ]
		# recover and resize read the choice back from the state file
		[ "$(jq -r '.config.batch // false' "$UBLKCTL_RUN_DIR/$DEV_ID.json")" = "$([[ $want == batch* ]] && echo true || echo false)" ]
	done
	e2e_add -t null --copy
	[ "$(srv_mode "$DEV_ID")" = copy ]
	e2e_add -t null --batch
	[ "$(srv_mode "$DEV_ID")" = batch ]
	e2e_add -t null --copy --batch
	[ "$(srv_mode "$DEV_ID")" = batch ]
	e2e_add -t null --auto-zc
	[ "$(srv_mode "$DEV_ID")" = auto-zc ]
	e2e_add -t null --user-copy
	[ "$(srv_mode "$DEV_ID")" = user-copy ]
}

@test "add: loop's normalized config has the absolute backing path; list and recover use it" {
	f=$(e2e_backing 64M)
	cd "$(dirname "$f")"
	e2e_add -t loop -f "$(basename "$f")" --offset 1M -r --batch
	[ "$status" -eq 0 ]
	cd /
	st=$UBLKCTL_RUN_DIR/$DEV_ID.json
	[ "$(jq -r .config.file "$st")" = "$f" ]
	[ "$(jq -r .config.offset "$st")" = 1048576 ]
	[ "$(jq -r .config.batch "$st")" = true ]
	[ "$(jq -r .config.recovery "$st")" = requeue ]
	kill -9 "$(srv_pid "$DEV_ID")"
	e2e_wait 20 bash -c "[ \"\$(\"$UBLKCTL\" list -J | jq -r '.ublkdevices[] | select(.id == $DEV_ID) | .state')\" = quiesced ]"
	run timeout 60 "$UBLKCTL" recover -n "$DEV_ID"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o STATE,BACKING,MODE)" = "live $f batch" ]
}

@test "add: piped, prints one line per device" {
	f=$(e2e_backing 64M)
	run bash -c '"$0" add -t loop -f "$1" --batch --auto-zc -r | cat' "$UBLKCTL" "$f"
	echo "$output"
	[ "$status" -eq 0 ]
	id=$(awk 'NR == 2 { print $1 }' <<<"$output")
	[[ "$id" =~ ^[0-9]+$ ]]
	E2E_IDS+=("$id")
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == *" $f batch-auto-zc" ]]
}

@test "add: -n picks the id; a used id fails with exit 1 and changes nothing" {
	e2e_add -t null -n 37
	[ "$status" -eq 0 ]
	[ "$DEV_ID" = 37 ]
	run timeout 30 "$UBLKCTL" add -t null -n 37
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: add: -n 37: device exists already" ]
	[ "$(srv_state 37)" = live ]
}

@test "add: the server is detached: own session, stdio on /dev/null" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	pid=$(srv_pid "$DEV_ID")
	proc_alive "$pid"
	[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ]
	[ "$(readlink "/proc/$pid/fd/1")" = /dev/null ]
	[ "$(readlink "/proc/$pid/fd/2")" = /dev/null ]
}

@test "add: the server drops capabilities except CAP_SYS_ADMIN" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	pid=$(srv_pid "$DEV_ID")
	eff=$(awk '/^CapEff/ { print $2 }' "/proc/$pid/status")
	# CAP_SYS_ADMIN is bit 21
	[ "$eff" = 0000000000200000 ]
}

@test "add: loop device size and block size come from the backing file" {
	f=$(e2e_backing 48M)
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	[ "$(blockdev --getsize64 "/dev/ublkb$DEV_ID")" = $((48 << 20)) ]
	[ "$(srv_field "$DEV_ID" backing)" = "$f" ]
	[ "$(jq -r .backing "$UBLKCTL_RUN_DIR/$DEV_ID.json")" = "$f" ]
}

@test "add: loop --size smaller than the file, --read-only refuses writes" {
	f=$(e2e_backing 64M)
	e2e_add -t loop -f "$f" -s 16M --read-only
	[ "$status" -eq 0 ]
	[ "$(blockdev --getsize64 "/dev/ublkb$DEV_ID")" = $((16 << 20)) ]
	[ "$(blockdev --getro "/dev/ublkb$DEV_ID")" = 1 ]
	run dd if=/dev/zero of="/dev/ublkb$DEV_ID" bs=4k count=1 oflag=direct
	[ "$status" -ne 0 ]
}

@test "add: loop data written through the device lands in the file at --offset" {
	f=$(e2e_backing 8M)
	e2e_add -t loop -f "$f" --offset 1M
	[ "$status" -eq 0 ]
	[ "$(blockdev --getsize64 "/dev/ublkb$DEV_ID")" = $((7 << 20)) ]
	printf 'ublkctl-marker' | dd of="/dev/ublkb$DEV_ID" bs=4k conv=sync oflag=direct status=none
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
	[ "$(dd if="$f" bs=1M skip=1 count=1 status=none | head -c 14)" = ublkctl-marker ]
}

@test "add: loop FLUSH, DISCARD and WRITE_ZEROES reach the file" {
	f=$(e2e_backing 32M)
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	dd if=/dev/urandom of="/dev/ublkb$DEV_ID" bs=1M count=4 oflag=direct status=none
	sync "/dev/ublkb$DEV_ID"
	[ "$(du -k "$f" | cut -f1)" -ge 4096 ]
	run blkdiscard "/dev/ublkb$DEV_ID"
	[ "$status" -eq 0 ]
	[ "$(du -k "$f" | cut -f1)" -lt 1024 ]
	dd if=/dev/urandom of="/dev/ublkb$DEV_ID" bs=1M count=1 oflag=direct status=none
	run blkdiscard -z -l 1M "/dev/ublkb$DEV_ID"
	[ "$status" -eq 0 ]
	[ "$(dd if="/dev/ublkb$DEV_ID" bs=1M count=1 iflag=direct status=none | tr -d '\0' | wc -c)" = 0 ]
}

@test "add: a server that dies before LIVE: add fails at once, nothing left" {
	# the server cannot open its backing fds for io_uring: simulate death
	# by limiting open files so the server's rings cannot be created
	run timeout 60 bash -c "ulimit -n 12; '$UBLKCTL' add -t null -q 4 --nthreads 4"
	echo "$output" >&2
	[ "$status" -eq 1 ]
	[[ "$output" == *"server exited before the device was live"* ]] ||
		[[ "$output" == *"ublkctl: add: "* ]]
	[ -z "$(ls /sys/class/ublk-char 2>/dev/null)" ]
	[ -z "$(ls "$UBLKCTL_RUN_DIR" 2>/dev/null)" ]
}

@test "add: --foreground serves until SIGTERM, then stops and deletes cleanly" {
	"$UBLKCTL" add -t null -n 55 --foreground > "$BATS_TEST_TMPDIR/fg.out" 2>&1 &
	pid=$!
	e2e_wait 20 test -b /dev/ublkb55
	e2e_wait 20 test -f "$UBLKCTL_RUN_DIR/55.json"
	[ "$(srv_pid 55)" = "$pid" ]
	dd if=/dev/ublkb55 of=/dev/null bs=64k count=16 iflag=direct status=none
	kill -TERM "$pid"
	wait "$pid"
	[ "$?" -eq 0 ]
	[ ! -e /sys/class/ublk-char/ublkc55 ]
	[ ! -e "$UBLKCTL_RUN_DIR/55.json" ]
	grep -q '^ *55 ' "$BATS_TEST_TMPDIR/fg.out"
}

@test "add: null and fault devices add and delete" {
	for t in null fault; do
		e2e_add -t "$t"
		[ "$status" -eq 0 ]
		[ "$(srv_field "$DEV_ID" target)" = "$t" ]
		run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
		[ "$status" -eq 0 ]
		[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
	done
}

@test "add: --io-desc-size 64: the driver grants the stride, I/O verifies per-I/O and in batch mode, and after a crash and recover" {
	for mode in --copy --batch; do
		loop_verify_keep --io-desc-size 64 "$mode"
		srv_has_flag "$DEV_ID" IO_DESC_SIZE
		run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
		[ "$status" -eq 0 ]
	done
	# recover maps the queues again at the granted stride
	crash_recover --io-desc-size 64 --batch
	[ "$(jq -r '.config["io-desc-size"]' "$UBLKCTL_RUN_DIR/$DEV_ID.json")" = 64 ]
	e2e_add -t null
	[ "$status" -eq 0 ]
	refute srv_has_flag "$DEV_ID" IO_DESC_SIZE
}
