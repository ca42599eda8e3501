"""Logging: child output files, the daemon's own log, syslog, log reading.

Modules: ``rotating`` (size-rotated files), ``mainlog`` (the daemon log),
``ansi`` (escape stripping), ``syslog_out`` (child lines to syslog),
``paths`` (AUTO log names and clean-up), ``reader`` (read/tail for the RPC).
"""
