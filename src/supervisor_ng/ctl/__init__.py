"""supervisorctl: talk to a running supervisord over XML-RPC.

The printed text and the exit codes are an interface that scripts parse, so
they follow Supervisor 4.3's ``supervisorctl`` exactly; the code is our own.
Start-up cost matters (it runs once per command in shell scripts and health
checks), so modules here import little and late.
"""
