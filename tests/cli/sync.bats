#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The sync test (util-linux checkusage.sh / checkmanpage.sh): the option
# tables of the commands, as `ublkctl CMD --help` prints them, are the truth;
# the man pages and both completions must follow them. No root, no kernel.
#
# An option added to a command without docs fails here, naming it.

UBLKCTL=${UBLKCTL:-$BATS_TEST_DIRNAME/../../build/ublkctl}
TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
MAN=$TOP/man
COMPDIR=$TOP/completions

load bashcomp

# ---- what --help says ----

commands() { "$UBLKCTL" --list-commands; }

# Long option names (without --) of CMD: every option row of --help, the
# Options block and the options of each target alike. A row is
# " -x, --name ..." or "     --name ...".
help_long_opts() {
	"$UBLKCTL" "$1" --help |
		sed -nE 's/^ (-[[:alnum:]], |    )--([[:alnum:]][[:alnum:]-]*).*/\2/p' |
		sort -u
}

# Output columns of CMD: the "Output columns:" section of --help.
help_columns() {
	"$UBLKCTL" "$1" --help |
		sed -n '/^Output columns:/,/^$/{/^ /s/^ *\([^ ]*\).*/\1/p}'
}

# "target option" pairs from the "Targets:" section of `add --help`: a
# target row is " name  summary", its option rows follow it.
help_target_opts() {
	"$UBLKCTL" add --help | awk '
		/^Targets:/ { in_t = 1; next }
		in_t && /^$/ { exit }
		in_t && (/^ [a-z]/ || /^  [a-z]/) { t = $1; print t " -"; next }
		in_t && match($0, /^ (-[A-Za-z0-9], |    )--[A-Za-z0-9][A-Za-z0-9-]*/) {
			o = substr($0, RSTART, RLENGTH); sub(/.*--/, "", o)
			print t " " o
		}'
}

targets() { help_target_opts | awk '{ print $1 }' | sort -u; }

# ---- what the man pages say ----

# "SECTION<TAB>SUBSECTION<TAB>tag" for every tagged paragraph (.TP) of a
# page, rendered by mandoc (so only what a reader sees counts).
man_tags() {
	mandoc -T html "$1" | tr '\n' ' ' |
		sed 's/<h[12]/\n&/g; s/<\/h[12]>/&\n/g; s/<dt/\n&/g; s/<\/dt>/&\n/g' |
		awk '
		function text(s) {
			gsub(/<[^>]*>/, "", s); gsub(/&amp;/, "\\&", s)
			gsub(/  +/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s)
			return s
		}
		/^<h1/ { sec = text($0); sub_ = ""; next }
		/^<h2/ { sub_ = text($0); next }
		/^<dt/ { t = $0; sub(/<\/dt>.*/, "", t); print sec "\t" sub_ "\t" text(t) }'
}

# Long options (without --) documented as tags of the OPTIONS and TARGETS
# sections of a page: "SUBSECTION option" per line.
man_long_opts() {
	man_tags "$1" | awk -F '\t' '
		$1 == "OPTIONS" || $1 == "TARGETS" {
			sub_ = $2 == "" ? "-" : $2
			n = split($3, w, /[ ,]+/)
			for (i = 1; i <= n; i++)
				if (w[i] ~ /^--[A-Za-z0-9]/) {
					o = substr(w[i], 3); sub(/[^A-Za-z0-9-].*/, "", o)
					print sub_ " " o
				}
		}'
}

man_sections() {
	mandoc -T html "$1" | tr '\n' ' ' | sed 's/<h1/\n&/g; s/<\/h1>/&\n/g' |
		sed -n '/^<h1/{s/<[^>]*>//g; s/  */ /g; s/^ //; s/ $//; p}'
}

# ---- the completions ----

bash_candidates() {
	bashcomp "$1"
	printf '%s\n' "$output"
}

zsh_candidates() {
	PATH=$(dirname "$UBLKCTL"):$PATH timeout 30 \
		"$BATS_TEST_DIRNAME/zshcomp.zsh" "$COMPDIR" "$1"
}

setup() {
	[ -x "$UBLKCTL" ] || skip "no $UBLKCTL (build first)"
	# The completions run `ublkctl` by name, as a user's shell does.
	PATH=$(dirname "$UBLKCTL"):$PATH
	bashcomp_load
}

# ---- pages ----

@test "sync: every command has a man page, and every page a command" {
	local c p bad=
	for c in $(commands); do
		[ -f "$MAN/ublkctl-$c.8" ] || { echo "no man/ublkctl-$c.8"; bad=1; }
	done
	for p in "$MAN"/ublkctl-*.8; do
		c=${p##*/ublkctl-}
		c=${c%.8}
		commands | grep -qx -- "$c" || { echo "$p: no command '$c'"; bad=1; }
	done
	[ -f "$MAN/ublkctl.8" ] || { echo "no man/ublkctl.8"; bad=1; }
	[ -z "$bad" ]
}

@test "sync: man pages are clean under mandoc -T lint -W warning" {
	run mandoc -T lint -W warning "$MAN"/*.8
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "sync: man pages are clean under groff -ww -z -man" {
	command -v groff >/dev/null || skip "no groff"
	run groff -ww -z -man "$MAN"/*.8
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "sync: every page has the standard sections, in order" {
	local p c want got bad=
	for p in "$MAN"/ublkctl*.8; do
		c=${p##*/ublkctl}
		c=${c#-}
		c=${c%.8}
		want="NAME SYNOPSIS DESCRIPTION"
		[ -z "$c" ] && want+=" COMMANDS"
		want+=" OPTIONS"
		if [ -n "$c" ] && "$UBLKCTL" "$c" --help | grep -q '^Output columns:'; then
			want+=" OUTPUT COLUMNS"
		fi
		if [ -n "$c" ] && "$UBLKCTL" "$c" --help | grep -q '^Targets:'; then
			want+=" TARGETS"
		fi
		want+=" EXIT STATUS ENVIRONMENT FILES EXAMPLES SEE ALSO"
		# The standard ones, in this order; others may sit between.
		got=$(man_sections "$p" | grep -xE 'NAME|SYNOPSIS|DESCRIPTION|COMMANDS|OPTIONS|OUTPUT COLUMNS|TARGETS|EXIT STATUS|ENVIRONMENT|FILES|EXAMPLES|SEE ALSO' | tr '\n' ' ')
		[ "$got" = "$want " ] || { echo "$p: sections '$got', want '$want'"; bad=1; }
	done
	[ -z "$bad" ]
}

@test "sync: man -l renders every page" {
	local p
	for p in "$MAN"/*.8; do
		run env MANWIDTH=80 MANPAGER=cat PAGER=cat man -l "$p"
		[ "$status" -eq 0 ] || { echo "$p: man -l exit $status"; false; }
		grep -q '^NAME' <<<"$output" || { echo "$p: no NAME"; false; }
	done
}

@test "sync: ublkctl help CMD opens the page of this tree" {
	run env MANWIDTH=80 MANPAGER=cat PAGER=cat "$UBLKCTL" help add
	[ "$status" -eq 0 ]
	grep -q 'ublkctl-add - create a ublk device' <<<"$output"
}

# ---- options: --help -> man page ----

@test "sync: every long option of every command is in its man page" {
	local c o bad= tags
	for c in $(commands); do
		tags=$(man_long_opts "$MAN/ublkctl-$c.8" | awk '{ print $2 }')
		for o in $(help_long_opts "$c"); do
			grep -qx -- "$o" <<<"$tags" ||
				{ echo "ublkctl-$c.8: --$o is not documented (OPTIONS or TARGETS)"; bad=1; }
		done
	done
	[ -z "$bad" ]
}

@test "sync: every option a man page documents exists" {
	local c o bad= opts
	for c in $(commands); do
		opts=$(help_long_opts "$c")
		for o in $(man_long_opts "$MAN/ublkctl-$c.8" | awk '{ print $2 }'); do
			grep -qx -- "$o" <<<"$opts" ||
				{ echo "ublkctl-$c.8: documents --$o, which '$c --help' does not have"; bad=1; }
		done
	done
	[ -z "$bad" ]
}

@test "sync: every target and its options are in ublkctl-add(8) TARGETS" {
	local t o bad= doc
	doc=$(man_long_opts "$MAN/ublkctl-add.8")
	for t in $(targets); do
		mandoc -T html "$MAN/ublkctl-add.8" | grep -q "<h2 class=\"Ss\" id=\"$t\"" ||
			{ echo "ublkctl-add.8: no TARGETS subsection '$t'"; bad=1; }
	done
	while read -r t o; do
		[ "$o" = - ] && continue
		grep -qx -- "$t $o" <<<"$doc" ||
			{ echo "ublkctl-add.8: --$o of target $t is not under TARGETS/$t"; bad=1; }
	done < <(help_target_opts)
	[ -z "$bad" ]
}

@test "sync: every global option is in ublkctl(8) and both completions" {
	local o bad= tags b z
	tags=$(man_long_opts "$MAN/ublkctl.8" | awk '{ print $2 }')
	b=$(bash_candidates "ublkctl --")
	z=$(zsh_candidates "ublkctl --")
	for o in $("$UBLKCTL" --help | sed -nE 's/^ (-[[:alnum:]], |    )--([[:alnum:]][[:alnum:]-]*).*/\2/p') list-commands; do
		grep -qx -- "$o" <<<"$tags" || { echo "ublkctl.8: --$o"; bad=1; }
		grep -qx -- "--$o" <<<"$b" || { echo "bash: --$o"; bad=1; }
		grep -qx -- "--$o" <<<"$z" || { echo "zsh: --$o"; bad=1; }
	done
	[ -z "$bad" ]
}

@test "sync: ublkctl(8) lists every command and SEE ALSO every page" {
	local c bad= tags
	tags=$(man_tags "$MAN/ublkctl.8" | awk -F '\t' '$1 == "COMMANDS" { print $3 }')
	for c in $(commands); do
		grep -qx -- "$c" <<<"$tags" || { echo "ublkctl.8: COMMANDS lacks $c"; bad=1; }
		grep -q "ublkctl\\\\-$c (8)" "$MAN/ublkctl.8" ||
			{ echo "ublkctl.8: SEE ALSO lacks ublkctl-$c(8)"; bad=1; }
	done
	[ -z "$bad" ]
}

# ---- columns ----

@test "sync: every output column is documented in OUTPUT COLUMNS" {
	local c col bad= tags
	for c in $(commands); do
		"$UBLKCTL" "$c" --help | grep -q '^Output columns:' || continue
		tags=$(man_tags "$MAN/ublkctl-$c.8" | awk -F '\t' '$1 == "OUTPUT COLUMNS" { print $3 }')
		for col in $(help_columns "$c"); do
			grep -qx -- "$col" <<<"$tags" ||
				{ echo "ublkctl-$c.8: column $col is not documented"; bad=1; }
		done
		for col in $tags; do
			help_columns "$c" | grep -qx -- "$col" ||
				{ echo "ublkctl-$c.8: documents column $col, which '$c --help' does not have"; bad=1; }
		done
	done
	[ -z "$bad" ]
}

@test "sync: list --list-columns agrees with list --help" {
	run "$UBLKCTL" list --list-columns
	[ "$status" -eq 0 ]
	[ "$(cut -f1 <<<"$output")" = "$(help_columns list)" ]
}

# ---- options: --help -> completions ----

@test "sync: bash completion offers every long option of every command" {
	local c o t bad= got
	for c in $(commands); do
		got=$(bash_candidates "ublkctl $c --")
		for o in $(help_long_opts "$c"); do
			grep -qx -- "--$o" <<<"$got" || { echo "bash: $c --$o"; bad=1; }
		done
	done
	# A target's options once -t names it.
	while read -r t o; do
		[ "$o" = - ] && continue
		got=$(bash_candidates "ublkctl add -t $t --")
		grep -qx -- "--$o" <<<"$got" || { echo "bash: add -t $t --$o"; bad=1; }
	done < <(help_target_opts)
	[ -z "$bad" ]
}

@test "sync: zsh completion offers every long option of every command" {
	command -v zsh >/dev/null || skip "no zsh"
	local c o t bad= got
	for c in $(commands); do
		got=$(zsh_candidates "ublkctl $c --")
		for o in $(help_long_opts "$c"); do
			grep -qx -- "--$o" <<<"$got" || { echo "zsh: $c --$o"; bad=1; }
		done
	done
	for t in $(targets); do
		got=$(zsh_candidates "ublkctl add -t $t --")
		for o in $(help_target_opts | awk -v t="$t" '$1 == t && $2 != "-" { print $2 }'); do
			grep -qx -- "--$o" <<<"$got" || { echo "zsh: add -t $t --$o"; bad=1; }
		done
	done
	[ -z "$bad" ]
}

@test "sync: both completions offer every command" {
	local c bad= b z
	b=$(bash_candidates "ublkctl ")
	z=$(zsh_candidates "ublkctl ")
	for c in $(commands); do
		grep -qx -- "$c" <<<"$b" || { echo "bash: $c"; bad=1; }
		grep -qx -- "$c" <<<"$z" || { echo "zsh: $c"; bad=1; }
	done
	[ -z "$bad" ]
}

# ---- uniform --help and bad options ----

# util-linux layout: Usage:, " ublkctl CMD ...", blank, description, blank,
# Options: (aligned, -h/--help last), other sections, blank,
# "See ublkctl-CMD(8)." last.
@test "sync: every command's --help has the same layout" {
	local c bad=
	for c in $(commands); do
		run "$UBLKCTL" "$c" --help
		[ "$status" -eq 0 ] || { echo "$c: exit $status"; bad=1; continue; }
		awk -v c="$c" '
			function fail(m) { print c ": " m; bad = 1 }
			{ l[NR] = $0 }
			END {
				if (l[1] != "Usage:") fail("line 1 is not Usage:")
				if (index(l[2], " ublkctl " c) != 1) fail("line 2 is not \" ublkctl " c " ...\"")
				if (l[3] != "") fail("no blank line after the synopsis")
				if (l[4] == "" || l[4] ~ /^ /) fail("no description on line 4")
				for (i = 4; i <= NR && l[i] != ""; i++) ;
				if (l[i + 1] != "Options:") fail("no Options: after the description")
				col = 0
				for (j = i + 2; j <= NR && l[j] != ""; j++) {
					if (l[j] !~ /^ (-[[:alnum:]], |    )--/) break
					# The help text starts after the widest label.
					if (match(l[j], /[^ ]  +[^ ]/)) {
						p = RSTART + RLENGTH - 1
						if (!col) col = p
						else if (p != col) fail("option help not aligned: \"" l[j] "\"")
					}
					last = l[j]
				}
				if (last !~ /^ -h, --help /) fail("-h, --help is not the last option")
				if (l[NR] != "See ublkctl-" c "(8).") fail("last line is not \"See ublkctl-" c "(8).\"")
				if (l[NR - 1] != "") fail("no blank line before the See line")
				exit bad
			}' <<<"$output" || bad=1
	done
	[ -z "$bad" ]
}

@test "sync: every command rejects an unknown option: exit 2, Try 'ublkctl CMD --help'" {
	local c bad=
	for c in $(commands); do
		run "$UBLKCTL" "$c" --no-such-option
		[ "$status" -eq 2 ] || { echo "$c: exit $status"; bad=1; }
		grep -qx "Try 'ublkctl $c --help'." <<<"$output" ||
			{ echo "$c: no Try line: $output"; bad=1; }
		run "$UBLKCTL" "$c" -Z
		[ "$status" -eq 2 ] || { echo "$c -Z: exit $status"; bad=1; }
	done
	[ -z "$bad" ]
}
