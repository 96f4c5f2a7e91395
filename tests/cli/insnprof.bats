#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# tests/bench/insnprof-report: the bench's per-function instruction counts,
# from two plugin snapshots and a kallsyms, without a VM. (The plugin itself
# is checked in the VM by tests/vm/selftest.)

load helpers

REPORT=$BATS_TEST_DIRNAME/../bench/insnprof-report

setup() {
	d=$BATS_TEST_TMPDIR
	printf '%s\n' 'ffffffff81000000 T alpha' 'ffffffff81000100 t beta' \
		'ffffffff81000200 D some_data' 'ffffffffc0000000 t gamma	[mymod]' > "$d/kallsyms"
	printf '%s\n' 'ffffffff81000000 100' 'ffffffff81000010 50' \
		'ffffffff81000100 10' '0000000000000001 1000' > "$d/a.counts"
	# +200 +200 +100 (+7 new, past beta and the data symbol: beta's), +400 in
	# the module, +100 in user space, and one block that only shrank
	printf '%s\n' 'ffffffff81000000 300' 'ffffffff81000010 250' \
		'ffffffff81000100 110' 'ffffffff81000300 7' 'ffffffffc0000010 400' \
		'0000000000000001 1100' > "$d/b.counts"
}

@test "insnprof-report: each block's count goes to the text symbol below it" {
	run "$REPORT" "$d/a.counts" "$d/b.counts" "$d/kallsyms" 10
	[ "$status" -eq 0 ]
	[[ $output == *"all "*" 101 100.0%"* ]]
	[[ $(awk '$1 == "user" { print $3 }' <<<"$output") == 10 ]]
	[[ $(awk '$1 == "kernel" { print $2 }' <<<"$output") == 91 ]]
	[[ $(awk '$1 == "module" && $2 == "mymod" { print $3 }' <<<"$output") == 40 ]]
	[[ $(awk '$1 == "alpha" { print $2 }' <<<"$output") == 40.0 ]]
	[[ $(awk '$1 == "beta" { print $2 }' <<<"$output") == 10.7 ]]
	[[ $(awk '$1 == "gamma" { print $2, $4 }' <<<"$output") == "40.0 [mymod]" ]]
	refute grep -q some_data <<<"$output"
}

@test "insnprof-report: --csv lists every function with its module" {
	run "$REPORT" --csv "$d/a.counts" "$d/b.counts" "$d/kallsyms" 10
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "function,module,insn_per_io" ]
	[ "$(printf '%s\n' "${lines[@]:1}" | sort | tr '\n' ' ')" = "alpha,vmlinux,40.0 beta,vmlinux,10.7 gamma,mymod,40.0 " ]
}

@test "insnprof-report: --top N keeps the N biggest" {
	run "$REPORT" --top 1 "$d/a.counts" "$d/b.counts" "$d/kallsyms" 10
	[ "$status" -eq 0 ]
	[[ $output == *alpha* || $output == *gamma* ]]
	refute grep -q beta <<<"$output"
}

@test "insnprof-report: --maps charges user-space blocks to the mapped file's functions" {
	local bin off main start end
	bin=$(realpath "$UBLKCTL")
	# the executable segment's file offset, and main's address in the file
	off=$(readelf -lW "$bin" | awk '$1 == "LOAD" && $7 ~ /E/ { print $2; exit }')
	main=0x$(nm --defined-only "$bin" | awk '$3 == "main" { print $1 }')
	[ -n "$off" ] && [ "$main" != 0x ]
	# mapped where a process without address randomisation has it
	start=$((0x555555554000 + off)) end=$((0x555555554000 + off + 0x100000))
	printf '%x-%x r-xp %08x fe:01 1 %s\n' "$start" "$end" "$off" "$bin" > "$d/maps"
	printf '%x-%x r--p 00000000 fe:01 1 %s\n' $((start - off)) "$start" "$bin" >> "$d/maps"
	# +500 in main, +300 past the mapping (another process's), +100 unkeyed
	printf '%016x 0\n%016x 0\n0000000000000001 1000\n' $((0x555555554000 + main + 4)) \
		$((end + 0x100)) > "$d/ua.counts"
	printf '%016x 500\n%016x 300\n0000000000000001 1100\n' $((0x555555554000 + main + 4)) \
		$((end + 0x100)) > "$d/ub.counts"
	run "$REPORT" --maps "$d/maps" "$d/ua.counts" "$d/ub.counts" "$d/kallsyms" 10
	[ "$status" -eq 0 ]
	[[ $(awk '$1 == "user" { print $3 }' <<<"$output") == 90 ]]
	[[ $(awk '$1 == "object" { print $2, $3 }' <<<"$output") == "$(basename "$bin") 50" ]]
	[[ $(awk '$1 == "main" { print $2, $4 }' <<<"$output") == "50.0 [$(basename "$bin")]" ]]
	run "$REPORT" --csv --maps "$d/maps" "$d/ua.counts" "$d/ub.counts" "$d/kallsyms" 10
	[ "$status" -eq 0 ]
	[ "$(grep -c "^main,$(basename "$bin"),50.0$" <<<"$output")" = 1 ]
	run "$REPORT" --maps "$d/missing" "$d/ua.counts" "$d/ub.counts" "$d/kallsyms" 10
	[ "$status" -eq 1 ]
}

@test "insnprof-report: bad input is a usage error or exit 1" {
	run "$REPORT" "$d/a.counts" "$d/b.counts" "$d/kallsyms" 0
	[ "$status" -eq 2 ]
	[[ $output == *"IOS: '0': not a positive number"* ]]
	run "$REPORT" "$d/a.counts" "$d/b.counts" "$d/kallsyms"
	[ "$status" -eq 2 ]
	run "$REPORT" "$d/a.counts" "$d/missing" "$d/kallsyms" 10
	[ "$status" -eq 1 ]
	[[ $output == *"missing: cannot read"* ]]
}
