"""alcyon-notify: deliver alerts to HTTP webhooks and a JSON-lines file, once per alert and sink.

The hooks live in :mod:`alcyon_notify.plugin` (registered under the ``alcyon.plugins``
entry-point group as ``notify``); its docstring documents the configuration.
"""

__version__ = "0.1.0"
