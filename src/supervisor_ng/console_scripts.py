"""The console scripts: each says first whether the stock distribution is
installed beside us (:mod:`.stock_clash`), then runs its command, imported
only then so that the warning comes even when the command cannot start."""

from __future__ import annotations

from .stock_clash import warn_at_start


def supervisord() -> None:
    warn_at_start()
    from .daemon import main

    main()


def supervisorctl() -> None:
    warn_at_start()
    from .ctl.main import main

    main()


def echo_supervisord_conf() -> int:
    warn_at_start()
    from .config.sample import main

    return main()
