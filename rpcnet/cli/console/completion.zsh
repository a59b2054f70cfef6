#compdef rpcnet
# zsh completion for rpcnet: commands, --options and network names.
# Install: rpcnet completion zsh > "${fpath[1]}/_rpcnet" (before compinit runs),
# or: source <(rpcnet completion zsh) in ~/.zshrc after compinit.
# Names come from the hosts given with -c/--hosts on the line being typed:
# rpcnet asks them itself (rpcnet --complete), for at most a few seconds.

_rpcnet()
{
    local -a found dirs others
    found=("${(@f)$("${words[1]}" --complete zsh "${BUFFER[1,CURSOR]}" 2>/dev/null)}")
    dirs=(${(M)found:#*/})
    others=(${found:#*/})
    (( ${#dirs} )) && compadd -S '' -- "${dirs[@]}"
    (( ${#others} )) && compadd -- "${others[@]}"
    return 0
}

if [[ $funcstack[1] == _rpcnet ]]; then
    _rpcnet "$@"
else
    compdef _rpcnet rpcnet
fi
