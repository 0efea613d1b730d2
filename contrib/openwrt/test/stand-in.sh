# A small stand-in for the parts of OpenWrt's /lib/functions.sh and procd.sh that
# files/ucarp.init uses, to test its UCI-to-command-line translation off a router:
# config_load, config_foreach, config_get, config_get_bool, config_list_foreach, and
# procd_open_instance/procd_set_param/procd_append_param/procd_close_instance, which
# print each instance as "NAME: COMMAND...", an argument with a space or a special
# character in single quotes. UCI files are read from $UCI_CONFIG_DIR; an unnamed
# section gets a generated cfgNNNNNN name, as uci gives one. Sourced by test/translate.sh; POSIX sh.

_sections=""

# config_load NAME: reads $UCI_CONFIG_DIR/NAME (config/option/list lines, values in
# single or double quotes or bare) into variables, as uci does.
config_load() {
	local file="$UCI_CONFIG_DIR/$1" code
	code=$(awk '
		function unq(s) { gsub(/^["\x27]|["\x27]$/, "", s); return s }
		/^[ \t]*(#|$)/ { next }
		{
			kind = $1; name = unq($2)
			if (kind == "config" && NF < 3) { anon++; $0 = $0 " cfg" sprintf("%06x", anon) }
			value = $0; sub(/^[ \t]*[a-z]+[ \t]+[^ \t]+[ \t]*/, "", value); value = unq(value)
			gsub(/\x27/, "\x27\\\x27\x27", value)
			if (kind == "config") { split(value, words, /[ \t]+/); printf "_section %s %s\n", name, unq(words[1]) }
			else printf "_%s %s \x27%s\x27\n", kind, name, value
		}' "$file") || return 1
	eval "$code"
}
_section() { # TYPE NAME
	_current=$2
	_sections="$_sections $2"
	eval "_type_$2=\$1"
}
_option() { eval "_opt_${_current}_$1=\$2"; }
_list() {
	local n
	eval "n=\${_len_${_current}_$1:-0}"
	n=$((n + 1))
	eval "_len_${_current}_$1=$n; _item_${_current}_$1_$n=\$2"
}

config_foreach() { # FUNCTION TYPE
	local _cf_s _cf_t
	for _cf_s in $_sections; do
		eval "_cf_t=\$_type_$_cf_s"
		[ "$_cf_t" = "$2" ] && "$1" "$_cf_s"
	done
	return 0
}
# (Locals have names no caller uses: the callers' variable names are passed in.)
config_get() { # VAR SECTION OPTION [DEFAULT]
	local _cg_value
	eval "_cg_value=\${_opt_$2_$3-}"
	[ -n "$_cg_value" ] || _cg_value=${4-}
	eval "$1=\$_cg_value"
}
config_get_bool() { # VAR SECTION OPTION [DEFAULT]
	local _cgb_value
	config_get _cgb_value "$2" "$3" "${4-}"
	# As OpenWrt's: these words and nothing else; anything else is the default.
	case "$_cgb_value" in
		1|on|true|yes|enabled) _cgb_value=1 ;;
		0|off|false|no|disabled) _cgb_value=0 ;;
		*) _cgb_value=${4:-0} ;;
	esac
	eval "$1=\$_cgb_value"
}
config_list_foreach() { # SECTION OPTION FUNCTION ARGS...
	local _cl_s=$1 _cl_o=$2 _cl_f=$3 _cl_n _cl_i _cl_v
	shift 3
	eval "_cl_n=\${_len_${_cl_s}_${_cl_o}:-0}"
	_cl_i=1
	while [ "$_cl_i" -le "$_cl_n" ]; do
		eval "_cl_v=\$_item_${_cl_s}_${_cl_o}_$_cl_i"
		"$_cl_f" "$_cl_v" "$@"
		_cl_i=$((_cl_i + 1))
	done
}

procd_open_instance() { _instance=$1; _command=""; }
_quote() {
	case "$1" in
		*[!A-Za-z0-9_./:@=+-]*|"") printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
		*) printf '%s' "$1" ;;
	esac
}
procd_set_param() {
	[ "$1" = command ] || return 0
	shift
	_command=""
	procd_append_param command "$@"
}
procd_append_param() {
	[ "$1" = command ] || return 0
	shift
	local _pa
	for _pa in "$@"; do
		_command="$_command${_command:+ }$(_quote "$_pa")"
	done
}
procd_close_instance() { echo "$_instance: $_command"; }
procd_add_reload_trigger() { :; }
