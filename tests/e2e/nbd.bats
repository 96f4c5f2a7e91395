#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# nbd target against real NBD servers (nbdkit, qemu-nbd): data integrity
# over a Unix socket, TCP and TLS, a file system on a qcow2 image, request
# mapping, multi-conn, connection loss with and without reconnection, and
# bad input. Every server a test starts is killed in its teardown.

bats_require_minimum_version 1.5.0 # run --separate-stderr
load srv

NBD_PORT=10809

setup_file() {
	# The guest's loopback starts down: TCP tests need it.
	ip link set lo up
}

# Devices first (their servers may still answer a clean disconnect), then
# every NBD server the test started.
e2e_teardown_extra() {
	local id pid
	for id in "${E2E_IDS[@]}"; do
		[ -e "/sys/class/ublk-char/ublkc$id" ] || continue
		timeout 60 "$UBLKCTL" del -n "$id" >/dev/null 2>&1 ||
			timeout 30 "$UBLKCTL" del -n "$id" --force >/dev/null 2>&1
	done
	[ -f "$BATS_TEST_TMPDIR/servers" ] || return 0
	while read -r pid; do
		kill -9 "$pid" 2>/dev/null
	done <"$BATS_TEST_TMPDIR/servers"
}

nbd_sock() {
	echo "$BATS_TEST_TMPDIR/$1.sock"
}

# URI of the export on server NAME's socket: nbd_uri NAME [EXPORT]
nbd_uri() {
	echo "nbd+unix:///${2:-}?socket=$(nbd_sock "$1")"
}

# nbdkit_start NAME ARGS...: nbdkit on socket NAME. It forks once it
# listens, so the socket takes connections when this returns.
nbdkit_start() {
	local name=$1
	shift
	rm -f "$(nbd_sock "$name")"
	nbdkit -U "$(nbd_sock "$name")" -P "$BATS_TEST_TMPDIR/$name.pid" "$@"
	cat "$BATS_TEST_TMPDIR/$name.pid" >>"$BATS_TEST_TMPDIR/servers"
}

# nbd_kill NAME [SIGNAL]: stop server NAME and wait until it is gone.
nbd_kill() {
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/$1.pid")
	kill "-${2:-TERM}" "$pid"
	e2e_wait 20 bash -c "! [ -d /proc/$pid ]"
}

# fio terse output (one line per job, field 5 its error count): the
# errors of all jobs, or "none" if no job line is there.
fio_errors() {
	awk -F';' '/^3;/ { n++; e += $5 } END { print n ? e : "none" }' <<<"$output"
}

# fio_start ID: e2e_fio_verify's job over 16M in the background ($FIO_PID);
# fio_finish waits for it: it must end well, without an error.
fio_start() {
	timeout 240 fio --name=verify --filename="/dev/ublkb$1" \
		--ioengine=io_uring --direct=1 --rw=randwrite --bs=4k \
		--iodepth=16 --size=16M --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --output-format=terse >"$BATS_TEST_TMPDIR/fio.out" 2>&1 &
	FIO_PID=$!
}

fio_finish() {
	local rc=0
	wait "$FIO_PID" || rc=$?
	output=$(cat "$BATS_TEST_TMPDIR/fio.out")
	echo "fio: $output" >&2
	[ "$rc" -eq 0 ]
	[ "$(fio_errors)" = 0 ]
}

# written FILE KIB: wait until the export file has KIB allocated (the
# writes are flowing).
written() {
	e2e_wait 60 bash -c "[ \$(du -k '$1' | cut -f1) -ge $2 ]"
}

# backing_is ID TEXT: list's BACKING of device ID is TEXT.
backing_is() {
	[ "$(srv_field "$1" backing)" = "$2" ]
}

# Devices there are now (to show that a failed add left none).
nr_devices() {
	"$UBLKCTL" list -J | jq '.ublkdevices | length'
}

# bad_add WANT_STATUS ARGS...: add fails with that status, says why in one
# line naming the URI (plus the hint for a usage error), and leaves no
# device and no state file.
bad_add() {
	local want=$1 before
	shift
	before=$(nr_devices)
	run --separate-stderr timeout 60 "$UBLKCTL" add "$@"
	echo "status $status, stderr: $stderr" >&2
	[ "$status" -eq "$want" ]
	[ -z "$output" ]
	[[ "${stderr_lines[0]}" == "ublkctl: add: "* ]]
	if [ "$want" -eq 2 ]; then
		[ "${#stderr_lines[@]}" -eq 2 ]
		[ "${stderr_lines[1]}" = "Try 'ublkctl add --help'." ]
	else
		# names the URI (the last argument) and libnbd's reason
		[[ "${stderr_lines[0]}" == "ublkctl: add: ${!#}: "?* ]]
		[ "${#stderr_lines[@]}" -eq 1 ]
	fi
	[ "$(nr_devices)" = "$before" ]
	refute compgen -G "$UBLKCTL_RUN_DIR/*.json" >/dev/null
}

# nbd_verify ARGS...: add ARGS, fio crc32c verify over 8M, del.
nbd_verify() {
	e2e_add -t nbd "$@"
	echo "add: $output" >&2
	[ "$status" -eq 0 ]
	[ "$(srv_state "$DEV_ID")" = live ]
	[ "$(srv_field "$DEV_ID" target)" = nbd ]
	e2e_fio_verify "$DEV_ID" --size=8M
	echo "fio: $output" >&2
	[ "$status" -eq 0 ]
	[ "$(fio_errors)" = 0 ]
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
}

@test "nbd: fio crc32c verify, nbdkit memory over a Unix socket" {
	nbdkit_start mem memory 64M
	nbd_verify "$(nbd_uri mem)"
}

@test "nbd: the device takes the export's size, and list shows the URI and plain copy" {
	nbdkit_start mem memory 48M
	e2e_add -t nbd --uri "$(nbd_uri mem)"
	[ "$status" -eq 0 ]
	[ "$(blockdev --getsize64 "/dev/ublkb$DEV_ID")" = $((48 << 20)) ]
	backing_is "$DEV_ID" "$(nbd_uri mem)"
	# no data-path option: plain copy, the fastest for nbd (tests/bench/nbd)
	[ "$(srv_field "$DEV_ID" mode)" = copy ]
	# recover needs the URI: the state file keeps it
	grep -qF "\"$(nbd_uri mem)\"" "$UBLKCTL_RUN_DIR/$DEV_ID.json"
}

@test "nbd: a relative socket path is made absolute: list and the state file show it" {
	nbdkit_start mem memory 16M
	cd "$BATS_TEST_TMPDIR"
	e2e_add -t nbd "nbd+unix:///?socket=mem.sock"
	[ "$status" -eq 0 ]
	cd /
	backing_is "$DEV_ID" "$(nbd_uri mem)"
	[ "$(jq -r .config.uri "$UBLKCTL_RUN_DIR/$DEV_ID.json")" = "$(nbd_uri mem)" ]
}

@test "nbd: fio crc32c verify, nbdkit memory over TCP on loopback" {
	rm -f "$BATS_TEST_TMPDIR/tcp.pid"
	nbdkit -i 127.0.0.1 -p "$NBD_PORT" -P "$BATS_TEST_TMPDIR/tcp.pid" memory 64M
	cat "$BATS_TEST_TMPDIR/tcp.pid" >>"$BATS_TEST_TMPDIR/servers"
	nbd_verify "nbd://127.0.0.1:$NBD_PORT/"
}

@test "nbd: fio crc32c verify, --batch" {
	nbdkit_start mem memory 64M
	e2e_add -t nbd --batch "$(nbd_uri mem)"
	[ "$status" -eq 0 ]
	srv_has_flag "$DEV_ID" BATCH_IO
	e2e_fio_verify "$DEV_ID" --size=8M
	[ "$status" -eq 0 ]
	[ "$(fio_errors)" = 0 ]
}

@test "nbd: fio crc32c verify, TLS with a pre-shared key" {
	psktool -u alice -p "$BATS_TEST_TMPDIR/keys.psk" >/dev/null
	nbdkit_start tls --tls=require --tls-psk="$BATS_TEST_TMPDIR/keys.psk" memory 64M
	nbd_verify "nbds+unix://alice@/?socket=$(nbd_sock tls)&tls-psk-file=$BATS_TEST_TMPDIR/keys.psk"
}

# x509_dirs: a CA, a server certificate for localhost signed by it (in
# $BATS_TEST_TMPDIR/server, as nbdkit --tls-certificates wants it) and the
# CA alone for the client ($BATS_TEST_TMPDIR/client); ECDSA keys, quick.
x509_dirs() {
	local d=$BATS_TEST_TMPDIR
	mkdir -p "$d/server" "$d/client"
	printf 'cn = ublkctl test CA\nca\ncert_signing_key\nexpiration_days = 2\n' >"$d/ca.info"
	printf 'cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\ntls_www_server\nsigning_key\nexpiration_days = 2\n' >"$d/server.info"
	certtool --generate-privkey --key-type=ecdsa --outfile "$d/ca-key.pem" 2>/dev/null
	certtool --generate-self-signed --load-privkey "$d/ca-key.pem" \
		--template "$d/ca.info" --outfile "$d/server/ca-cert.pem" 2>/dev/null
	certtool --generate-privkey --key-type=ecdsa --outfile "$d/server/server-key.pem" 2>/dev/null
	certtool --generate-certificate --load-privkey "$d/server/server-key.pem" \
		--load-ca-certificate "$d/server/ca-cert.pem" \
		--load-ca-privkey "$d/ca-key.pem" --template "$d/server.info" \
		--outfile "$d/server/server-cert.pem" 2>/dev/null
	cp "$d/server/ca-cert.pem" "$d/client/"
}

@test "nbd: fio crc32c verify, TLS with X.509 certificates; a certificate of another CA is refused" {
	x509_dirs
	nbdkit -p $NBD_PORT -i 127.0.0.1 -P "$BATS_TEST_TMPDIR/x509.pid" \
		--tls=require --tls-certificates="$BATS_TEST_TMPDIR/server" memory 64M
	cat "$BATS_TEST_TMPDIR/x509.pid" >>"$BATS_TEST_TMPDIR/servers"
	nbd_verify "nbds://localhost:$NBD_PORT/?tls-certificates=$BATS_TEST_TMPDIR/client"
	# the client trusts only a CA that did not sign the server's certificate
	mkdir "$BATS_TEST_TMPDIR/other"
	certtool --generate-privkey --key-type=ecdsa --outfile "$BATS_TEST_TMPDIR/other-key.pem" 2>/dev/null
	certtool --generate-self-signed --load-privkey "$BATS_TEST_TMPDIR/other-key.pem" \
		--template "$BATS_TEST_TMPDIR/ca.info" \
		--outfile "$BATS_TEST_TMPDIR/other/ca-cert.pem" 2>/dev/null
	bad_add 1 -t nbd "nbds://localhost:$NBD_PORT/?tls-certificates=$BATS_TEST_TMPDIR/other"
}

@test "nbd: mkfs.ext4, mount, write, fsck on a qcow2 image served by qemu-nbd" {
	local img=$BATS_TEST_TMPDIR/disk.qcow2
	qemu-img create -q -f qcow2 "$img" 128M
	qemu-nbd --fork --persistent --pid-file "$BATS_TEST_TMPDIR/qemu.pid" \
		-k "$(nbd_sock qemu)" -x disk -f qcow2 "$img"
	cat "$BATS_TEST_TMPDIR/qemu.pid" >>"$BATS_TEST_TMPDIR/servers"
	e2e_add -t nbd "$(nbd_uri qemu disk)"
	[ "$status" -eq 0 ]
	mkfs_cycle "$DEV_ID"
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
	nbd_kill qemu
	# the data is in the image, and the image is sound
	run qemu-img check -q "$img"
	[ "$status" -eq 0 ]
	[ "$(qemu-img info --output=json "$img" | jq '."actual-size"')" -gt $((8 << 20)) ]
}

@test "nbd: a read-only export makes a read-only device that refuses writes" {
	nbdkit_start ro -r memory 16M
	e2e_add -t nbd "$(nbd_uri ro)"
	[ "$status" -eq 0 ]
	[ "$(cat "/sys/block/ublkb$DEV_ID/ro")" = 1 ]
	run dd if=/dev/urandom of="/dev/ublkb$DEV_ID" bs=4k count=1 oflag=direct
	echo "dd: $output" >&2
	[ "$status" -ne 0 ]
	[[ "$output" == *"Read-only file system"* || "$output" == *"Operation not permitted"* ]]
	# reads still work
	run dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=4k count=16 iflag=direct
	[ "$status" -eq 0 ]
}

@test "nbd: discard and write-zeroes reach the server as trim and zero (no-unmap honoured)" {
	local dev pat=$BATS_TEST_TMPDIR/pat log=$BATS_TEST_TMPDIR/nbd.log
	nbdkit_start mem --filter=log memory 16M logfile="$log"
	e2e_add -t nbd "$(nbd_uri mem)"
	[ "$status" -eq 0 ]
	dev=/dev/ublkb$DEV_ID
	head -c 65536 /dev/urandom >"$pat"
	dd if="$pat" of="$dev" bs=64k count=1 oflag=direct status=none
	cmp -n 65536 "$pat" "$dev"
	blkdiscard -o 0 -l 65536 "$dev"
	cmp -n 65536 /dev/zero "$dev"
	grep -q ' Trim id=.* offset=0x0 count=0x10000' "$log"
	dd if="$pat" of="$dev" bs=64k count=1 oflag=direct status=none
	# BLKZEROOUT asks for no unmap: the zero request may not trim
	blkdiscard -z -o 0 -l 65536 "$dev"
	cmp -n 65536 /dev/zero "$dev"
	grep -q ' Zero id=.* count=0x10000 trim=0' "$log"
	# punching a hole allows it
	dd if="$pat" of="$dev" bs=64k count=1 oflag=direct status=none
	fallocate -p -o 0 -l 65536 "$dev"
	cmp -n 65536 /dev/zero "$dev"
	grep -q ' Zero id=.* count=0x10000 trim=1' "$log"
}

@test "nbd: -q 2 with multi-conn: a connection per queue, fio verify" {
	local log=$BATS_TEST_TMPDIR/nbd.log
	[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs for 2 queues"
	nbdkit_start mem --filter=log memory 64M logfile="$log"
	e2e_add -t nbd -q 2 "$(nbd_uri mem)"
	[ "$status" -eq 0 ]
	[ "$(srv_field "$DEV_ID" queues)" = 2 ]
	# add's check, then one per server thread, all still there
	[ "$(grep -c ' Connect export=' "$log")" -eq 3 ]
	[ "$(grep -c ' Disconnect ' "$log")" -eq 1 ]
	e2e_fio_verify "$DEV_ID" --numjobs=2 --offset_increment=8M --size=8M
	echo "fio: $output" >&2
	[ "$status" -eq 0 ]
	[ "$(fio_errors)" = 0 ]
}

@test "nbd: -q 2 without multi-conn is a usage error" {
	nbdkit_start mc --filter=multi-conn memory 16M multi-conn-mode=disable
	bad_add 2 -t nbd -q 2 "$(nbd_uri mc)"
	[[ "${stderr_lines[0]}" == *"multi-conn"* ]]
}

# kill_restart ADD_OPTS...: a device on an nbdkit file export; the server
# killed mid-fio and started again within the timeout: fio verifies clean.
kill_restart() {
	local f=$BATS_TEST_TMPDIR/export.img log=$BATS_TEST_TMPDIR/nbd2.log
	truncate -s 64M "$f"
	nbdkit_start file file "$f"
	e2e_add -t nbd --reconnect-timeout 60 "$@" "$(nbd_uri file)"
	[ "$status" -eq 0 ]
	fio_start "$DEV_ID"
	# kill it while writes are flowing (some are in flight then)
	written "$f" 1024
	nbd_kill file KILL
	proc_alive "$FIO_PID"
	# list says so while the server is away (I/O stalls, it does not fail)
	e2e_wait 20 backing_is "$DEV_ID" "$(nbd_uri file) (reconnecting)"
	nbdkit_start file --filter=log file "$f" logfile="$log"
	fio_finish
	# the device reconnected to the new server and kept using it
	grep -q ' Connect export=' "$log"
	grep -q ' Read id=' "$log"
	e2e_wait 10 backing_is "$DEV_ID" "$(nbd_uri file)"
}

@test "nbd: the server killed mid-fio and restarted within the timeout: fio verifies clean" {
	kill_restart
}

@test "nbd: the same with --libnbd-io (libnbd carries the requests)" {
	kill_restart --libnbd-io
}

# structured_asks: how many connections asked nbdkit -v for structured replies
structured_asks() {
	grep -c 'client requested structured replies' "$BATS_TEST_TMPDIR/nbdkit.err" || true
}

@test "nbd: a plain socket's connection asks for simple replies; with --libnbd-io for structured ones" {
	nbdkit_start mem -v memory 64M 2>"$BATS_TEST_TMPDIR/nbdkit.err"
	nbd_verify "$(nbd_uri mem)"
	# the connections of add's check and of the server thread
	[ "$(grep -c 'accepted connection' "$BATS_TEST_TMPDIR/nbdkit.err")" -eq 2 ]
	[ "$(structured_asks)" -eq 0 ]
	nbd_verify --libnbd-io "$(nbd_uri mem)"
	[ "$(grep -c 'accepted connection' "$BATS_TEST_TMPDIR/nbdkit.err")" -eq 4 ]
	[ "$(structured_asks)" -eq 2 ]
}

@test "nbd: the server gone past --reconnect-timeout: EIO, and del works at once" {
	nbdkit_start mem memory 16M
	e2e_add -t nbd --reconnect-timeout 1 "$(nbd_uri mem)"
	[ "$status" -eq 0 ]
	nbd_kill mem KILL
	run timeout 60 dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=4k count=1 iflag=direct
	echo "dd: $output" >&2
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[[ "$output" == *"Input/output error"* ]]
	e2e_wait 10 backing_is "$DEV_ID" "$(nbd_uri mem) (down, I/O fails)"
	run timeout 15 "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
	refute [ -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
}

@test "nbd: kill -9 of the ublkctl server under I/O, recover -n: fio verifies clean" {
	local f=$BATS_TEST_TMPDIR/export.img old new
	truncate -s 64M "$f"
	nbdkit_start file file "$f"
	e2e_add -t nbd --recovery=reissue "$(nbd_uri file)"
	[ "$status" -eq 0 ]
	old=$(srv_pid "$DEV_ID")
	fio_start "$DEV_ID"
	written "$f" 1024
	kill -9 "$old"
	e2e_wait 20 bash -c "[ \"\$(\"$UBLKCTL\" list -J | jq -r '.ublkdevices[] | select(.id == $DEV_ID) | .state')\" = quiesced ]"
	run timeout 60 "$UBLKCTL" recover -n "$DEV_ID"
	echo "recover: $output" >&2
	[ "$status" -eq 0 ]
	new=$(srv_pid "$DEV_ID")
	[ "$new" != "$old" ]
	[ "$(srv_state "$DEV_ID")" = live ]
	fio_finish
}

@test "nbd: bad input: malformed URI, no server, unknown export, TLS required: one line, no device" {
	bad_add 2 -t nbd "http://127.0.0.1/"
	bad_add 2 -t nbd "nbd+unix:///?sockt=$BATS_TEST_TMPDIR/x.sock"
	bad_add 1 -t nbd "$(nbd_uri nobody)"
	[[ "${stderr_lines[0]}" == *"No such file or directory"* ]]
	bad_add 1 -t nbd "nbd://127.0.0.1:1/"
	[[ "${stderr_lines[0]}" == *"Connection refused"* ]]
	nbdkit_start named --filter=exportname memory 16M exportname=disk exportname-strict=true
	bad_add 1 -t nbd "$(nbd_uri named other)"
	[[ "${stderr_lines[0]}" == *"other"* ]]
	psktool -u alice -p "$BATS_TEST_TMPDIR/keys.psk" >/dev/null
	nbdkit_start tls --tls=require --tls-psk="$BATS_TEST_TMPDIR/keys.psk" memory 16M
	bad_add 1 -t nbd "$(nbd_uri tls)"
	[[ "${stderr_lines[0]}" == *"TLS"* ]]
}

@test "nbd: --zero-copy, --auto-zc and --user-copy are usage errors" {
	nbdkit_start mem memory 16M
	local m
	for m in --zero-copy --auto-zc --user-copy; do
		bad_add 2 -t nbd "$m" "$(nbd_uri mem)"
		[[ "${stderr_lines[0]}" == *"$m"* ]]
	done
}
