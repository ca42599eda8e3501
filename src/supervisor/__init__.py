"""supervisor-ng's listener-side library, importable as ``supervisor``.

Event listeners and the tools built on them (superlance's httpok, memmon and
crashmail, supervisor-checks) import a handful of modules from the stock
package: ``supervisor.childutils`` and the few names it and they use
(``states``, ``options.make_namespec``, ``datatypes.byte_size``,
``xmlrpc.SupervisorTransport``, ``compat.httplib``/``xmlrpclib``).  They are provided here, written for
supervisor-ng, so those tools run in an environment that has supervisor-ng
and not the stock distribution, whose console scripts would replace ours.

Install a tool without its declared dependency on the stock package::

    pip install --no-deps superlance

Only the standard library and supervisor-ng's own light modules are used:
a listener starts as fast as it did with the stock package.
"""
