# bash completion for rpcnet: commands, --options and network names.
# Install: rpcnet completion bash > ~/.local/share/bash-completion/completions/rpcnet
# (or: source <(rpcnet completion bash) in ~/.bashrc).
# Names come from the hosts given with -c/--hosts on the line being typed:
# rpcnet asks them itself (rpcnet --complete), for at most a few seconds.

_rpcnet_complete()
{
    local IFS=$'\n'
    COMPREPLY=($("$1" --complete bash "${COMP_LINE:0:COMP_POINT}" "$2" 2>/dev/null))
    # a directory: let the path go on without a blank
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -F _rpcnet_complete rpcnet
