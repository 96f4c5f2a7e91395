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
