#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# kill -9 of the server during fio, recover -n ID, fio verifies clean.

load srv

@test "recover: per-I/O copy mode" {
	crash_recover --copy
}

@test "recover: the default (fastest) mode" {
	crash_recover
}

@test "recover: batch mode" {
	crash_recover --batch
}

@test "recover: auto-zc" {
	crash_recover --auto-zc
}

@test "recover: batch with auto-zc and 2 threads" {
	crash_recover --batch --auto-zc --nthreads 2
}

@test "recover: plain -r (requeue): recovered device serves and verifies" {
	f=$(e2e_backing 64M)
	e2e_add -t loop -f "$f" -r --batch
	[ "$status" -eq 0 ]
	old=$(srv_pid "$DEV_ID")
	kill -9 "$old"
	e2e_wait 20 bash -c "[ \"\$(\"$UBLKCTL\" list -J | jq -r '.ublkdevices[] | select(.id == $DEV_ID) | .state')\" = quiesced ]"
	run timeout 60 "$UBLKCTL" recover -n "$DEV_ID"
	[ "$status" -eq 0 ]
	[ "$(srv_state "$DEV_ID")" = live ]
	e2e_fio_verify "$DEV_ID"
	[ "$status" -eq 0 ]
}

@test "recover: a state file with keys this version does not know is read" {
	e2e_add -t null -r
	[ "$status" -eq 0 ]
	st=$UBLKCTL_RUN_DIR/$DEV_ID.json
	jq '. + {"added-by-a-newer-ublkctl": {"x": [1, 2]}}' "$st" >"$st.new"
	mv "$st.new" "$st"
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o TARGET)" = null ]
	kill -9 "$(srv_pid "$DEV_ID")"
	e2e_wait 20 bash -c "[ \"\$(\"$UBLKCTL\" list -J | jq -r '.ublkdevices[] | select(.id == $DEV_ID) | .state')\" = quiesced ]"
	run timeout 60 "$UBLKCTL" recover -n "$DEV_ID"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(srv_state "$DEV_ID")" = live ]
	[ "$(jq -r .version "$st")" = 1 ]
}

@test "recover: a live device is refused" {
	e2e_add -t null -r
	[ "$status" -eq 0 ]
	run timeout 30 "$UBLKCTL" recover -n "$DEV_ID"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: recover: device $DEV_ID: live, its server is running" ]
}

@test "recover: a device added without --recovery is refused" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	run timeout 30 "$UBLKCTL" recover -n "$DEV_ID"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: recover: device $DEV_ID: added without --recovery" ]
}

@test "recover: add --recover-existing refuses a live device and one added without --recovery" {
	e2e_add -t null -r
	[ "$status" -eq 0 ]
	run timeout 30 "$UBLKCTL" add -t null -n "$DEV_ID" --recover-existing
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: add: device $DEV_ID: live, its server is running" ]
	e2e_add -t null
	[ "$status" -eq 0 ]
	kill -9 "$(srv_pid "$DEV_ID")"
	run timeout 30 "$UBLKCTL" add -t null -n "$DEV_ID" --recover-existing
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: add: device $DEV_ID: added without --recovery" ]
}

@test "recover: del --keep-recoverable keeps a device whose server died; add --recover-existing serves it again" {
	local f old
	f=$(e2e_backing 64M)
	e2e_add -t loop -f "$f" --recovery=reissue
	[ "$status" -eq 0 ]
	old=$(srv_pid "$DEV_ID")
	# a live server: --keep-recoverable deletes as del does
	e2e_add -t null -r
	[ "$status" -eq 0 ]
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID" --keep-recoverable
	[ "$status" -eq 0 ]
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
	DEV_ID=${E2E_IDS[0]}
	kill -9 "$old"
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID" --keep-recoverable
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "ublkctl: del: device $DEV_ID: kept for recovery (its server is gone)" ]
	[ -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
	# the kernel may still see it live until the dead ring is torn down
	run timeout 60 "$UBLKCTL" add -t loop -f "$f" -n "$DEV_ID" --recover-existing
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(srv_state "$DEV_ID")" = live ]
	[ "$(srv_pid "$DEV_ID")" != "$old" ]
	e2e_fio_verify "$DEV_ID"
	[ "$status" -eq 0 ]
}
