# SPDX-License-Identifier: GPL-2.0
# bash completion for ublkctl(8).
#
# Options are listed here, per command (tests/cli/sync.bats checks them
# against `ublkctl CMD --help`). The words that change with the system or
# the build come from the binary being completed: commands from
# `--list-commands`, device ids from `list -r --noheadings -o ID`, columns
# from `list --list-columns` (or a command's "Output columns:" help
# section), targets from the "Targets:" section of `add --help`.

# The options of each command, and of each target of add.
_ublkctl_opts_add='--type --id --queues --depth --nthreads --size
	--logical-block-size --physical-block-size --max-io-size --read-only
	--recovery --copy --user-copy --zero-copy --auto-zc --auto-zc-fallback --batch
	--per-io-tasks --get-data --unprivileged --no-part-scan --foreground
	--recover-existing --shmem-zc --shmem-ro --io-desc-size --integrity --help'
_ublkctl_opts_add_null=''
_ublkctl_opts_add_loop='--file --buffered --offset --integrity-file'
_ublkctl_opts_add_stripe='--file --chunk-size --buffered'
_ublkctl_opts_add_fault='--delay-us --fail-every --exit-after'
_ublkctl_opts_add_nbd='--uri --reconnect-timeout --libnbd-io'
_ublkctl_opts_add_zoned='--file --zone-size --conv-zones --max-open-zones
	--max-active-zones'
_ublkctl_opts_del='--id --all --force --async --timeout --keep-recoverable
	--help'
_ublkctl_opts_list='--id --output --json --raw --noheadings --bytes
	--list-columns --help'
_ublkctl_opts_features='--add-options --output --json --raw --noheadings
	--help'
_ublkctl_opts_resize='--id --size --help'
_ublkctl_opts_stop='--id --safe --help'
_ublkctl_opts_quiesce='--id --timeout --help'
_ublkctl_opts_recover='--id --help'
_ublkctl_opts_help='--help'
_ublkctl_global_opts='--debug --help --version --list-commands'

# Device ids: from the driver, or from sysfs when the control device is
# not ours to open.
_ublkctl_ids()
{
	local ids
	ids=$("$1" list -r --noheadings -o ID 2>/dev/null) ||
		ids=$(cd /sys/class/ublk-char 2>/dev/null &&
			printf '%s\n' ublkc[0-9]* | sed -n 's/^ublkc//p')
	printf '%s\n' "$ids"
}

# Column names of a table command: `CMD --list-columns` (NAME<TAB>help),
# else the "Output columns:" section of `CMD --help`.
_ublkctl_columns()
{
	local cols
	cols=$("$1" "$2" --list-columns 2>/dev/null) &&
		{ printf '%s\n' "$cols" | cut -f1; return; }
	"$1" "$2" --help 2>/dev/null |
		sed -n '/^Output columns:/,/^$/{/^ /s/^ *\([^ ]*\).*/\1/p}'
}

# Target names: the "Targets:" section of `add --help` (one " name  ..."
# line per target; indented deeper lines are its options).
_ublkctl_targets()
{
	"$1" add --help 2>/dev/null |
		sed -n '/^Targets:/,/^$/s/^ \{1,2\}\([a-z][a-z0-9_-]*\)\( .*\)\{0,1\}$/\1/p'
}

# The target named on an add command line, if any.
_ublkctl_add_target()
{
	local i w
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-t | --type) echo "${COMP_WORDS[i + 1]}"; return ;;
		--type=*) echo "${w#--type=}"; return ;;
		-t?*) echo "${w#-t}"; return ;;
		esac
	done
}

# Complete a comma-separated column list, keeping what is already typed
# (and a leading '+').
_ublkctl_complete_columns()
{
	local bin=$1 cmd=$2 cur=$3 prefix=
	[[ $cur == *,* ]] && prefix=${cur%,*},
	[[ -z $prefix && $cur == +* ]] && prefix=+
	local word=${cur#"$prefix"} IFS=$'\n'
	COMPREPLY=($(compgen -P "$prefix" -W "$(_ublkctl_columns "$bin" "$cmd")" -- "$word"))
	compopt -o nospace 2>/dev/null
}

_ublkctl()
{
	local cur prev words cword split=false
	if declare -F _init_completion >/dev/null; then
		_init_completion -s -n : || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi
	local bin=${words[0]} cmd= i

	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$_ublkctl_global_opts" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$("$bin" --list-commands 2>/dev/null)" -- "$cur"))
		fi
		return
	fi

	# The argument of an option.
	case $cmd:$prev in
	*:-n | *:--id)
		[[ $cmd == add ]] && return
		COMPREPLY=($(compgen -W "$(_ublkctl_ids "$bin")" -- "$cur"))
		return ;;
	*:-o | *:--output)
		_ublkctl_complete_columns "$bin" "$cmd" "$cur"
		[[ $cur == *:* ]] && declare -F __ltrim_colon_completions >/dev/null &&
			__ltrim_colon_completions "$cur"
		return ;;
	add:-t | add:--type)
		COMPREPLY=($(compgen -W "$(_ublkctl_targets "$bin")" -- "$cur"))
		return ;;
	add:--recovery)
		# An optional argument: only in the --recovery=MODE form.
		if $split; then
			COMPREPLY=($(compgen -W 'requeue reissue fail-io' -- "$cur"))
			return
		fi ;;
	add:-f | add:--file | add:--shmem-zc | add:--integrity-file)
		if declare -F _filedir >/dev/null; then _filedir; else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return ;;
	add:-q | add:--queues | add:-d | add:--depth | add:--nthreads | \
	add:-s | add:--size | add:--logical-block-size | \
	add:--physical-block-size | add:--max-io-size | add:--io-desc-size | \
	add:--offset | \
	add:--delay-us | add:--fail-every | add:--exit-after | add:-u | add:--uri | \
	add:--reconnect-timeout | add:--integrity | resize:-s | resize:--size | \
	del:--timeout | quiesce:--timeout)
		return ;;
	esac

	if [[ $cmd == help ]]; then
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "$_ublkctl_opts_help" -- "$cur")) ||
			COMPREPLY=($(compgen -W "$("$bin" --list-commands 2>/dev/null)" -- "$cur"))
		return
	fi

	local v=_ublkctl_opts_$cmd opts
	[[ $v =~ ^[a-z_]+$ ]] || return
	opts=${!v}
	if [[ $cmd == add ]]; then
		local t
		t=$(_ublkctl_add_target)
		if [[ -n $t ]]; then
			v=_ublkctl_opts_add_${t//-/_}
			[[ $v =~ ^[a-z_]+$ ]] && opts+=" ${!v}"
		else
			# every target's, each once (targets share --file)
			opts+=" $(printf '%s\n' $_ublkctl_opts_add_loop \
				$_ublkctl_opts_add_stripe $_ublkctl_opts_add_fault \
				$_ublkctl_opts_add_nbd $_ublkctl_opts_add_zoned |
				awk '!seen[$0]++')"
		fi
	fi
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _ublkctl ublkctl
