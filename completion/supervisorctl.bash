# bash completion for supervisorctl (supervisor-ng)
#
# Completes options, actions, and for actions that take them, process names
# (group:name, group:*) or group names, asked from the running daemon with the
# same -c/-s/-u/-p options as the command line being completed.

_supervisorctl_server_args() {
    # The connection options already on the line, passed on to our queries.
    local i word
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        case "$word" in
            -c | -s | -u | -p | --configuration | --serverurl | --username | --password)
                printf '%s\n' "$word" "${COMP_WORDS[i + 1]}"
                ((i++))
                ;;
            --configuration=* | --serverurl=* | --username=* | --password=*)
                printf '%s\n' "$word"
                ;;
        esac
    done
}

_supervisorctl_names() {
    # $1: "processes" or "groups".  Names from `status`, which lists every
    # process as its first word, group:name for a group of several.
    local -a server
    mapfile -t server < <(_supervisorctl_server_args)
    "${COMP_WORDS[0]}" "${server[@]}" status 2>/dev/null | awk -v want="$1" '
        NF == 0 || $1 ~ /^(error|unix|http)/ { next }
        {
            n = split($1, part, ":")
            if (want == "groups") { if (!seen[part[1]]++) print part[1]; next }
            print $1
            if (n == 2 && !seen[part[1]]++) print part[1] ":*"
        }'
}

_supervisorctl() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD - 1]}"
    # bash breaks "grp:name" into words at the colon (COMP_WORDBREAKS); the
    # word being completed is whatever precedes the cursor since the last blank.
    if [ -n "${COMP_LINE:-}" ]; then
        cur="${COMP_LINE:0:${COMP_POINT:-${#COMP_LINE}}}"
        cur="${cur##*[[:space:]]}"
    fi
    local actions="add avail clear exit fg help maintail open pid quit reload remove
        reread restart shutdown signal start status stop tail update version"
    local options="-c --configuration -h --help -i --interactive -s --serverurl
        -u --username -p --password -r --history_file"

    case "$prev" in
        -c | --configuration | -r | --history_file)
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return
            ;;
        -s | --serverurl | -u | --username | -p | --password)
            return
            ;;
    esac

    # The action is the first word that is neither an option nor its value.
    local i action="" word
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        case "$word" in
            -c | -s | -u | -p | -r | --configuration | --serverurl | --username | --password | --history_file) ((i++)) ;;
            -*) ;;
            *) action="$word"; break ;;
        esac
    done

    if [ -z "$action" ]; then
        if [[ "$cur" == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$actions" -- "$cur")
        fi
        return
    fi

    local names
    case "$action" in
        help) names="$actions" ;;
        add | remove | update) names="$(_supervisorctl_names groups)" ;;
        clear | fg | pid | restart | signal | start | status | stop | tail)
            names="$(_supervisorctl_names processes)"
            [[ "$action" != fg && "$action" != pid ]] && names+=" all"
            ;;
        *) return ;;
    esac
    mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur")
    # bash replaces only the part after the colon: hand back just that part.
    if [[ "$cur" == *:* && "${COMP_WORDBREAKS:-}" == *:* ]]; then
        local prefix="${cur%"${cur##*:}"}"
        COMPREPLY=("${COMPREPLY[@]#"$prefix"}")
    fi
}

complete -F _supervisorctl supervisorctl
