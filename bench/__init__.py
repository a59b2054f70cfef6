"""rpcnet's benchmark harness: rpcnetd against libvirtd and a ceiling server.

Run ``python -m bench`` (a few minutes) or ``python -m bench --quick`` (a
smoke run of a few seconds); see docs/performance.md.
"""
