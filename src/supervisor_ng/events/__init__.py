"""Events and event listeners, as stock Supervisor 4.3 has them.

- types.py     the event types, their names and the bodies listeners parse
- bus.py       subscriptions by type and the global serial
- pool.py      one pool's bounded buffer (overflow, re-buffering) and the envelope
- protocol.py  the READY / RESULT listener protocol as a sans-I/O machine
- capture.py   capture mode (XSUPERVISOR tokens) as a sans-I/O filter
- ticks.py     TICK_5/60/3600, timers only while someone subscribes

The I/O side (listener stdin/stdout, wiring into the daemon) is
runtime/listener.py.
"""
